"""Flag RFI in a (staged) calibrated Measurement Set, with the flagger the configuration names."""

from __future__ import annotations

import subprocess
import sys

import numpy as np

FLAGGERS = ("aoflagger", "tfcrop", "rflag", "none")


def _cross_flag_fraction(flags: np.ndarray, cross: np.ndarray) -> float:
    return float(flags[cross].mean()) if cross.any() else 1.0


def flag_ms(ms_path: str, flagger: str, *, processes: int = 1, log_path: str | None = None) -> dict:
    """Flag ``ms_path`` in place; returns the flagger and the flagged fraction of cross-correlations
    before and after. CASA's modes run in a CASA process of their own."""
    from casacore import tables

    with tables.table(ms_path, ack=False) as ms:
        n_time = np.unique(ms.getcol("TIME")).size
        cross = ms.getcol("ANTENNA1") != ms.getcol("ANTENNA2")
        before = ms.getcol("FLAG")
    if flagger == "aoflagger":
        from .aoflagger import flag_observation

        with tables.table(ms_path, ack=False) as ms:
            vis, uvw = ms.getcol("DATA"), ms.getcol("UVW")
        after = flag_observation(vis, before, n_time, processes=processes, uvw=uvw)
        with tables.table(ms_path, readonly=False, ack=False) as ms:
            ms.putcol("FLAG", after)
    elif flagger in ("tfcrop", "rflag"):
        with open(log_path or "/dev/null", "a") as log:
            subprocess.run([sys.executable, "-m", "dsa110_continuum.casa", "flag", ms_path, "--mode", flagger],
                           stdout=log, stderr=subprocess.STDOUT, check=True)
        with tables.table(ms_path, ack=False) as ms:
            after = ms.getcol("FLAG")
    elif flagger == "none":
        after = before
    else:
        raise ValueError(f"unknown flagger {flagger!r}; one of {', '.join(FLAGGERS)}")
    return {"flagger": flagger, "flagged_fraction_before": _cross_flag_fraction(before, cross),
            "flagged_fraction": _cross_flag_fraction(after, cross)}
