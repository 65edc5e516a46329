"""Stream one observation's subband files as blocks of integrations, rephased to one ICRS phase centre.

The correlator fringe-stops every integration to the meridian (hour angle 0) at a fixed apparent
declination, whatever the 'drift' label in the header says. Each integration is rotated here to one
ICRS centre: by default the meridian at that declination at mid-observation.

Metadata comes from pyuvdata; visibilities are read from HDF5 a block of integrations at a time, so
memory stays bounded and the ~1.5 GB of an observation are read once (pyuvdata's read + write_ms
needs ~8 GB and ~30 s). Conversion, calibrator extraction and calibration all consume these blocks.
Never import casatools here: it runs in python-casacore processes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator

import h5py
import numba
import numpy as np

from .. import instrument as inst
from ..formats.ms import MeasurementSetWriter, RowColumns
from ..formats.uvh5 import BadInputError, GroupLayout, read_group_layout, read_visibility_rows

SPEED_OF_LIGHT_M_S = inst.SPEED_OF_LIGHT_M_S


@dataclass
class Block:
    """Consecutive rows (whole integrations) of an observation, MS conventions, ascending channels."""

    start_row: int
    time_index: np.ndarray  # integration of each row
    data: np.ndarray  # (Nrow, Nchan, Npol) complex64
    flags: np.ndarray  # (Nrow, Nchan, Npol) bool; autocorrelations and missing subbands flagged


@numba.njit(parallel=True, cache=True)
def _rephase_into(out, block, first_chan, step, delta_w_m, freq0_hz, width_hz):
    """out[:, first_chan + k * step] = conj(block[:, k] * exp(-2 pi i dw f / c)) for one subband block.

    ``step`` is -1 for the correlator's descending channels. The phasor advances by a per-row
    complex step along the band instead of evaluating exp() for every channel. The conjugate is
    pyuvdata's MS convention (ANTENNA1 <= ANTENNA2).
    """
    n_row, n_chan, n_pol = block.shape
    for r in numba.prange(n_row):
        scale = -2.0 * np.pi * delta_w_m[r] / SPEED_OF_LIGHT_M_S
        phasor = np.exp(1j * scale * (freq0_hz + width_hz * first_chan))
        advance = np.exp(1j * scale * width_hz * step)
        for k in range(n_chan):
            c = first_chan + k * step
            for p in range(n_pol):
                v = block[r, k, p] * phasor
                out[r, c, p] = v.real - 1j * v.imag
            phasor *= advance


def _metadata(layout: GroupLayout, phase_centre: tuple[str, float, float] | None):
    """A metadata-only UVData for the whole group phased to one ICRS centre, and the correlator's w (m).

    The centre is the meridian at mid-observation unless ``phase_centre`` = (name, ra_deg, dec_deg).
    """
    from pyuvdata import UVData
    from pyuvdata.utils.phasing import calc_uvw, transform_app_to_icrs

    first = layout.headers[0]
    uvd = UVData.from_file(first.path, file_type="uvh5", read_data=False, run_check=False)
    uvd.uvw_array = uvd.uvw_array.astype(float)
    n_freq = layout.freqs_hz.size
    uvd.Nfreqs = n_freq
    uvd.freq_array = layout.freqs_hz.copy()
    uvd.channel_width = np.full(n_freq, first.channel_width_hz)
    uvd.flex_spw_id_array = np.full(n_freq, uvd.spw_array[0])
    uvd.telescope.name = inst.TELESCOPE_NAME
    uvd.telescope.antenna_diameters = np.full(uvd.telescope.Nants, inst.DISH_DIAMETER_M)
    uvd.telescope.mount_type = ["alt-az"] * uvd.telescope.Nants
    uvd.vis_units = "uncalib"

    lat_rad, lon_rad, _ = uvd.telescope.location_lat_lon_alt
    dec_app = first.fringestop_dec_rad if first.fringestop_dec_rad is not None else lat_rad
    correlator_w_m = calc_uvw(
        app_ra=uvd.lst_array - first.fringestop_ha_rad, app_dec=np.full(uvd.Nblts, dec_app),
        frame_pa=np.zeros(uvd.Nblts), lst_array=uvd.lst_array, use_ant_pos=True,
        antenna_positions=uvd.telescope.antenna_positions, antenna_numbers=uvd.telescope.antenna_numbers,
        ant_1_array=uvd.ant_1_array, ant_2_array=uvd.ant_2_array, telescope_lat=lat_rad, telescope_lon=lon_rad,
    )[:, 2]

    if phase_centre is None:
        times = np.unique(uvd.time_array)
        mid_jd = 0.5 * (times[0] + times[-1])
        mid_lst = np.interp(mid_jd, uvd.time_array, uvd.lst_array)  # LST is monotonic within 5 minutes
        ra_icrs, dec_icrs = transform_app_to_icrs(
            time_array=np.array([mid_jd]), app_ra=np.array([mid_lst - first.fringestop_ha_rad]),
            app_dec=np.array([dec_app]), telescope_loc=uvd.telescope.location,
        )
        name, ra, dec = f"meridian_{os.path.basename(first.path)[:19]}", float(ra_icrs[0]), float(dec_icrs[0])
    else:
        name, ra, dec = phase_centre[0], np.deg2rad(phase_centre[1]), np.deg2rad(phase_centre[2])
    uvd.phase(ra=ra, dec=dec, phase_frame="icrs", epoch="J2000", cat_name=name, use_ant_pos=True)
    uvd.history += "\nConverted to MS by dsa110_continuum: rephased from the meridian fringe-stop to one ICRS centre."
    return uvd, correlator_w_m


class Observation:
    """One observation's subband files, opened for streaming to a single phase centre."""

    def __init__(self, paths: list[str], *, n_subbands: int = inst.N_SUBBANDS,
                 phase_centre: tuple[str, float, float] | None = None, threads: int = 1):
        from pyuvdata.utils import pol as pol_utils
        from pyuvdata.utils.tools import slicify

        numba.set_num_threads(max(1, min(threads, numba.config.NUMBA_NUM_THREADS)))
        self.layout = read_group_layout(paths, n_subbands=n_subbands)
        self.uvd, correlator_w_m = _metadata(self.layout, phase_centre)
        uvd, where = self.uvd, self.layout.headers[0].path
        # pyuvdata's MS convention (ANTENNA1 <= ANTENNA2): the data conjugated and the uvw negated.
        if not np.all(uvd.ant_1_array <= uvd.ant_2_array):
            raise BadInputError(f"{where}: baselines with ant_1 > ant_2 are not supported")
        self.delta_w_m = uvd.uvw_array[:, 2] - correlator_w_m
        self.pol_order = slicify(pol_utils.determine_pol_order(uvd.polarization_array, order="CASA"))
        times_jd, self.first_rows = np.unique(uvd.time_array, return_index=True)
        self.times_mjd = times_jd - 2400000.5
        self.n_time = times_jd.size
        self.n_bl = uvd.Nblts // self.n_time
        per_time = lambda a: a.reshape(self.n_time, self.n_bl)  # noqa: E731
        if not np.all(np.diff(uvd.time_array) >= 0) or uvd.Nblts != self.n_time * self.n_bl or np.any(
                per_time(uvd.ant_1_array) != uvd.ant_1_array[:self.n_bl]) or np.any(
                per_time(uvd.ant_2_array) != uvd.ant_2_array[:self.n_bl]):
            raise BadInputError(f"{where}: baseline-times are not time-ordered with the same baselines in every "
                                f"integration")

    @property
    def freqs_hz(self) -> np.ndarray:
        return self.layout.freqs_hz

    def blocks(self, integrations_per_block: int) -> Iterator[Block]:
        """The observation in blocks of whole integrations, rephased, with autocorrelations flagged."""
        uvd = self.uvd
        n_chan, n_pol = self.freqs_hz.size, uvd.Npols
        bounds = list(self.first_rows[::integrations_per_block]) + [uvd.Nblts]
        freq0, width = self.freqs_hz[0], self.freqs_hz[1] - self.freqs_hz[0]
        autos = uvd.ant_1_array == uvd.ant_2_array
        files = [h5py.File(h.path, "r") for h in self.layout.headers]
        try:
            for r0, r1 in zip(bounds[:-1], bounds[1:]):
                data = np.zeros((r1 - r0, n_chan, n_pol), dtype=np.complex64)
                flags = np.ones((r1 - r0, n_chan, n_pol), dtype=bool)
                for f, chans, header in zip(files, self.layout.channel_index, self.layout.headers):
                    vis, vis_flags = read_visibility_rows(f, header.path, r0, r1, n_pol)
                    step = -1 if chans[0] > chans[-1] else 1
                    _rephase_into(data, vis[:, :, self.pol_order], int(chans[0]), step, self.delta_w_m[r0:r1],
                                  freq0, width)
                    flags[:, chans.min():chans.max() + 1] = vis_flags[:, ::step, self.pol_order]
                flags[autos[r0:r1]] = True
                time_index = np.searchsorted(self.first_rows, np.arange(r0, r1), side="right") - 1
                yield Block(r0, time_index, data, flags)
        finally:
            for f in files:
                f.close()

    def rows(self) -> RowColumns:
        uvd = self.uvd
        return RowColumns(uvd.ant_1_array, uvd.ant_2_array, uvd.integration_time,
                          (uvd.time_array - 2400000.5) * 86400.0, -uvd.uvw_array)

    def time_averaged_rows(self) -> RowColumns:
        """One row per baseline, as ``average_in_time`` writes them."""
        uvd, shape = self.uvd, (self.n_time, self.n_bl)
        return RowColumns(uvd.ant_1_array[:self.n_bl], uvd.ant_2_array[:self.n_bl],
                          uvd.integration_time.reshape(shape).sum(axis=0),
                          ((uvd.time_array - 2400000.5) * 86400.0).reshape(shape).mean(axis=0),
                          -uvd.uvw_array.reshape(shape + (3,)).mean(axis=0))

    def record(self) -> dict:
        """What the MS holds, for the product's JSON record."""
        centre = next(iter(self.uvd.phase_center_catalog.values()))
        fringestop_dec = self.layout.headers[0].fringestop_dec_rad
        return {
            "files": [h.path for h in self.layout.headers],
            "subbands": self.layout.subbands,
            "missing_subbands": self.layout.missing_subbands,
            "integration_times_mjd": self.times_mjd.tolist(),
            "n_baselines": int(self.n_bl),
            "n_channels": int(self.freqs_hz.size),
            "freq_min_hz": float(self.freqs_hz[0]),
            "freq_max_hz": float(self.freqs_hz[-1]),
            "n_antennas": int(self.uvd.Nants_data),
            "phase_centre_ra_deg": float(np.rad2deg(centre["cat_lon"])),
            "phase_centre_dec_deg": float(np.rad2deg(centre["cat_lat"])),
            "pointing_dec_apparent_deg": None if fringestop_dec is None else float(np.rad2deg(fringestop_dec)),
        }


