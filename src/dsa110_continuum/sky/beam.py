"""The DSA-110 primary beam: pyuvdata's Airy pattern of a 4.65 m dish, pointed at the meridian.

The dishes do not track: a source drifts through the beam during an observation, so its response
is the beam along its track (``beam_along_track``), not the beam at one position.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from pyuvdata.analytic_beam import AiryBeam

from .. import instrument as inst
from .coords import offset_from_meridian_pointing_rad


@lru_cache(maxsize=1)
def dish_beam() -> AiryBeam:
    return AiryBeam(diameter=inst.DISH_DIAMETER_M)


def airy_power(offset_rad, freqs_hz) -> np.ndarray:
    """Power response (1 on axis) at angles from the beam centre, shape ``offset.shape + (Nfreq,)``."""
    offset = np.asarray(offset_rad, dtype=float)
    freqs = np.atleast_1d(np.asarray(freqs_hz, dtype=float))
    if np.any(~(freqs > 0)):
        raise ValueError("freqs_hz must be positive")
    za = np.abs(offset.ravel())
    power = dish_beam().power_eval(az_array=np.zeros_like(za), za_array=za, freq_array=freqs)[0, 0].real
    return power.T.reshape(offset.shape + (freqs.size,))


def beam_along_track(ra_deg: float, dec_deg: float, pointing_dec_deg: float, mjd_utc, freqs_hz) -> np.ndarray:
    """Beam power at an ICRS position as it drifts through the meridian beam, shape (Ntime, Nfreq)."""
    offset = offset_from_meridian_pointing_rad(ra_deg, dec_deg, pointing_dec_deg, mjd_utc)[:, 0]
    return airy_power(offset, freqs_hz)


def band_averaged_power(offset_rad, freqs_hz, freq_weights=None, *, n_samples: int = 1500) -> np.ndarray:
    """The beam power averaged over the band (weighted per channel) at angles from the beam centre.

    Evaluated on a fine grid of angles up to the largest asked for and interpolated: the profile is
    smooth on the 0.1 deg scale, and this costs ``n_samples x Nfreq`` Airy evaluations whatever the
    number of positions.
    """
    offset = np.abs(np.asarray(offset_rad, dtype=float))
    freqs = np.atleast_1d(np.asarray(freqs_hz, dtype=float))
    weights = np.ones(freqs.size) if freq_weights is None else np.asarray(freq_weights, dtype=float)
    if not weights.sum() > 0:
        raise ValueError("the frequency weights sum to zero (all data flagged?)")
    grid = np.linspace(0.0, max(float(offset.max(initial=0.0)), 1e-6), n_samples)
    profile = airy_power(grid, freqs) @ (weights / weights.sum())
    return np.interp(offset, grid, profile)


def drift_beam(ra_deg, dec_deg, pointing_dec_deg: float, times_mjd, freqs_hz, *, time_weights=None,
               freq_weights=None) -> np.ndarray:
    """The primary beam an observation saw at ICRS positions: the meridian beam averaged over its drift.

    The dishes stay at hour angle 0 while the sky drifts through the beam, so each position's response
    is the Airy power along its track, averaged over the integrations (``time_weights``) and over the
    band as the imager weights it (``freq_weights``). Returns an array of the positions' shape.
    """
    ra, dec = np.broadcast_arrays(np.asarray(ra_deg, dtype=float), np.asarray(dec_deg, dtype=float))
    times = np.atleast_1d(np.asarray(times_mjd, dtype=float))
    weights = np.ones(times.size) if time_weights is None else np.asarray(time_weights, dtype=float)
    if not weights.sum() > 0:
        raise ValueError("the integration weights sum to zero (all data flagged?)")
    offsets = offset_from_meridian_pointing_rad(ra.ravel(), dec.ravel(), pointing_dec_deg, times)  # (T, S)
    power = band_averaged_power(offsets, freqs_hz, freq_weights)
    return (weights / weights.sum() @ power).reshape(ra.shape)


def meridian_pointing_enu(dec_deg: float, lat_deg: float) -> np.ndarray:
    """Unit vector (East, North, Up) of hour angle 0 at declination ``dec_deg``."""
    d = np.deg2rad(dec_deg - lat_deg)
    return np.array([0.0, np.sin(d), np.cos(d)])


@dataclass(kw_only=True, eq=False)
class MeridianAiryBeam(AiryBeam):
    """pyuvdata's Airy beam, centred on the meridian at a declination instead of the zenith (for matvis).

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
