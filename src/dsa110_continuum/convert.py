"""Convert one observation's UVH5 subband files into a single CASA Measurement Set.

The correlator fringe-stops every integration to the meridian (hour angle 0) at a fixed apparent
declination, whatever the 'drift' label in the header says. Each integration is rotated here to
one ICRS phase centre: the meridian at that declination at mid-observation.

Metadata and the MS subtables come from pyuvdata; the main table is streamed in blocks of
integrations straight from HDF5 into casacore, so memory stays bounded and the ~1.5 GB of
visibilities are read and written once (pyuvdata's read + write_ms needs ~8 GB and ~30 s).
The same pass can instead phase to a calibrator and average in time (calibrator extraction), or
apply calibration tables (the calibrated MS), so no stage ever needs the uncalibrated MS.
Never import casatools in this module: it runs in python-casacore processes.
"""

from __future__ import annotations

import os
import shutil
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import h5py
import numba
import numpy as np

from . import instrument as inst
from .applycal import correct, solutions_on_grid
from .ingest import parse_filename
from .uvh5 import BadInputError, SubbandHeader, read_header

SPEED_OF_LIGHT_M_S = 299792458.0


@dataclass
class GroupLayout:
    """How the subband files of one observation map onto the MS."""

    headers: list[SubbandHeader]
    subbands: list[int]
    freqs_hz: np.ndarray  # ascending, the full band, missing subbands included
    channel_index: list[np.ndarray]  # per file: MS channel of each stored channel
    missing_subbands: list[int]


def _majority(values):
    """The value most files share; ties go to the first file's."""
    counts = Counter(values)
    best = max(counts.values())
    return next(v for v in values if counts[v] == best)


def plan_layout(paths: list[str], *, n_subbands: int = inst.N_SUBBANDS) -> GroupLayout:
    """Read and cross-check the headers of one group's files.

    Raises BadInputError naming the offending file for: unparseable names, duplicate subbands,
    unreadable HDF5, and frequencies, antennas, baselines, times or polarisations that do not
    match the rest of the group.
    """
    by_subband: dict[int, str] = {}
    for path in paths:
        parsed = parse_filename(os.path.basename(path))
        if parsed is None:
            raise BadInputError(f"{path}: file name is not YYYY-MM-DDTHH:MM:SS_sbNN.hdf5")
        subband = parsed[1]
        if subband >= n_subbands:
            raise BadInputError(f"{path}: subband {subband} is outside 0..{n_subbands - 1}")
        if subband in by_subband:
            raise BadInputError(f"{path}: duplicate subband sb{subband:02d}, also in {by_subband[subband]}")
        by_subband[subband] = path
    subbands = sorted(by_subband)
    headers = [read_header(by_subband[sb]) for sb in subbands]

    def check(key_of, what):
        keys = [key_of(h) for h in headers]
        reference = _majority(keys)
        for h, key in zip(headers, keys):
            if key != reference:
                raise BadInputError(f"{h.path}: {what} do not match the other files of its group")

    check(lambda h: (h.ant_1.tobytes(), h.ant_2.tobytes()), "antennas/baselines")
    check(lambda h: np.round(h.time_jd * 86400.0, 3).tobytes(), "integration times")
    check(lambda h: h.polarizations.tobytes(), "polarisations")
    check(lambda h: h.antenna_positions_m.round(3).tobytes(), "antenna positions")
    check(lambda h: h.fringestop_dec_rad, "fringe-stop declinations")
    check(lambda h: (h.freqs_hz.size, h.channel_width_hz), "channel count/width")

    n_chan, width = headers[0].freqs_hz.size, headers[0].channel_width_hz
    # Frequency of sb00's top channel implied by each file; every file must agree with the group.
    tops = np.array([h.freqs_hz.max() + sb * n_chan * width for h, sb in zip(headers, subbands)])
    top = float(np.median(tops))
    for h, sb, t in zip(headers, subbands, tops):
        spacing = np.diff(np.sort(h.freqs_hz))
        if abs(t - top) > width / 2 or (spacing.size and np.any(np.abs(spacing - width) > width * 1e-6)):
            raise BadInputError(
                f"{h.path}: frequencies {h.freqs_hz.min() / 1e6:.4f}-{h.freqs_hz.max() / 1e6:.4f} MHz do not fit "
                f"subband sb{sb:02d} of its group ({n_chan} channels of {width / 1e3:.3f} kHz below "
                f"{(top - sb * n_chan * width) / 1e6:.4f} MHz)")
    n_total = n_subbands * n_chan
    freqs = top - width * np.arange(n_total)[::-1]
    channel_index = [np.rint((h.freqs_hz - freqs[0]) / width).astype(int) for h in headers]
    for h, chans in zip(headers, channel_index):
        if chans.size > 1 and np.any(np.diff(chans) != chans[1] - chans[0]):
            raise BadInputError(f"{h.path}: channels are not stored in ascending or descending frequency order")
    return GroupLayout(headers, subbands, freqs, channel_index, sorted(set(range(n_subbands)) - set(subbands)))