def write_ms(observation: Observation, ms_path, blocks: Iterable[Block], before_rename=None) -> None:
    """Write every row of ``observation`` from ``blocks`` into an MS, atomically (``before_rename``: see
    ``MeasurementSetWriter.finish``)."""
    with MeasurementSetWriter(ms_path, observation.uvd, observation.pol_order, n_rows=observation.uvd.Nblts) as ms:
        for block in blocks:
            ms.write(block.start_row, block.data, block.flags)
        ms.finish(observation.rows(), before_rename)


def write_time_averaged_ms(observation: Observation, ms_path, blocks: Iterable[Block], *,
                           model: tuple[str, Callable[[Block], np.ndarray]] | None = None) -> None:
    """Write the flag-weighted time average of ``blocks`` (one row per baseline) into an MS, atomically.

    ``model`` = (column, function of a block giving its model visibilities, shape (rows, channels), the same in
    every polarisation): averaged with the same weights into that column.
    """
    n_bl, n_chan, n_pol = observation.n_bl, observation.freqs_hz.size, observation.uvd.Npols
    data_sum = np.zeros((n_bl, n_chan, n_pol), dtype=np.complex128)
    model_sum = np.zeros_like(data_sum) if model else None
    weight_sum = np.zeros((n_bl, n_chan, n_pol))
    for block in blocks:
        weight = (~block.flags).reshape(-1, n_bl, n_chan, n_pol)
        data_sum += (block.data.reshape(weight.shape) * weight).sum(axis=0)
        if model:
            model_sum += (model[1](block).reshape(weight.shape[:-1])[..., None] * weight).sum(axis=0)
        weight_sum += weight.sum(axis=0)
    with MeasurementSetWriter(ms_path, observation.uvd, observation.pol_order, n_rows=n_bl) as ms:
        ms.write(0, (data_sum / np.maximum(weight_sum, 1)).astype(np.complex64), weight_sum == 0)
        if model:
            ms.write_column(model[0], (model_sum / np.maximum(weight_sum, 1)).astype(np.complex64))
        ms.finish(observation.time_averaged_rows())


def convert_observation(paths: list[str], ms_path, *, n_subbands: int = inst.N_SUBBANDS,
                        integrations_per_block: int = 2, threads: int = 1) -> dict:
    """The observation's MS phased to the meridian at mid-observation; returns its record."""
    observation = Observation(paths, n_subbands=n_subbands, threads=threads)
    write_ms(observation, ms_path, observation.blocks(integrations_per_block))
    return observation.record()
