"""The DSA-110 primary beam: an Airy pattern of a 4.65 m dish pointed at the meridian."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pyuvdata.analytic_beam import AiryBeam


def meridian_pointing_enu(dec_deg: float, lat_deg: float) -> np.ndarray:
    """Unit vector (East, North, Up) of hour angle 0 at declination ``dec_deg``."""
    d = np.deg2rad(dec_deg - lat_deg)
    return np.array([0.0, np.sin(d), np.cos(d)])


@dataclass(kw_only=True, eq=False)
class MeridianAiryBeam(AiryBeam):
    """pyuvdata's Airy beam, centred on the meridian at a declination instead of the zenith.

    pyuvdata measures azimuth from East towards North; the beam is evaluated at the angular
    distance from the pointing direction.
    """

    dec_deg: float
    lat_deg: float

    def _efield_eval(self, *, az_grid, za_grid, f_grid):
        pointing = meridian_pointing_enu(self.dec_deg, self.lat_deg)
        cos_sep = (np.sin(za_grid) * np.cos(az_grid) * pointing[0]
                   + np.sin(za_grid) * np.sin(az_grid) * pointing[1]
                   + np.cos(za_grid) * pointing[2])
        separation = np.arccos(np.clip(cos_sep, -1.0, 1.0))
        return super()._efield_eval(az_grid=az_grid, za_grid=separation, f_grid=f_grid)
