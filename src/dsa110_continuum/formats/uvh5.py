"""UVH5 subband files as the DSA-110 correlator writes them: headers, the layout of a group, the writer.

Reads the correlator's layout (length-1 spectral-window axis, float32 uvw, 'drift' label) and
pyuvdata's current one.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from .. import instrument as inst
from ..naming import RAW_FILENAME_FORM, parse_raw_filename
from ..records import InputError


class BadInputError(InputError):
    """A raw file that cannot be used; the message names the file and the cause."""


@dataclass
class SubbandHeader:
    """The metadata of one subband file that conversion needs."""

    path: str
    freqs_hz: np.ndarray  # as stored (DSA-110: descending)
    channel_width_hz: float
    time_jd: np.ndarray  # per baseline-time
    ant_1: np.ndarray
    ant_2: np.ndarray
    antenna_positions_m: np.ndarray  # ECEF relative to the telescope location
    polarizations: np.ndarray
    integration_time_s: np.ndarray
    latitude_deg: float
    fringestop_dec_rad: float | None  # apparent dec of the correlator's fringe-stop point
    fringestop_ha_rad: float
    vis_shape: tuple

    @property
    def n_blts(self) -> int:
        return self.ant_1.size


REQUIRED_DATASETS = tuple(f"Header/{name}" for name in (
    "freq_array", "channel_width", "time_array", "ant_1_array", "ant_2_array", "antenna_positions",
    "polarization_array", "integration_time", "latitude")) + ("Data/visdata", "Data/flags")


def read_header(path: str | Path) -> SubbandHeader:
    """Read a subband file's header, accepting the DSA-110 layout and pyuvdata's current one.

    Raises BadInputError naming the file when it is not readable HDF5 or lacks what conversion needs.
    """
    path = str(path)
    try:
        with h5py.File(path, "r") as f:
            missing = [name for name in REQUIRED_DATASETS if name not in f]
            if missing:
                raise BadInputError(f"{path}: dataset {', '.join(missing)} missing; not a complete UVH5 file")
            hdr = f["Header"]
            extra = hdr["extra_keywords"] if "extra_keywords" in hdr else {}
            freqs = np.asarray(hdr["freq_array"][()], dtype=float).ravel()
            width = np.asarray(hdr["channel_width"][()], dtype=float).ravel()
            fs_dec = float(np.asarray(extra["phase_center_dec"][()])) if "phase_center_dec" in extra else None
            fs_ha = float(np.asarray(extra["ha_phase_center"][()])) if "ha_phase_center" in extra else 0.0
            header = SubbandHeader(
                path=path,
                freqs_hz=freqs,
                channel_width_hz=float(abs(width[0])),
                time_jd=np.asarray(hdr["time_array"][()], dtype=float),
                ant_1=np.asarray(hdr["ant_1_array"][()], dtype=int),
                ant_2=np.asarray(hdr["ant_2_array"][()], dtype=int),
                antenna_positions_m=np.asarray(hdr["antenna_positions"][()], dtype=float),
                polarizations=np.asarray(hdr["polarization_array"][()], dtype=int),
                integration_time_s=np.asarray(hdr["integration_time"][()], dtype=float),
                latitude_deg=float(hdr["latitude"][()]),
                fringestop_dec_rad=fs_dec,
                fringestop_ha_rad=fs_ha,
                vis_shape=tuple(f["Data"]["visdata"].shape),
            )
    except (OSError, KeyError) as err:
        raise BadInputError(f"{path}: not a readable UVH5 file ({err})") from err
    n_freq = freqs.size
    expected = [(header.n_blts, 1, n_freq, header.polarizations.size), (header.n_blts, n_freq, header.polarizations.size)]
    if header.vis_shape not in [tuple(e) for e in expected]:
        raise BadInputError(f"{path}: visdata has shape {header.vis_shape}, expected "
                            f"(Nblts={header.n_blts}, [1,] Nfreqs={n_freq}, Npols={header.polarizations.size})")
    return header


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


def read_group_layout(paths: list[str], *, n_subbands: int = inst.N_SUBBANDS) -> GroupLayout:
    """Read and cross-check the headers of one group's files.

    Raises BadInputError naming the offending file for: unparseable names, duplicate subbands,
    unreadable HDF5, and frequencies, antennas, baselines, times or polarisations that do not
    match the rest of the group.
    """
    by_subband: dict[int, str] = {}
    for path in paths:
        parsed = parse_raw_filename(os.path.basename(path))
        if parsed is None:
            raise BadInputError(f"{path}: file name is not {RAW_FILENAME_FORM}")
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


def read_visibility_rows(f: h5py.File, path: str, r0: int, r1: int, n_pol: int):
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


def write_dsa110_uvh5(path: str | Path, *, vis: np.ndarray, flags: np.ndarray, header: dict) -> None:
    """Write one subband file in the correlator's layout (length-1 spw axis, float32 uvw, 'drift' label).

    ``vis`` is (Nblts, Nfreqs, Npols); ``header`` maps UVH5 header dataset names to values, with
    ``extra_keywords`` a dict. The file is written to a temporary name and renamed into place.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.partial")
    n_blts, n_freqs, n_pols = vis.shape
    with h5py.File(tmp, "w", track_order=False) as f:
        hdr = f.create_group("Header")
        for key, value in header.items():
            if key == "extra_keywords":
                extra = hdr.create_group("extra_keywords")
                for ekey, evalue in value.items():
                    extra[ekey] = np.bytes_(evalue) if isinstance(evalue, str) else evalue
            elif isinstance(value, str):
                hdr[key] = np.bytes_(value)
            elif isinstance(value, list) and value and isinstance(value[0], str):
                hdr[key] = np.array([np.bytes_(v) for v in value])
            else:
                hdr[key] = value
        data = f.create_group("Data")
        data.create_dataset("visdata", data=vis.reshape(n_blts, 1, n_freqs, n_pols).astype(np.complex64))
        # Flags and sample counts compress to almost nothing (lzf, as pyuvdata's writer offers):
        # a full-scale subband file is ~97 MB, like the real ones.
        data.create_dataset("flags", data=flags.reshape(n_blts, 1, n_freqs, n_pols), compression="lzf")
        data.create_dataset("nsamples", data=np.ones((n_blts, 1, n_freqs, n_pols), dtype=np.float32),
                            compression="lzf")
    tmp.replace(path)
