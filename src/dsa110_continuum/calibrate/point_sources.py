"""Model visibilities of known point sources as the telescope saw them: each source's spectrum times the beam it
drifts through, at its geometric delay from the phase centre in every integration (MS convention).

The calibrator's solve models its field with them (``extract``); applying calibration takes known sources out of the
data with them (``apply``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from .. import instrument as inst
from ..convert.stream import Block, Observation
from ..sky.beam import airy_power
from ..sky.coords import offset_from_meridian_pointing_rad

SPEED_OF_LIGHT_M_S = inst.SPEED_OF_LIGHT_M_S


@dataclass(frozen=True)
class PointSources:
    """ICRS positions (deg), 1.4 GHz fluxes (Jy) and spectral indices (one, or one per source)."""

    ra_deg: np.ndarray
    dec_deg: np.ndarray
    flux_jy: np.ndarray
    spectral_index: np.ndarray | float

    def __post_init__(self):
        for name in ("ra_deg", "dec_deg", "flux_jy"):
            object.__setattr__(self, name, np.atleast_1d(np.asarray(getattr(self, name), dtype=float)))
        alpha = np.broadcast_to(np.asarray(self.spectral_index, dtype=float), self.flux_jy.shape)
        object.__setattr__(self, "spectral_index", alpha)

    def subset(self, keep) -> PointSources:
        return PointSources(self.ra_deg[keep], self.dec_deg[keep], self.flux_jy[keep], self.spectral_index[keep])

    @staticmethod
    def concatenate(*parts: PointSources) -> PointSources:
        return PointSources(*(np.concatenate([getattr(p, key) for p in parts])
                              for key in ("ra_deg", "dec_deg", "flux_jy", "spectral_index")))


def pointing_dec_deg(observation: Observation) -> float:
    return float(np.rad2deg(observation.layout.headers[0].fringestop_dec_rad))


def beam_offsets_rad(observation: Observation, sources: PointSources) -> np.ndarray:
    """Each source's angle from the beam centre in each integration, (Ntime, Nsource)."""
    if not sources.flux_jy.size:
        return np.zeros((observation.n_time, 0))
    return offset_from_meridian_pointing_rad(sources.ra_deg, sources.dec_deg, pointing_dec_deg(observation),
                                             observation.times_mjd)


def apparent_flux_jy(observation: Observation, sources: PointSources) -> np.ndarray:
    """Each source's flux through the beam in each integration and channel, (Nsource, Ntime, Nchan)."""
    freqs_hz = observation.freqs_hz
    relative_freq = freqs_hz[None, :] / inst.REFERENCE_FREQ_HZ
    spectrum = sources.flux_jy[:, None] * relative_freq ** sources.spectral_index[:, None]
    return airy_power(beam_offsets_rad(observation, sources).T, freqs_hz) * spectrum[:, None, :]


def visibility_model(observation: Observation, sources: PointSources, amplitude_jy: np.ndarray):
    """A function giving a block's model visibilities, shape (rows, channels), of point sources with the given
    amplitudes (Nsource, Ntime, Nchan); the same in every polarisation (XX and YY of an unpolarised sky)."""
    from pyuvdata.utils.phasing import calc_app_coords, calc_uvw

    uvd = observation.uvd
    lat_rad, lon_rad, _ = uvd.telescope.location_lat_lon_alt
    first_rows_jd = uvd.time_array[observation.first_rows]  # rows are whole integrations, in time order
    delays = []
    for ra_deg, dec_deg in zip(sources.ra_deg, sources.dec_deg):
        app_ra, app_dec = calc_app_coords(lon_coord=np.deg2rad(ra_deg), lat_coord=np.deg2rad(dec_deg),
                                          coord_frame="icrs", coord_epoch=2000.0, time_array=first_rows_jd,
                                          lst_array=uvd.lst_array[observation.first_rows],
                                          telescope_loc=uvd.telescope.location, all_times_unique=True)
        w_m = calc_uvw(app_ra=np.repeat(app_ra, observation.n_bl), app_dec=np.repeat(app_dec, observation.n_bl),
                       frame_pa=np.zeros(uvd.Nblts), lst_array=uvd.lst_array, use_ant_pos=True,
                       antenna_positions=uvd.telescope.antenna_positions,
                       antenna_numbers=uvd.telescope.antenna_numbers, ant_1_array=uvd.ant_1_array,
                       ant_2_array=uvd.ant_2_array, telescope_lat=lat_rad, telescope_lon=lon_rad)[:, 2]
        delays.append(w_m - uvd.uvw_array[:, 2])
    delays, amplitude_jy = np.array(delays).reshape(-1, uvd.Nblts), np.ascontiguousarray(amplitude_jy)
    freq0_hz, width_hz = observation.freqs_hz[0], observation.freqs_hz[1] - observation.freqs_hz[0]

    def model(block: Block) -> np.ndarray:
        rows = slice(block.start_row, block.start_row + block.data.shape[0])
        stokes_i = np.zeros(block.data.shape[:2], dtype=np.complex128)
        _add_point_sources(stokes_i, np.ascontiguousarray(delays[:, rows]), amplitude_jy, block.time_index,
                           freq0_hz, width_hz)
        return stokes_i

    return model


@numba.njit(parallel=True, cache=True)
def _add_point_sources(out, delay_m, amplitude, time_index, freq0_hz, width_hz):
    """out[r, c] += sum_k amplitude[k, t(r), c] exp(-2 pi i delay_k(r) f_c / c), advancing the phasor per channel."""
    for r in numba.prange(out.shape[0]):
        t = time_index[r]
        for k in range(delay_m.shape[0]):
            scale = -2.0 * np.pi * delay_m[k, r] / SPEED_OF_LIGHT_M_S
            phasor = np.exp(1j * scale * freq0_hz)
            advance = np.exp(1j * scale * width_hz)
            for c in range(out.shape[1]):
                out[r, c] += amplitude[k, t, c] * phasor
                phasor *= advance
