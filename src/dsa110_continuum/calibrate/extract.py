"""A calibrator observation phased straight to the calibrator and averaged in time, from the raw files.

With the calibrator at the phase centre its visibilities stay coherent over the whole observation, so
one averaged integration per baseline carries all its signal: the solve reads 24 times less data.

The other sources in the field can be modelled beside it (``FieldSources``): solved against the calibrator
alone, the gains absorb part of whatever the model lacks, and applied to the same observation they take that
part out of its field sources (measured: 4.5 % of their flux with 24 antennas, ~12 % with 12).
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from .. import instrument as inst
from ..convert.stream import Observation, write_time_averaged_ms
from ..formats.ms import FIELD_MODEL_COLUMN
from ..sky.beam import airy_power
from ..sky.coords import angular_separation_deg, offset_from_meridian_pointing_rad
from ..sky.catalogue import Calibrator

SPEED_OF_LIGHT_M_S = inst.SPEED_OF_LIGHT_M_S


@dataclass(frozen=True)
class FieldSources:
    """Point sources (ICRS degrees, 1.4 GHz Jy) to model beside the calibrator, with one spectral index."""

    ra_deg: np.ndarray
    dec_deg: np.ndarray
    flux_jy: np.ndarray
    spectral_index: float
    min_apparent_flux_jy: float  # sources fainter than this through the beam at mid-observation are left out


def field_sources_around(calibrator: Calibrator, ra_deg, dec_deg, flux_jy, *, match_radius_arcsec: float,
                         spectral_index: float, min_apparent_flux_jy: float) -> FieldSources:
    """A reference catalogue's sources as the calibrator's field, without the calibrator itself (any source
    within ``match_radius_arcsec`` of it, which the solve models on its own)."""
    ra_deg, dec_deg, flux_jy = (np.asarray(a, dtype=float) for a in (ra_deg, dec_deg, flux_jy))
    others = angular_separation_deg(ra_deg, dec_deg, calibrator.ra_deg, calibrator.dec_deg) * 3600 > match_radius_arcsec
    return FieldSources(ra_deg[others], dec_deg[others], flux_jy[others], spectral_index, min_apparent_flux_jy)


def extract_calibrator(paths: list[str], ms_path, calibrator: Calibrator, *, n_subbands: int,
                       integrations_per_block: int = 2, threads: int = 1,
                       field_sources: FieldSources | None = None) -> dict:
    """Write the time-averaged MS phased to ``calibrator``; returns its record (with the number of field
    sources modelled, when ``field_sources`` are given)."""
    observation = Observation(paths, n_subbands=n_subbands, threads=threads,
                              phase_centre=(calibrator.name, calibrator.ra_deg, calibrator.dec_deg))
    model, n_modelled = (None, 0) if field_sources is None else _field_model(observation, field_sources)
    write_time_averaged_ms(observation, ms_path, observation.blocks(integrations_per_block),
                           model=(FIELD_MODEL_COLUMN, model) if model else None)
    return observation.record() | ({} if field_sources is None else {"n_field_sources_modelled": n_modelled})


def _field_model(observation: Observation, sources: FieldSources):
    """A function giving a block's model visibilities (MS convention) of the sources bright enough (None if
    none is), and their number: each source's spectrum times the beam it drifts through, at its geometric
    delay from the phase centre in every integration."""
    from pyuvdata.utils.phasing import calc_app_coords, calc_uvw

    uvd = observation.uvd
    times_mjd, freqs_hz = observation.times_mjd, observation.freqs_hz
    pointing_dec_deg = np.rad2deg(observation.layout.headers[0].fringestop_dec_rad)
    spectrum = (freqs_hz / inst.REFERENCE_FREQ_HZ) ** sources.spectral_index
    offsets_rad = offset_from_meridian_pointing_rad(sources.ra_deg, sources.dec_deg, pointing_dec_deg, times_mjd)
    mid_power = airy_power(offsets_rad[times_mjd.size // 2], freqs_hz).mean(axis=-1)
    bright = np.nonzero(sources.flux_jy * mid_power >= sources.min_apparent_flux_jy)[0]
    amplitudes, delays = [], []
    lat_rad, lon_rad, _ = uvd.telescope.location_lat_lon_alt
    first_rows_jd = uvd.time_array[observation.first_rows]  # rows are whole integrations, in time order
    for k in bright:
        ra_deg, dec_deg, flux_jy = sources.ra_deg[k], sources.dec_deg[k], sources.flux_jy[k]
        beam = airy_power(offsets_rad[:, k], freqs_hz)  # as it drifts through, (time, channel)
        app_ra, app_dec = calc_app_coords(lon_coord=np.deg2rad(ra_deg), lat_coord=np.deg2rad(dec_deg),
                                          coord_frame="icrs", coord_epoch=2000.0, time_array=first_rows_jd,
                                          lst_array=uvd.lst_array[observation.first_rows],
                                          telescope_loc=uvd.telescope.location, all_times_unique=True)
        w_m = calc_uvw(app_ra=np.repeat(app_ra, observation.n_bl), app_dec=np.repeat(app_dec, observation.n_bl),
                       frame_pa=np.zeros(uvd.Nblts), lst_array=uvd.lst_array, use_ant_pos=True,
                       antenna_positions=uvd.telescope.antenna_positions,
                       antenna_numbers=uvd.telescope.antenna_numbers, ant_1_array=uvd.ant_1_array,
                       ant_2_array=uvd.ant_2_array, telescope_lat=lat_rad, telescope_lon=lon_rad)[:, 2]
        amplitudes.append(flux_jy * beam * spectrum)
        delays.append(w_m - uvd.uvw_array[:, 2])
    if not amplitudes:
        return None, 0
    amplitudes, delays = np.array(amplitudes), np.array(delays)
    freq0_hz, width_hz = freqs_hz[0], freqs_hz[1] - freqs_hz[0]

    def model(block) -> np.ndarray:
        rows = slice(block.start_row, block.start_row + block.data.shape[0])
        stokes_i = np.zeros(block.data.shape[:2], dtype=np.complex128)
        _add_point_sources(stokes_i, np.ascontiguousarray(delays[:, rows]), amplitudes, block.time_index,
                           freq0_hz, width_hz)
        return stokes_i

    return model, len(amplitudes)


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
