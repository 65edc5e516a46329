"""Read CASA calibration tables with python-casacore (never import casatools here)."""

from __future__ import annotations

import os

from ..records import InputError


class CalibrationTableError(InputError):
    """A calibration table that is missing, unreadable or empty; the message names it."""


def read_caltable(path: str) -> dict:
    """Solutions of a CASA caltable: antenna, time, channel frequencies, gains (Nrow, Nchan, Npol) and flags."""
    from casacore import tables

    if not os.path.isdir(path):
        raise CalibrationTableError(f"{path}: calibration table does not exist")
    try:
        with tables.table(path, ack=False) as tb:
            if tb.nrows() == 0:
                raise CalibrationTableError(f"{path}: calibration table is empty")
            solutions = {"antenna": tb.getcol("ANTENNA1"), "time_s": tb.getcol("TIME"),
                         "gain": tb.getcol("CPARAM"), "flag": tb.getcol("FLAG")}
        with tables.table(f"{path}/SPECTRAL_WINDOW", ack=False) as spw:
            solutions["freqs_hz"] = spw.getcol("CHAN_FREQ")[0]
    except RuntimeError as err:
        raise CalibrationTableError(f"{path}: calibration table cannot be read ({err})") from err
    return solutions
