"""DSA-110 continuum imaging pipeline: the science code behind the Snakemake workflow."""

__version__ = "0.1.0"

from astropy.utils import iers as _iers

# No network at run time: use the IERS tables bundled with astropy-iers-data, never download them.
_iers.conf.auto_download = False
_iers.conf.iers_degraded_accuracy = "warn"
