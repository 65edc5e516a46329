"""The simulator writes files exactly in the DSA-110 correlator's format, with physics that matches its truth."""

from __future__ import annotations

import hashlib
from dataclasses import replace

import h5py
import numpy as np
import pytest
from pyuvdata import UVData

from dsa110_continuum import instrument as inst
from dsa110_continuum.ingest.scan import group_files, list_incoming
from dsa110_continuum.naming import RAW_FILENAME_RE
from dsa110_continuum.simulate.session import SimulationConfig, SkySource, simulate_session

SMALL = SimulationConfig(n_observations=2, n_antennas=6, n_chan_per_subband=3, n_integrations=5,
                         start_utc="2025-06-01T04:40:00", pointing_dec_deg=55.0, n_field_sources=3)


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("sim")
    truth = simulate_session(SMALL, tmp / "in", tmp / "truth")
    return tmp / "in", tmp / "truth", truth


def test_sixteen_files_per_observation_with_real_names_and_jitter(session):
    incoming, _, truth = session
    names = sorted(p.name for p in incoming.iterdir())
    assert len(names) == 32 and all(RAW_FILENAME_RE.match(n) for n in names)
    listing = list_incoming(incoming)
    files, unrecognised = listing.files(listing.days()), listing.unrecognised
    groups = group_files(files, tolerance_s=60)
    assert unrecognised == [] and [g.subbands for g in groups] == [list(range(16))] * 2
    for g in groups:
        spread = max(f.timestamp for f in g.files) - min(f.timestamp for f in g.files)
        assert spread.total_seconds() <= SMALL.timestamp_jitter_s
    step = (groups[1].start - groups[0].start).total_seconds()
    assert abs(step - SMALL.n_integrations * inst.INTEGRATION_TIME_S) <= 1.0


def test_raw_layout_has_the_correlator_quirks(session):
    incoming, _, _ = session
    path = sorted(incoming.glob("*_sb00.hdf5"))[0]
    with h5py.File(path, "r") as f:
        hdr = f["Header"]
        assert f["Data/visdata"].shape[1] == 1  # length-1 spectral-window axis
        assert f["Data/visdata"].shape[2:] == (3, 2)
        assert hdr["uvw_array"].dtype == np.float32
        assert hdr["phase_type"][()] == b"drift"
        assert hdr["telescope_name"][()] == b"OVRO_MMA" and hdr["instrument"][()] == b"DSA"
        assert hdr["Nants_telescope"][()] == 117
        assert [n.decode() for n in hdr["antenna_names"][()]] == [str(i) for i in range(1, 118)]
        assert np.array_equal(hdr["antenna_numbers"][()], np.arange(117))
        assert hdr["freq_array"].shape == (1, 3)
        extra = hdr["extra_keywords"]
        assert np.isclose(extra["phase_center_dec"][()], np.deg2rad(55.0))
        assert extra["ha_phase_center"][()] == 0.0
        # uvw is constant in time: every integration repeats the first one's baselines
        uvw = hdr["uvw_array"][()].reshape(SMALL.n_integrations, -1, 3)
        assert np.all(uvw == uvw[0])


def test_pyuvdata_reads_the_files_as_the_data_contract_says(session):
    incoming, _, truth = session
    uvd = UVData()
    uvd.read(sorted(incoming.glob(f"{truth['observations'][0]['group_id'][:16]}*_sb00.hdf5"))[0],
             file_type="uvh5", run_check=False)
    assert uvd.telescope.name == "OVRO_MMA"
    assert list(uvd.polarization_array) == [-5, -6]
    assert uvd.Nants_data == 6 and uvd.telescope.Nants == 117
    assert np.allclose(uvd.integration_time, 12.884902)
    assert np.all(np.diff(uvd.freq_array) < 0)  # stored descending
    assert np.isclose(uvd.freq_array.max(), inst.TOP_CHANNEL_FREQ_HZ + inst.CHANNEL_WIDTH_HZ / 2
                      - inst.channel_width_hz(3) / 2)
    assert np.any(uvd.ant_1_array == uvd.ant_2_array)  # autocorrelations present
    assert next(iter(uvd.phase_center_catalog.values()))["cat_type"] == "unprojected"  # the 'drift' label


def test_full_band_layout_sb00_highest():
    freqs = [inst.subband_freqs_hz(sb) for sb in range(16)]
    assert np.isclose(freqs[0][0], 1498.75e6) and np.isclose(freqs[15][-1], 1311.494140625e6)
    assert all(f[-1] > g[0] for f, g in zip(freqs, freqs[1:]))
    assert sum(f.size for f in freqs) == 768


def test_same_seed_same_bytes(tmp_path, session):
    incoming, _, _ = session
    simulate_session(SMALL, tmp_path / "again", tmp_path / "truth")
    digest = lambda d: {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in d.iterdir()}
    assert digest(tmp_path / "again") == digest(incoming)


def _read_raw(path, with_geometry=False):
    with h5py.File(path, "r") as f:
        raw = f["Data/visdata"][()][:, 0], f["Header/ant_1_array"][()], f["Header/ant_2_array"][()]
        geometry = f["Header/uvw_array"][()].astype(float), f["Header/freq_array"][()].ravel()
    return (*raw, *geometry) if with_geometry else raw


