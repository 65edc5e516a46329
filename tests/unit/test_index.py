"""The index record of an observation: members, pointing, times, and what its headers say is wrong."""

from __future__ import annotations

import shutil

import h5py
import numpy as np
import pytest

from dsa110_continuum.ingest.index import describe_group, read_day_index, write_day_index
from dsa110_continuum.simulate.session import SimulationConfig, simulate_session

CFG = SimulationConfig(n_observations=1, n_antennas=5, n_chan_per_subband=2, n_integrations=3,
                       start_utc="2025-06-01T04:40:00", pointing_dec_deg=54.6, n_field_sources=0, add_noise=False)


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("index")
    truth = simulate_session(CFG, tmp / "in", tmp / "truth")
    return tmp / "in", truth


def test_record_of_a_good_group_has_pointing_and_times(session):
    incoming, truth = session
    obs = truth["observations"][0]
    paths = [str(incoming / name) for name in obs["files"]]
    record = describe_group(obs["group_id"], paths, action="process", reason="complete")
    assert record["problem"] is None and record["subbands"] == list(range(16)) and record["files"] == sorted(paths)
    assert record["pointing_dec_deg"] == pytest.approx(54.6)
    mid_mjd = np.mean(obs["time_jd"]) - 2400000.5
    assert record["mid_mjd"] == pytest.approx(mid_mjd, abs=1e-7)
    half_length_d = 3 * 12.884902 / 2 / 86400
    assert record["start_mjd"] == pytest.approx(mid_mjd - half_length_d, abs=1e-7)
    assert record["end_mjd"] == pytest.approx(mid_mjd + half_length_d, abs=1e-7)


def test_a_broken_member_is_the_problem_yet_the_others_describe_the_group(session, tmp_path):
    incoming, truth = session
    obs = truth["observations"][0]
    for name in obs["files"]:
        shutil.copy2(incoming / name, tmp_path / name)
    broken = tmp_path / obs["files"][0]
    broken.write_bytes(broken.read_bytes()[:5000])
    odd = tmp_path / obs["files"][3]
    with h5py.File(odd, "r+") as f:
        f["Header/freq_array"][...] = f["Header/freq_array"][()] + 5e6
    record = describe_group(obs["group_id"], [str(tmp_path / n) for n in obs["files"]], action="process", reason="")
    assert broken.name in record["problem"] and "not a readable UVH5 file" in record["problem"]
    assert record["pointing_dec_deg"] == pytest.approx(54.6) and record["mid_mjd"] is not None


def test_day_index_round_trip(session, tmp_path):
    incoming, truth = session
    obs = truth["observations"][0]
    record = describe_group(obs["group_id"], [str(incoming / n) for n in obs["files"]], action="process",
                            reason="complete")
    record["calibrator"] = {"calibrator": {"name": "3C286"}, "transit_mjd": 60827.2}
    skipped = {**record, "group_id": "2025-06-01T05:00:00", "action": "skip", "calibrator": None,
               "pointing_dec_deg": None}
    write_day_index([skipped, record], tmp_path / "day.csv")
    rows = read_day_index(tmp_path / "day.csv")
    assert [r["group_id"] for r in rows] == [obs["group_id"], "2025-06-01T05:00:00"]
    assert rows[0]["calibrator"] == "3C286" and rows[0]["calibrator_transit_mjd"] == 60827.2
    assert rows[0]["n_subbands"] == 16 and rows[0]["pointing_dec_deg"] == pytest.approx(54.6)
    assert rows[1]["calibrator"] is None and rows[1]["pointing_dec_deg"] is None
