import logging
import os
from datetime import datetime, timedelta, timezone

import pytest

from dsa110_continuum.ingest.scan import SubbandFile, group_files, list_incoming, plan_day, readiness
from dsa110_continuum.naming import parse_raw_filename

T0 = datetime(2025, 6, 1, 4, 40, 0, tzinfo=timezone.utc)


def files_at(offsets_s, subbands=None):
    subbands = subbands if subbands is not None else range(len(offsets_s))
    return [SubbandFile(f"/x/{i}", T0 + timedelta(seconds=s), sb) for i, (s, sb) in enumerate(zip(offsets_s, subbands))]


@pytest.mark.parametrize("name, expected", [
    ("2025-06-01T04:40:00_sb00.hdf5", (T0, 0)),
    ("2025-06-01T04:40:00_sb15.hdf5", (T0, 15)),
])
def test_parse_valid_names(name, expected):
    assert parse_raw_filename(name) == expected


@pytest.mark.parametrize("name", [
    "2025-06-01T04:40:00_sb0.hdf5", "2025-06-01 04:40:00_sb00.hdf5", "2025-06-01T04:40:00_sb00.h5",
    "2025-13-01T04:40:00_sb00.hdf5", "2025-06-01T25:40:00_sb00.hdf5", "x2025-06-01T04:40:00_sb00.hdf5",
    "README.txt",
])
def test_parse_rejects_other_names(name):
    assert parse_raw_filename(name) is None


def test_grouping_uses_tolerance_from_first_file_and_earliest_id():
    files = files_at([3, 0, 59, 60, 61, 200], subbands=[0, 1, 2, 3, 4, 5])
    groups = group_files(files, tolerance_s=60)
    assert [g.group_id for g in groups] == ["2025-06-01T04:40:00", "2025-06-01T04:41:01", "2025-06-01T04:43:20"]
    assert groups[0].subbands == [0, 1, 2, 3]  # 60 s after the earliest file still joins; 61 s does not
    assert [g.subbands for g in groups[1:]] == [[4], [5]]


def test_consecutive_observations_are_separate_groups():
    files = files_at([0] * 16 + [309] * 16, subbands=list(range(16)) * 2)
    assert [len(g.files) for g in group_files(files, tolerance_s=60)] == [16, 16]


def test_complete_group_is_processed_immediately():
    (group,) = group_files(files_at([0] * 16, subbands=range(16)))
    assert readiness(group, now=T0, settle_time_s=900).action == "process"


def test_incomplete_group_waits_then_processes_or_skips():
    (group14,) = group_files(files_at([0] * 14, subbands=range(14)))
    (group10,) = group_files(files_at([0] * 10, subbands=range(10)))
    early, late = T0 + timedelta(seconds=899), T0 + timedelta(seconds=901)
    assert readiness(group14, now=early, settle_time_s=900).action == "wait"
    decided = readiness(group14, now=late, settle_time_s=900, min_subbands=12)
    assert decided.action == "process" and "[14, 15]" in decided.reason
    skipped = readiness(group10, now=late, settle_time_s=900, min_subbands=12)
    assert skipped.action == "skip" and "10/16" in skipped.reason


def test_listing_ignores_unrecognised_names_with_one_warning(tmp_path, caplog):
    for name in ["2025-06-01T04:40:00_sb00.hdf5", "notes.txt", "2025-06-01T04:40:00_sbXX.hdf5"]:
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "subdir").mkdir()
    with caplog.at_level(logging.WARNING):
        listing = list_incoming(tmp_path)
    assert [f.subband for f in listing.files(listing.days())] == [0] and listing.days() == ["2025-06-01"]
    assert listing.unrecognised == ["2025-06-01T04:40:00_sbXX.hdf5", "notes.txt"]
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "notes.txt" in warnings[0].getMessage()


def plan(directory, day="2025-06-01", **settings):
    settings = {"tolerance_s": 60, "n_subbands": 16, "min_subbands": 12, "settle_time_s": 900,
                "min_file_age_s": 0} | settings
    return plan_day(list_incoming(directory), day, **settings)


def test_files_still_being_written_are_left_for_later(tmp_path):
    old, new = tmp_path / "2025-06-01T04:40:00_sb00.hdf5", tmp_path / "2025-06-01T04:40:01_sb01.hdf5"
    old.write_bytes(b""), new.write_bytes(b"")
    now = datetime.now(timezone.utc)
    os.utime(old, (now.timestamp() - 120, now.timestamp() - 120))
    (entry,) = plan(tmp_path, min_file_age_s=30, now=now).values()
    assert entry["files"] == [str(old)]


def test_day_plan_keys_by_group_id_with_files_and_decision(tmp_path):
    for sb in range(16):
        (tmp_path / f"2025-06-01T04:40:0{sb % 3}_sb{sb:02d}.hdf5").write_bytes(b"")
    result = plan(tmp_path)
    assert list(result) == ["2025-06-01T04:40:00"]
    assert result["2025-06-01T04:40:00"]["action"] == "process"
    assert len(result["2025-06-01T04:40:00"]["files"]) == 16


def test_an_observation_straddling_midnight_belongs_to_the_day_it_starts(tmp_path):
    for sb in range(16):
        (tmp_path / f"2025-06-01T23:59:{40 + sb}_sb{sb:02d}.hdf5").write_bytes(b"")
    for sb in range(16):
        (tmp_path / f"2025-06-02T00:04:50_sb{sb:02d}.hdf5").write_bytes(b"")
    first, second = plan(tmp_path, "2025-06-01"), plan(tmp_path, "2025-06-02")
    assert list(first) == ["2025-06-01T23:59:40"] and len(first["2025-06-01T23:59:40"]["files"]) == 16
    assert list(second) == ["2025-06-02T00:04:50"]


def test_waiting_reason_is_stable_until_the_group_settles(tmp_path):
    t0 = datetime(2025, 6, 1, 4, 45, tzinfo=timezone.utc)
    for sb in range(14):
        path = tmp_path / f"2025-06-01T04:40:00_sb{sb:02d}.hdf5"
        path.write_bytes(b"")
        os.utime(path, (t0.timestamp() - 60, t0.timestamp() - 60))
    early = [plan(tmp_path, now=t0 + timedelta(seconds=s))["2025-06-01T04:40:00"] for s in (0, 60)]
    assert early[0] == early[1] and early[0]["action"] == "wait" and "04:55:00" in early[0]["reason"]
    assert plan(tmp_path, now=t0 + timedelta(minutes=11))["2025-06-01T04:40:00"]["action"] == "process"