def test_fringe_stopped_source_at_pointing_has_flux_and_zero_phase(tmp_path):
    """A source on the meridian at the pointing dec, mid-observation: phase ~0, amplitude = flux (XX = I)."""
    from dsa110_continuum.simulate.session import _field_centre_icrs
    from astropy.time import Time

    cfg = replace(SMALL, n_observations=1, n_field_sources=0, add_noise=False, apply_gains=False)
    mid_jd = Time("2025-06-01T04:40:00").jd + cfg.n_integrations * inst.INTEGRATION_TIME_S / 2 / 86400.0
    ra, dec = _field_centre_icrs(mid_jd, cfg.pointing_dec_deg)
    cfg = replace(cfg, extra_sources=[SkySource("centre", ra, dec, 5.0, 0.0)])
    simulate_session(cfg, tmp_path / "in", tmp_path / "truth")
    vis, a1, a2, uvw, freqs = _read_raw(sorted((tmp_path / "in").glob("*_sb08.hdf5"))[0], with_geometry=True)
    n_bl = vis.shape[0] // cfg.n_integrations
    mid = slice(n_bl * (cfg.n_integrations // 2), n_bl * (cfg.n_integrations // 2 + 1))
    cross = (a1 != a2)[mid]
    v = vis[mid][cross]
    assert np.allclose(np.abs(v), 5.0, rtol=0.01)
    # Residual phase, as the source position error it implies on each baseline, is below 1 arcsec.
    baseline_wavelengths = np.linalg.norm(uvw[mid][cross], axis=1)[:, None] * freqs[None, :] / 299792458.0
    implied_offset_arcsec = np.rad2deg(np.abs(np.angle(v[..., 0])) / (2 * np.pi * baseline_wavelengths)) * 3600
    assert implied_offset_arcsec.max() < 1.0
    autos = vis[mid][~cross].real
    assert np.allclose(autos, 5.0 + cfg.sefd_jy, rtol=1e-3)
    # Away from mid-observation the source drifts through the fixed fringe-stop: phases wind.
    first = vis[:n_bl][(a1 != a2)[:n_bl]]
    assert np.rad2deg(np.abs(np.angle(first))).max() > 10.0


def test_injected_gains_are_in_the_data_as_truth_says(tmp_path):
    cfg = replace(SMALL, n_observations=1, add_noise=False)
    simulate_session(cfg, tmp_path / "g", tmp_path / "gt")
    simulate_session(replace(cfg, apply_gains=False), tmp_path / "u", tmp_path / "ut")
    truth = np.load(tmp_path / "gt" / "gains.npz")
    name = sorted(p.name for p in (tmp_path / "g").glob("*_sb04.hdf5"))[0]
    with_gains, a1, a2 = _read_raw(tmp_path / "g" / name)
    unit, _, _ = _read_raw(tmp_path / "u" / sorted(p.name for p in (tmp_path / "u").glob("*_sb04.hdf5"))[0])
    index = {int(n): i for i, n in enumerate(truth["antenna_numbers"])}
    chans = slice(truth["freqs_hz"].size - 5 * 3, truth["freqs_hz"].size - 4 * 3)  # sb04, ascending
    g = truth["gains"][:, chans][:, ::-1]  # stored descending
    i1, i2 = np.vectorize(index.get)(a1), np.vectorize(index.get)(a2)
    expected = unit * g[i1] * np.conj(g[i2])
    assert np.allclose(with_gains, expected, rtol=1e-4, atol=1e-3)
    amp = np.abs(truth["gains"])
    assert 0.5 < amp.mean() < 1.5 and amp.std() > 0.02  # gains are not trivial


def test_point_source_visibilities_equal_matvis():
    """The simulator's own sky model (geometry once per integration) gives matvis' visibilities."""
    from astropy.time import Time, TimeDelta
    from matvis import simulate_vis

    from dsa110_continuum.simulate.session import _baselines, _field_centre_icrs, point_source_visibilities, select_antennas
    from dsa110_continuum.sky.beam import MeridianAiryBeam

    antennas = select_antennas(6)
    enu = inst.ecef_rel_to_enu_m(inst.station_positions_ecef_rel_m())[antennas]
    idx1, idx2 = _baselines(antennas)
    freqs = inst.band_freqs_hz(16, 2)
    times = Time("2025-06-01T04:40:00") + TimeDelta((np.arange(4) + 0.5) * inst.INTEGRATION_TIME_S, format="sec")
    ra0, dec0 = _field_centre_icrs(times[2].jd, 40.0)
    sources = [SkySource("a", ra0 + 0.3, dec0 - 0.5, 3.0, -0.7), SkySource("b", ra0 - 1.5, dec0 + 0.8, 5.0, 0.2),
               SkySource("c", ra0 + 2.0, dec0, 1.0, 0.0)]
    ours = point_source_visibilities(enu, idx1, idx2, sources, freqs, times, 40.0)
    beam = MeridianAiryBeam(diameter=inst.DISH_DIAMETER_M, dec_deg=40.0, lat_deg=inst.SITE_LAT_DEG)
    reference = simulate_vis({k: enu[k] for k in range(antennas.size)}, np.array([s.flux_at(freqs) for s in sources]),
                             np.deg2rad([s.ra_deg for s in sources]), np.deg2rad([s.dec_deg for s in sources]), freqs,
                             times, [beam], inst.site_location(), precision=2, antpairs=np.stack([idx1, idx2], axis=1))
    reference = 2.0 * np.transpose(reference, (1, 2, 0))  # matvis' XX is I/2; the correlator's (CASA's) is I
    assert np.abs(ours - reference).max() < 1e-6 * np.abs(reference).max()
