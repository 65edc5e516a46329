"""The noise a source in an image sits in: the residual's robust rms in boxes a few beams wide.

A snapshot of a sparse array is limited near bright sources by their sidelobes and by what cleaning left of
them, not by the thermal noise alone; the image's global rms understates the error there and overstates it
in quiet corners. The box is many beams wide so that a box's statistics are not one source's residual.
"""

from __future__ import annotations

import math

import numpy as np


def local_rms_map(residual: np.ndarray, header, *, box_beams: float) -> np.ndarray:
    """Robust rms (sigma-clipped MAD) of ``residual`` in square boxes ``box_beams`` restoring-beam major axes
    wide, interpolated to every pixel (NaN where the residual is blank)."""
    from astropy.stats import SigmaClip
    from photutils.background import Background2D, MADStdBackgroundRMS, MedianBackground

    box_px = max(8, math.ceil(box_beams * header["BMAJ"] / abs(header["CDELT2"])))
    box_px = min(box_px, *residual.shape)
    blank = ~np.isfinite(residual)
    background = Background2D(residual, box_px, coverage_mask=blank if blank.any() else None, fill_value=np.nan,
                              exclude_percentile=50, sigma_clip=SigmaClip(sigma=3.0),
                              bkg_estimator=MedianBackground(), bkg_rms_estimator=MADStdBackgroundRMS())
    return background.background_rms
