"""Shared fixtures: tiny simulated DSA-110 sessions and one Snakemake run of the workflow per test session."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from datetime import timedelta

import h5py
import numpy as np
import pytest
import yaml

from dsa110_continuum.naming import Products, format_timestamp, parse_timestamp
from dsa110_continuum.simulate.session import SkySource
from helpers import TINY, bright_source_near_centre, checksums, files_of, run_snakemake, simulate, write_catalogue


@pytest.fixture(scope="session")
def tiny_good(tmp_path_factory):
    """Two complete observations with unit gains and a bright source off the phase centre."""
    tmp = tmp_path_factory.mktemp("tiny_good")
    probe = simulate(tmp / "probe", replace(TINY, n_observations=1, n_field_sources=0))[2]
    cfg = replace(TINY, apply_gains=False, extra_sources=[bright_source_near_centre(probe)])
    incoming, truth_dir, truth = simulate(tmp, cfg)
    return {"incoming": incoming, "truth_dir": truth_dir, "truth": truth, "bright": cfg.extra_sources[0]}


@pytest.fixture(scope="session")
def workflow_run(tmp_path_factory, tiny_good):
    """One Snakemake run over good, incomplete and broken observations; returns what the tests inspect."""
    tmp = tmp_path_factory.mktemp("workflow")
    incoming = tmp / "incoming"
    shutil.copytree(tiny_good["incoming"], incoming)

    # Five more observations, an hour later, each damaged in its own way.
    bad_in, _, bad_truth = simulate(tmp / "bad", replace(TINY, n_observations=6, start_utc="2025-06-01T05:40:00"))
    groups = [o["group_id"] for o in bad_truth["observations"]]
    files = [files_of(bad_in, k, bad_truth) for k in range(6)]
    for group_files in files:
        for path in group_files:
            shutil.copy2(path, incoming / path.name)
    by_sb = [{int(p.name[-7:-5]): incoming / p.name for p in group_files} for group_files in files]

    truncated = by_sb[0][5]
    truncated.write_bytes(truncated.read_bytes()[:20000])
    misfit = by_sb[1][7]
    with h5py.File(misfit, "r+") as f:
        f["Header/freq_array"][...] = f["Header/freq_array"][()] + 3.0e6
    duplicate = incoming / f"{format_timestamp(parse_timestamp(groups[2]) + timedelta(seconds=2))}_sb03.hdf5"
    shutil.copy2(by_sb[2][3], duplicate)
    antennas = by_sb[3][9]
    with h5py.File(antennas, "r+") as f:
        ant2 = f["Header/ant_2_array"][()]
        f["Header/ant_2_array"][...] = np.where(ant2 == ant2.max(), 50, ant2)
    for sb in (14, 15):  # 14 of 16 subbands: converted with the missing channels flagged
        by_sb[4][sb].unlink()
    for sb in range(10, 16):  # 10 of 16: skipped
        by_sb[5][sb].unlink()
    (incoming / "README.txt").write_text("not data\n")
    (incoming / "2025-06-01T06:30:00_sbXX.hdf5").write_bytes(b"")

    for path in incoming.iterdir():
        path.chmod(0o444)
    before = checksums(incoming)

    out = tmp / "results"
    config = {"incoming_dir": str(incoming), "output_dir": str(out),
              "ingest": {"settle_time_s": 600, "min_subbands": 12, "min_file_age_s": 0}, "convert": {"keep_ms": True}}
    configfile = tmp / "config.yaml"
    configfile.write_text(yaml.safe_dump(config))
    run = run_snakemake(tmp, configfile)
    return {
        "tmp": tmp, "incoming": incoming, "out": out, "configfile": configfile, "run": run,
        "checksums_before": before, "good_groups": [o["group_id"] for o in tiny_good["truth"]["observations"]],
        "truncated": (groups[0], truncated), "misfit": (groups[1], misfit), "duplicate": (groups[2], duplicate),
        "antennas": (groups[3], antennas), "incomplete": groups[4], "skipped": groups[5],
        "truth": tiny_good["truth"], "bad_truth": bad_truth,
    }


@pytest.fixture(scope="session")
def calibration_runs(tmp_path_factory):
    """Eight full-length observations with injected gains: calibrator A transits in obs1 (ruined: all
    flagged), B in obs7, a bright target source sits in obs4 (each ~3 deg, a primary-beam null, from the others).

    Run 1 sees obs0-3 only (no valid set: all wait); run 2 sees all eight (everything uses B).
    """
    tmp = tmp_path_factory.mktemp("calibration")
    cfg = replace(TINY, n_observations=8, n_integrations=24, n_field_sources=2, field_flux_range_jy=(0.05, 0.3))
    probe = simulate(tmp / "probe", replace(cfg, n_field_sources=0, add_noise=False))[2]
    centre = [o["field_centre_icrs_deg"] for o in probe["observations"]]
    cal_a = SkySource("TESTCAL_A", centre[1][0], centre[1][1] + 0.1, 15.0, -0.5)
    cal_b = SkySource("TESTCAL_B", centre[7][0], centre[7][1] - 0.1, 15.0, -0.5)
    target = SkySource("bright", centre[4][0] + 0.3, centre[4][1] - 0.2, 5.0, -0.7)
    incoming_all, truth_dir, truth = simulate(tmp / "sim", replace(cfg, calibrators=[cal_a, cal_b], extra_sources=[target]))
    groups = [o["group_id"] for o in truth["observations"]]
    for name in truth["observations"][1]["files"]:  # ruin calibrator A's observation
        with h5py.File(incoming_all / name, "r+") as f:
            f["Data/flags"][...] = True

    incoming = tmp / "incoming"
    incoming.mkdir()
    catalogue = write_catalogue(tmp / "calibrators.csv", [cal_a, cal_b])
    config = {"incoming_dir": str(incoming), "output_dir": str(tmp / "results"),
              "ingest": {"min_file_age_s": 0}, "convert": {"keep_ms": True},
              "calibration": {"catalogue": str(catalogue)}}
    configfile = tmp / "config.yaml"
    configfile.write_text(yaml.safe_dump(config))

    def add(observations):
        for k in observations:
            for name in truth["observations"][k]["files"]:
                shutil.copy2(incoming_all / name, incoming / name)

    add([0, 1, 2, 3])
    first = run_snakemake(tmp, configfile)
    registry_first = json.loads(open(Products(tmp / "results").registry(groups[0][:10])).read())
    calibrated_first = sorted(p.name for p in (tmp / "results").glob("calibrated/*.json"))
    add([4, 5, 6, 7])
    second = run_snakemake(tmp, configfile)
    return {"tmp": tmp, "out": tmp / "results", "groups": groups, "truth": truth, "truth_dir": truth_dir,
            "first": first, "second": second, "registry_first": registry_first, "calibrated_first": calibrated_first,
            "cal_a": cal_a, "cal_b": cal_b, "target": target}
