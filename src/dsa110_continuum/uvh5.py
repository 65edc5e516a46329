"""Read and write UVH5 subband files the way the DSA-110 correlator does."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from .records import InputError


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
    antenna_numbers: np.ndarray
    antenna_names: list[str]
    antenna_positions_m: np.ndarray  # ECEF relative to the telescope location
    polarizations: np.ndarray
    integration_time_s: np.ndarray
    latitude_deg: float
    longitude_deg: float
    altitude_m: float
    telescope_name: str
    fringestop_dec_rad: float | None  # apparent dec of the correlator's fringe-stop point
    fringestop_ha_rad: float
    vis_shape: tuple

    @property
    def n_blts(self) -> int:
        return self.ant_1.size


def _text(value) -> str:
    value = value[()] if isinstance(value, h5py.Dataset) else value
    if isinstance(value, np.ndarray):
        value = value.item() if value.size == 1 else value
    return value.decode() if isinstance(value, bytes) else str(value)


def read_header(path: str | Path) -> SubbandHeader:
    """Read a subband file's header, accepting the DSA-110 layout and pyuvdata's current one.

    Raises BadInputError naming the file when it is not readable HDF5 or lacks what conversion needs.
    """
    path = str(path)
    try:
        with h5py.File(path, "r") as f:
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
                antenna_numbers=np.asarray(hdr["antenna_numbers"][()], dtype=int),
                antenna_names=[_text(n) for n in hdr["antenna_names"][()]],
                antenna_positions_m=np.asarray(hdr["antenna_positions"][()], dtype=float),
                polarizations=np.asarray(hdr["polarization_array"][()], dtype=int),
                integration_time_s=np.asarray(hdr["integration_time"][()], dtype=float),
                latitude_deg=float(hdr["latitude"][()]),
                longitude_deg=float(hdr["longitude"][()]),
                altitude_m=float(hdr["altitude"][()]),
                telescope_name=_text(hdr["telescope_name"]),
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