def _metadata(layout: GroupLayout, phase_centre: tuple[str, float, float] | None = None):
    """A metadata-only UVData for the whole group, phased to one ICRS centre.

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
    old_w = calc_uvw(
        app_ra=uvd.lst_array - first.fringestop_ha_rad, app_dec=np.full(uvd.Nblts, dec_app),
        frame_pa=np.zeros(uvd.Nblts), lst_array=uvd.lst_array, use_ant_pos=True,
        antenna_positions=uvd.telescope.antenna_positions, antenna_numbers=uvd.telescope.antenna_numbers,
        ant_1_array=uvd.ant_1_array, ant_2_array=uvd.ant_2_array, telescope_lat=lat_rad, telescope_lon=lon_rad,
    )[:, 2]

    times = np.unique(uvd.time_array)
    mid_jd = 0.5 * (times[0] + times[-1])
    mid_lst = np.interp(mid_jd, uvd.time_array, uvd.lst_array)  # LST is monotonic within 5 minutes
    ra_icrs, dec_icrs = transform_app_to_icrs(
        time_array=np.array([mid_jd]), app_ra=np.array([mid_lst - first.fringestop_ha_rad]),
        app_dec=np.array([dec_app]), telescope_loc=uvd.telescope.location,
    )
    name, ra, dec = (f"meridian_{os.path.basename(first.path)[:19]}", float(ra_icrs[0]), float(dec_icrs[0]))
    if phase_centre is not None:
        name, ra, dec = phase_centre[0], np.deg2rad(phase_centre[1]), np.deg2rad(phase_centre[2])
    uvd.phase(ra=ra, dec=dec, phase_frame="icrs", epoch="J2000", cat_name=name, use_ant_pos=True)
    uvd.history += "\nConverted to MS by dsa110_continuum: rephased from the meridian fringe-stop to one ICRS centre."
    return uvd, old_w


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


def _read_block(f, path: str, r0: int, r1: int, n_pol: int):
    """Visibilities (complex64) and flags of rows r0:r1 of one open subband file, spw axis dropped."""
    try:
        block = f["Data"]["visdata"][r0:r1]
        block_flags = f["Data"]["flags"][r0:r1]
    except (OSError, KeyError) as err:
        raise BadInputError(f"{path}: cannot read visibilities ({err}); truncated or corrupt") from err
    if block.dtype.names:
        block = block["r"] + 1j * block["i"]
    return (block.reshape(r1 - r0, -1, n_pol).astype(np.complex64, copy=False),
            block_flags.reshape(r1 - r0, -1, n_pol))


def _init_main_table(path: str, n_rows: int, n_chan: int, n_pol: int):
    """An empty MS (pyuvdata's column layout, no WEIGHT_SPECTRUM) with DATA/FLAG tiled per subband.

    Tiles of (pol, 48 channels, 1024 rows) match how the converter writes: measured 2.6x faster
    than casacore's default tiling for a full-scale observation.
    """
    from casacore import tables

    desc = tables.required_ms_desc("MAIN")
    data = tables.makearrcoldesc("DATA", 0j, valuetype="complex", ndim=2, datamanagertype="TiledShapeStMan",
                                 datamanagergroup="TiledData", comment="The data column")
    del data["desc"]["shape"]
    desc.update(tables.maketabdesc(data))
    desc["FLAG"].update(dataManagerType="TiledShapeStMan", dataManagerGroup="TiledFlag")
    desc["UVW"].update(dataManagerType="TiledColumnStMan", dataManagerGroup="TiledUVW")
    for key in ("WEIGHT", "SIGMA"):
        desc[key].update(dataManagerType="TiledShapeStMan", dataManagerGroup=f"Tiled{key.title()}")
    tile = np.array([n_pol, min(n_chan, inst.N_CHAN_PER_SUBBAND), 1024], dtype=np.int32)
    dminfo = tables.makedminfo(desc, {"TiledData": {"DEFAULTTILESHAPE": tile},
                                      "TiledFlag": {"DEFAULTTILESHAPE": tile}})
    ms = tables.default_ms(path, desc, dminfo)
    ms.addrows(n_rows)
    return ms


def convert_group(paths: list[str], ms_path: str | Path, *, n_subbands: int = inst.N_SUBBANDS,
                  integrations_per_block: int = 2, threads: int = 1,
                  phase_centre: tuple[str, float, float] | None = None, average_in_time: bool = False,
                  calibration: tuple[str, str] | None = None) -> dict:
    """Write the group's Measurement Set at ``ms_path`` atomically; returns a summary record.

    phase_centre
        (name, ra_deg, dec_deg) ICRS instead of the meridian at mid-observation.
    average_in_time
        Average all integrations into one (for a calibrator at the phase centre: its data stay coherent).
    calibration
        (bandpass_table, gain_table): DATA holds calibrated visibilities (CASA applycal semantics,
        see applycal.py), written straight from the raw files.
    """
    numba.set_num_threads(max(1, min(threads, numba.config.NUMBA_NUM_THREADS)))
    from pyuvdata.utils import pol as pol_utils
    from pyuvdata.utils.tools import slicify
    from pyuvdata.utils.io import ms as ms_utils

    ms_path = Path(ms_path)
    layout = plan_layout(paths, n_subbands=n_subbands)
    uvd, old_w = _metadata(layout, phase_centre)
    # pyuvdata's MS convention (ANTENNA1 <= ANTENNA2): the data conjugated and the uvw negated.
    if not np.all(uvd.ant_1_array <= uvd.ant_2_array):
        raise BadInputError(f"{layout.headers[0].path}: baselines with ant_1 > ant_2 are not supported")
    delta_w = uvd.uvw_array[:, 2] - old_w
    pol_order = slicify(pol_utils.determine_pol_order(uvd.polarization_array, order="CASA"))
    autos = uvd.ant_1_array == uvd.ant_2_array

    _, first_row = np.unique(uvd.time_array, return_index=True)
    n_time, n_chan, n_pol = first_row.size, layout.freqs_hz.size, uvd.Npols
    n_bl = uvd.Nblts // n_time
    if not np.all(np.diff(uvd.time_array) >= 0) or uvd.Nblts != n_time * n_bl or np.any(
            uvd.ant_1_array.reshape(n_time, n_bl) != uvd.ant_1_array[:n_bl]) or np.any(
            uvd.ant_2_array.reshape(n_time, n_bl) != uvd.ant_2_array[:n_bl]):
        raise BadInputError(f"{layout.headers[0].path}: baseline-times are not time-ordered with the same "
                            f"baselines in every integration")
    gains = None
    if calibration is not None:
        gains, gain_flags = solutions_on_grid(calibration, uvd.telescope.Nants, layout.freqs_hz,
                                              (np.unique(uvd.time_array) - 2400000.5) * 86400.0)
    if average_in_time:
        data_sum = np.zeros((n_bl, n_chan, n_pol), dtype=np.complex128)
        weight_sum = np.zeros((n_bl, n_chan, n_pol))

    tmp = ms_path.with_name(ms_path.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    ms = _init_main_table(str(tmp), n_bl if average_in_time else uvd.Nblts, n_chan, n_pol)
    try:
        bounds = list(first_row[::integrations_per_block]) + [uvd.Nblts]
        freq0, width = layout.freqs_hz[0], layout.freqs_hz[1] - layout.freqs_hz[0]
        files = [h5py.File(h.path, "r") for h in layout.headers]
        try:
            for r0, r1 in zip(bounds[:-1], bounds[1:]):
                data = np.zeros((r1 - r0, n_chan, n_pol), dtype=np.complex64)
                flags = np.ones((r1 - r0, n_chan, n_pol), dtype=bool)
                for f, chans, h in zip(files, layout.channel_index, layout.headers):
                    block, block_flags = _read_block(f, h.path, r0, r1, n_pol)
                    step = -1 if chans[0] > chans[-1] else 1
                    _rephase_into(data, block[:, :, pol_order], int(chans[0]), step, delta_w[r0:r1], freq0, width)
                    flags[:, chans.min():chans.max() + 1] = block_flags[:, ::step, pol_order]
                flags[autos[r0:r1]] = True
                if gains is not None:
                    time_index = np.searchsorted(first_row, np.arange(r0, r1), side="right") - 1
                    correct(data, flags, uvd.ant_1_array[r0:r1], uvd.ant_2_array[r0:r1], time_index, gains, gain_flags)
                if average_in_time:
                    weight = (~flags).reshape(-1, n_bl, n_chan, n_pol)
                    data_sum += (data.reshape(weight.shape) * weight).sum(axis=0)
                    weight_sum += weight.sum(axis=0)
                else:
                    ms.putcol("DATA", data, startrow=r0, nrow=r1 - r0)
                    ms.putcol("FLAG", flags, startrow=r0, nrow=r1 - r0)
        finally:
            for f in files:
                f.close()

        time_s = (uvd.time_array - 2400000.5) * 86400.0
        if average_in_time:
            ms.putcol("DATA", (data_sum / np.maximum(weight_sum, 1)).astype(np.complex64))
            ms.putcol("FLAG", weight_sum == 0)
            rows = dict(ant1=uvd.ant_1_array[:n_bl], ant2=uvd.ant_2_array[:n_bl],
                        interval=uvd.integration_time.reshape(n_time, n_bl).sum(axis=0),
                        time=time_s.reshape(n_time, n_bl).mean(axis=0),
                        uvw=-uvd.uvw_array.reshape(n_time, n_bl, 3).mean(axis=0))
        else:
            rows = dict(ant1=uvd.ant_1_array, ant2=uvd.ant_2_array, interval=uvd.integration_time, time=time_s,
                        uvw=-uvd.uvw_array)
        n_rows = rows["ant1"].size
        ms.putcol("WEIGHT", np.ones((n_rows, n_pol), dtype=np.float32))
        ms.putcol("SIGMA", np.ones((n_rows, n_pol), dtype=np.float32))
        ms.putcol("ANTENNA1", rows["ant1"])
        ms.putcol("ANTENNA2", rows["ant2"])
        ms.putcol("INTERVAL", rows["interval"])
        ms.putcol("EXPOSURE", rows["interval"])
        ms.putcol("TIME", rows["time"])
        ms.putcol("TIME_CENTROID", rows["time"])
        ms.putcol("UVW", rows["uvw"])
        ms.putcol("SCAN_NUMBER", np.ones(n_rows, dtype=np.int32))
        ms.putcol("FLAG_ROW", rows["ant1"] == rows["ant2"])
        ms.putcolkeyword("DATA", "QuantumUnits", "Jy")
        ms.putkeyword("pyuvdata_flip_conj", True)
    finally:
        ms.close()

    for writer in (ms_utils.write_ms_antenna, ms_utils.write_ms_data_description, ms_utils.write_ms_feed,
                   ms_utils.write_ms_field, ms_utils.write_ms_history, ms_utils.write_ms_observation,
                   ms_utils.write_ms_source, ms_utils.write_ms_spectral_window):
        writer(str(tmp), uvobj=uvd)
    ms_utils.write_ms_polarization(str(tmp), pol_order=pol_order, uvobj=uvd)
    _fill_casa_conventions(str(tmp))

    if ms_path.exists():
        shutil.rmtree(ms_path)
    os.replace(tmp, ms_path)
    centre = next(iter(uvd.phase_center_catalog.values()))
    return {
        "ms": str(ms_path),
        "files": [h.path for h in layout.headers],
        "subbands": layout.subbands,
        "missing_subbands": layout.missing_subbands,
        "n_rows": int(n_rows),
        "integration_times_mjd": ((np.unique(uvd.time_array) - 2400000.5)).tolist(),
        "calibration": list(calibration) if calibration else None,
        "n_channels": int(layout.freqs_hz.size),
        "freq_min_hz": float(layout.freqs_hz[0]),
        "freq_max_hz": float(layout.freqs_hz[-1]),
        "n_antennas": int(uvd.Nants_data),
        "phase_centre_ra_deg": float(np.rad2deg(centre["cat_lon"])),
        "phase_centre_dec_deg": float(np.rad2deg(centre["cat_lat"])),
        "pointing_dec_apparent_deg": float(np.rad2deg(layout.headers[0].fringestop_dec_rad))
        if layout.headers[0].fringestop_dec_rad is not None else None,
    }


def _fill_casa_conventions(ms_path: str) -> None:
    """MS fields pyuvdata leaves empty that CASA tasks read: the telescope name and antenna type."""
    from casacore import tables

    with tables.table(ms_path + "/OBSERVATION", readonly=False, ack=False) as obs:
        obs.putcol("TELESCOPE_NAME", [inst.TELESCOPE_NAME] * obs.nrows())
    with tables.table(ms_path + "/ANTENNA", readonly=False, ack=False) as ant:
        ant.putcol("TYPE", ["GROUND-BASED"] * ant.nrows())
