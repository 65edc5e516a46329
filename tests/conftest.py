"""Shared fixtures: tiny simulated DSA-110 sessions and one Snakemake run of the workflow per test session."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from dataclasses import replace
from datetime import timedelta

import h5py
import numpy as np
import pytest
import yaml

from dsa110_continuum.naming import Products, parse_timestamp, raw_filename
from dsa110_continuum.simulate.session import RfiConfig, SkySource
from helpers import (CORE_ANTENNAS, TINY, bright_source_near_centre, checksums, files_of, ra_where_beam_is,
                     run_snakemake, simulate, write_catalogue)


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

    # Eight more observations, an hour later, each damaged in its own way.
    bad_in, _, bad_truth = simulate(tmp / "bad", replace(TINY, n_observations=8, start_utc="2025-06-01T05:40:00"))
    groups = [o["group_id"] for o in bad_truth["observations"]]
    files = [files_of(bad_in, k, bad_truth) for k in range(8)]
    for group_files in files:
        for path in group_files:
            shutil.copy2(path, incoming / path.name)
    by_sb = [{int(p.name[-7:-5]): incoming / p.name for p in group_files} for group_files in files]

    truncated = by_sb[0][5]
    truncated.write_bytes(truncated.read_bytes()[:20000])
    misfit = by_sb[1][7]
    with h5py.File(misfit, "r+") as f:
        f["Header/freq_array"][...] = f["Header/freq_array"][()] + 3.0e6
    duplicate = next(path for seconds in range(1, 10) if not (path := incoming / raw_filename(
        parse_timestamp(groups[2]) + timedelta(seconds=seconds), 3)).exists())  # a name the jitter left free
    shutil.copy2(by_sb[2][3], duplicate)
    antennas = by_sb[3][9]
    with h5py.File(antennas, "r+") as f:
        ant2 = f["Header/ant_2_array"][()]
        f["Header/ant_2_array"][...] = np.where(ant2 == ant2.max(), 50, ant2)
    for sb in (14, 15):  # 14 of 16 subbands: converted with the missing channels flagged
        by_sb[4][sb].unlink()
    for sb in range(10, 16):  # 10 of 16: skipped
        by_sb[5][sb].unlink()
    no_flags = by_sb[6][2]
    with h5py.File(no_flags, "r+") as f:
        del f["Data/flags"]
    declination = by_sb[7][11]
    with h5py.File(declination, "r+") as f:
        f["Header/extra_keywords/phase_center_dec"][...] += np.deg2rad(1.0)
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
        "no_flags": (groups[6], no_flags), "declination": (groups[7], declination),
        "truth": tiny_good["truth"], "bad_truth": bad_truth,
    }


@pytest.fixture(scope="session")
def calibration_runs(tmp_path_factory):
    """Eight full-length observations with injected gains: calibrator A transits in obs1 (ruined: all
    flagged), B in obs7, a bright target source sits in obs4 (each ~3 deg, a primary-beam null, from the others).

    Run 1 sees obs0-3 only (no valid set: all wait); run 2 sees all eight (everything uses B). Without RFI
    flagging, so that the calibrated data compare with CASA applycal's; small images (1 deg).
    """
    tmp = tmp_path_factory.mktemp("calibration")
    cfg = replace(TINY, n_observations=8, n_integrations=24, n_field_sources=2, field_flux_range_jy=(0.05, 0.3))
    probe = simulate(tmp / "probe", replace(cfg, n_field_sources=0, add_noise=False))[2]
    centre = [o["field_centre_icrs_deg"] for o in probe["observations"]]
    cal_a = SkySource("TESTCAL_A", centre[1][0], centre[1][1] + 0.1, 15.0, -0.5)
    cal_b = SkySource("TESTCAL_B", centre[7][0], centre[7][1] - 0.1, 15.0, -0.5)
    target = SkySource("bright", centre[4][0] + 0.3, centre[4][1] - 0.2, 5.0, 0.0)
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
              # calibration alone (no flagging, no bright-source subtraction): the calibrated MSs compare with
              # CASA applycal's and hold the calibrators at their model flux
              "calibration": {"catalogue": str(catalogue), "bright_source_min_apparent_jy": None},
              "flag": {"flagger": "none"}, "image": {"fov_deg": 1.0}}
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




def imaging_session(tmp: Path, dec_deg: float, *, n_observations=4, keep=(0, 3), rfi=None) -> dict:
    """Consecutive observations at one declination, of which ``keep`` are kept. A calibrator transits in
    the first; the last (the target) holds sources at its centre and where its drift beam is 0.3, east and
    west, plus a faint one, and another lies midway between the last two observations (for mosaics of two
    observations, which the session's windows are). Every source has a flat spectrum. The real 768 channels,
    so that, as in real data, a visibility's noise is far above the sky's signal (which RFI flagging must not
    take for RFI); twelve core antennas (baselines up to ~600 m), so that images of the whole primary beam
    stay small."""
    cfg = replace(TINY, n_observations=n_observations, n_integrations=24, n_chan_per_subband=48, n_field_sources=0,
                  pointing_dec_deg=dec_deg, antennas=CORE_ANTENNAS)
    probe = simulate(tmp / "probe", replace(cfg, add_noise=False))[2]
    first, before, target = (probe["observations"][k] for k in (0, -2, -1))
    ra, dec = target["field_centre_icrs_deg"]
    cos_dec = np.cos(np.deg2rad(dec))
    calibrator = SkySource("TESTCAL", first["field_centre_icrs_deg"][0], first["field_centre_icrs_deg"][1] + 0.1,
                           20.0, 0.0)
    sources = [SkySource("centre", ra + 0.05 / cos_dec, dec + 0.05, 2.0, 0.0),
               SkySource("east", ra_where_beam_is(0.3, +1, dec + 0.25, target, dec_deg), dec + 0.25, 4.0, 0.0),
               SkySource("west", ra_where_beam_is(0.3, -1, dec - 0.25, target, dec_deg), dec - 0.25, 4.0, 0.0),
               SkySource("faint", ra - 0.3 / cos_dec, dec + 0.7, 0.12, 0.0),
               SkySource("between", 0.5 * (ra + before["field_centre_icrs_deg"][0]), dec - 0.6, 1.5, 0.0)]
    incoming_all, truth_dir, truth = simulate(tmp / "sim", replace(cfg, calibrators=[calibrator], extra_sources=sources,
                                                                   rfi=rfi))
    incoming = tmp / "incoming"
    incoming.mkdir()
    for k in keep:
        for path in files_of(incoming_all, k, truth):
            shutil.copy2(path, incoming / path.name)
    config = {"incoming_dir": str(incoming), "output_dir": str(tmp / "results"), "ingest": {"min_file_age_s": 0},
              "calibration": {"catalogue": str(write_catalogue(tmp / "calibrators.csv", [calibrator]))},
              "image": {"fov_deg": 4.6}, "mosaic": {"window_size": 2, "window_overlap": 1},
              "science": {"reference_catalogue": str(truth_dir / "reference_catalogue.csv")}}
    configfile = tmp / "config.yaml"
    configfile.write_text(yaml.safe_dump(config))
    run = run_snakemake(tmp, configfile)
    groups = [o["group_id"] for o in truth["observations"]]
    return {"tmp": tmp, "out": tmp / "results", "run": run, "truth": truth, "truth_dir": truth_dir, "dec": dec_deg,
            "groups": groups, "kept": [groups[k] for k in keep], "target": groups[-1],
            "target_truth": truth["observations"][-1], "sources": sources, "calibrator": calibrator}


@pytest.fixture(scope="session")
def imaging_runs(tmp_path_factory):
    """The workflow imaging the same kind of field at dec +20 (all four observations and their mosaics, with
    narrow-band RFI lines and broadband bursts injected) and at +55 (the calibrator's observation and the target
    five observations later, where the 20 Jy calibrator is near the primary beam's first null; closer, its
    sidelobes in a twelve-antenna snapshot would bias the target's sources by up to 20 %)."""
    return {20.0: imaging_session(tmp_path_factory.mktemp("imaging+20"), 20.0, keep=(0, 1, 2, 3), rfi=RfiConfig()),
            55.0: imaging_session(tmp_path_factory.mktemp("imaging+55"), 55.0, n_observations=5, keep=(0, 4))}


@pytest.fixture(scope="session")
def science_run(tmp_path_factory):
    """Six consecutive observations at dec +30.5 with 25 field sources each (0.15-1.5 Jy), five of which vary by
    1.8x between observations, a calibrator in the first, and a reference catalogue misplaced by (+3.0", -2.0")
    and 10 % too bright: the workflow makes images, mosaics of three, catalogues, cross-matches, forced
    photometry and the products database (SQLite)."""
    tmp = tmp_path_factory.mktemp("science")
    cfg = replace(TINY, n_observations=6, n_integrations=24, n_chan_per_subband=48, antennas=CORE_ANTENNAS,
                  n_field_sources=25, field_flux_range_jy=(0.15, 1.5), n_variable_sources=5, variability_factor=1.8,
                  reference_offset_arcsec=(3.0, -2.0), reference_flux_scale=1.1)
    probe = simulate(tmp / "probe", replace(cfg, n_field_sources=0, add_noise=False))[2]
    first = probe["observations"][0]["field_centre_icrs_deg"]
    calibrator = SkySource("TESTCAL", first[0], first[1] + 0.1, 20.0, 0.0)
    incoming, truth_dir, truth = simulate(tmp, replace(cfg, calibrators=[calibrator]))
    config = {"incoming_dir": str(incoming), "output_dir": str(tmp / "results"), "ingest": {"min_file_age_s": 0},
              "calibration": {"catalogue": str(write_catalogue(tmp / "calibrators.csv", [calibrator]))},
              "mosaic": {"window_size": 3, "window_overlap": 1},
              "science": {"reference_catalogue": str(truth_dir / "reference_catalogue.csv")}}
    configfile = tmp / "config.yaml"
    configfile.write_text(yaml.safe_dump(config))
    run = run_snakemake(tmp, configfile)
    return {"tmp": tmp, "out": tmp / "results", "run": run, "truth": truth, "truth_dir": truth_dir,
            "configfile": configfile, "groups": [o["group_id"] for o in truth["observations"]]}
