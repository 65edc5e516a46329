"""Converter checks that need no Snakemake: the group layout, bad input, and both UVH5 conventions.

This process may import python-casacore (the converter's library) but never casatools.
"""

from __future__ import annotations

import shutil

import h5py
import numpy as np
import pytest
from pyuvdata import UVData

from dsa110_continuum.convert.stream import _rephase_into, convert_observation
from dsa110_continuum.formats.uvh5 import BadInputError, read_group_layout
from dsa110_continuum.simulate.session import SimulationConfig, simulate_session

CFG = SimulationConfig(n_observations=1, n_antennas=5, n_chan_per_subband=3, n_integrations=3,
                       start_utc="2025-06-01T04:40:00", pointing_dec_deg=16.3, n_field_sources=4)


@pytest.fixture(scope="module")
def group(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("conv")
    simulate_session(CFG, tmp / "in", tmp / "truth")
    return sorted((tmp / "in").glob("*.hdf5"))


@pytest.fixture
def copy_of(group, tmp_path):
    def make():
        for p in group:
            shutil.copy2(p, tmp_path / p.name)
        return sorted(tmp_path.glob("*.hdf5"))
    return make


def read_ms(path):
    from casacore import tables

    with tables.table(str(path), ack=False) as t:
        return {c: t.getcol(c) for c in ("DATA", "FLAG", "UVW", "ANTENNA1", "ANTENNA2", "TIME")}


def test_layout_is_the_full_band_ascending(group):
    layout = read_group_layout([str(p) for p in group])
    assert layout.freqs_hz.size == 48 and np.all(np.diff(layout.freqs_hz) > 0)
    assert layout.missing_subbands == []
    sb00 = layout.channel_index[layout.subbands.index(0)]
    assert list(sb00) == [47, 46, 45]  # sb00's descending channels land at the top of the band


def test_rephasing_kernel_matches_direct_exponential():
    """A descending 48-channel block lands reversed in the band, rotated and conjugated (MS convention)."""
    freqs = 1.3e9 + 244140.625 * np.arange(768)
    dw = np.array([-1234.5, 0.0, 873.2])
    rng = np.random.default_rng(1)
    block = (rng.standard_normal((3, 48, 2)) + 1j * rng.standard_normal((3, 48, 2))).astype(np.complex64)
    out = np.zeros((3, 768, 2), dtype=np.complex64)
    _rephase_into(out, block, 767, -1, dw, freqs[0], freqs[1] - freqs[0])
    chans = 767 - np.arange(48)
    expected = np.conj(block * np.exp(-2j * np.pi * dw[:, None] * freqs[chans][None, :] / 299792458.0)[..., None])
    assert np.allclose(out[:, chans], expected, atol=1e-5)
    assert not out[:, :720].any()


def test_missing_subbands_are_flagged_not_dropped(copy_of, tmp_path):
    files = [p for p in copy_of() if not p.name.endswith(("_sb14.hdf5", "_sb15.hdf5"))]
    record = convert_observation([str(p) for p in files], tmp_path / "out.ms")
    assert record["missing_subbands"] == [14, 15] and record["n_channels"] == 48
    ms = read_ms(tmp_path / "out.ms")
    assert ms["FLAG"][:, :6].all()  # sb14 and sb15 are the six lowest channels
    cross = ms["ANTENNA1"] != ms["ANTENNA2"]
    assert not ms["FLAG"][cross][:, 6:].any()
    assert ms["FLAG"][~cross].all()  # autocorrelations flagged


@pytest.mark.parametrize("damage, message", [
    ("truncate", "not a readable UVH5 file"),
    ("frequencies", "do not fit subband sb07"),
    ("antennas", "antennas/baselines do not match"),
    ("duplicate", "duplicate subband sb03"),
    ("name", "file name is not"),
])
def test_bad_file_is_named_with_its_cause(copy_of, tmp_path, damage, message):
    files = copy_of()
    subband = {"truncate": 5, "frequencies": 7, "antennas": 9, "duplicate": 3, "name": 0}[damage]
    target = next(i for i, p in enumerate(files) if p.name.endswith(f"_sb{subband:02d}.hdf5"))
    bad = files[target]
    if damage == "truncate":
        bad.write_bytes(bad.read_bytes()[:5000])
    elif damage == "frequencies":
        with h5py.File(bad, "r+") as f:
            f["Header/freq_array"][...] = f["Header/freq_array"][()] + 2e6
    elif damage == "antennas":
        with h5py.File(bad, "r+") as f:
            f["Header/ant_1_array"][...] = f["Header/ant_1_array"][()][::-1]
    elif damage == "duplicate":
        bad = tmp_path / ("2025-06-01T04:40:59" + bad.name[19:])
        shutil.copy2(files[target], bad)
        files.append(bad)
    elif damage == "name":
        bad = bad.rename(tmp_path / "observation_sb00.hdf5")
        files[target] = bad
    with pytest.raises(BadInputError, match=message) as err:
        convert_observation([str(p) for p in files], tmp_path / "out.ms")
    assert str(bad) in str(err.value)
    assert not (tmp_path / "out.ms").exists()


def test_pyuvdata_convention_files_give_the_same_ms(copy_of, group, tmp_path):
    """Files rewritten by pyuvdata's own writer (current layout, float64 uvw) convert to the same MS."""
    rewritten = tmp_path / "pyuvdata"
    rewritten.mkdir()
    for path in group:
        uvd = UVData.from_file(str(path), file_type="uvh5", run_check=False)
        uvd.uvw_array = uvd.uvw_array.astype(float)
        uvd.write_uvh5(str(rewritten / path.name), run_check=False)
    with h5py.File(next(rewritten.iterdir()), "r") as f:
        assert f["Data/visdata"].ndim == 3  # no spectral-window axis: the current convention
    convert_observation([str(p) for p in group], tmp_path / "dsa.ms")
    convert_observation(sorted(str(p) for p in rewritten.iterdir()), tmp_path / "pyuvdata.ms")
    a, b = read_ms(tmp_path / "dsa.ms"), read_ms(tmp_path / "pyuvdata.ms")
    for column in a:
        assert np.allclose(a[column], b[column], rtol=1e-6, atol=1e-5), column


def test_raw_files_are_left_untouched(copy_of, tmp_path):
    files = copy_of()
    before = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in files}
    convert_observation([str(p) for p in files], tmp_path / "out.ms")
    assert {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in files} == before
