# CASA site configuration used by every CASA process of the workflow: measures data from the
# casadata wheel, no automatic updates, no network, and no casa-*.log files in the working directory.
import os as _os

import casadata as _casadata

measurespath = _casadata.datapath
datapath = [_casadata.datapath]
measures_auto_update = False
data_auto_update = False
skipnetworkcheck = True
nologfile = True
logfile = _os.devnull
