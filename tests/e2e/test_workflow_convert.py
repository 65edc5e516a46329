"""End to end: the real Snakemake workflow on tiny simulated data, the MSs checked with real CASA."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from dsa110_continuum import instrument as inst
from dsa110_continuum.ingest.index import read_day_index
from dsa110_continuum.naming import Products
from dsa110_continuum.sky.coords import angular_separation_deg
from helpers import casa_json, checksums, run_snakemake

pytestmark = pytest.mark.e2e


def read_index(run):
    """Every observation's index row; the session's observations all fall on one day."""
    return {row["group_id"]: row for row in read_day_index(Products(run["out"]).day_index("2025-06-01"))}


def test_workflow_finishes_despite_bad_groups(workflow_run):
    run = workflow_run["run"]
    # --keep-going: bad observations fail their own jobs; the run as a whole reports failure.
    assert run.returncode != 0
    assert "Traceback" not in run.stderr  # bad input is reported as a clear line, not a crash
    for case in ("truncated", "misfit", "duplicate", "antennas", "no_flags", "declination"):
        bad_file = workflow_run[case][1]
        assert any(line.startswith("ERROR: BadInputError: ") and bad_file.name in line
                   for line in run.stderr.splitlines()), case
    for group in workflow_run["good_groups"] + [workflow_run["incomplete"]]:
        assert (workflow_run["out"] / "ms" / f"{group}.ms").is_dir(), run.stderr[-3000:]
        assert (workflow_run["out"] / "ms" / f"{group}.json").is_file()


@pytest.mark.parametrize("case, cause", [
    ("truncated", "not a readable UVH5 file"),
    ("misfit", "do not fit subband sb07"),
    ("duplicate", "duplicate subband sb03"),
    ("antennas", "antennas/baselines do not match"),
    ("no_flags", "dataset Data/flags missing"),
    ("declination", "fringe-stop declinations do not match"),
])
def test_bad_group_recorded_as_failed_with_file_and_cause(workflow_run, case, cause):
    group, bad_file = workflow_run[case]
    record = json.loads((workflow_run["out"] / "failures" / "convert" / f"{group}.json").read_text())
    assert cause in record["reason"] and str(bad_file.name) in record["reason"]
    assert record["group"] == group and cause in (workflow_run["out"] / record["log"]).read_text()
    assert not (workflow_run["out"] / "ms" / f"{group}.ms").exists()
    assert not list((workflow_run["out"] / "ms").glob("*.partial"))


def test_group_index_records_every_decision(workflow_run):
    index = read_index(workflow_run)
    skipped = index[workflow_run["skipped"]]
    assert skipped["action"] == "skip" and "10/16" in skipped["reason"]
    incomplete = index[workflow_run["incomplete"]]
    assert incomplete["action"] == "process" and "[14, 15]" in incomplete["reason"]
    for group in workflow_run["good_groups"]:
        row = index[group]
        assert row["action"] == "process" and row["n_subbands"] == 16
        assert row["pointing_dec_deg"] == pytest.approx(30.5)
        truth_mjd = np.mean(next(o for o in workflow_run["truth"]["observations"] if o["group_id"] == group)["time_jd"])
        assert row["mid_mjd"] == pytest.approx(truth_mjd - 2400000.5, abs=1e-6)
    assert len(index) == 10
    # Known from the headers, before any heavy job.
    for case in ("truncated", "misfit", "duplicate", "antennas", "no_flags", "declination"):
        group, bad_file = workflow_run[case]
        assert bad_file.name in index[group]["problem"]
    assert all(not index[g]["problem"] for g in workflow_run["good_groups"])


def test_unrecognised_files_ignored_with_one_warning(workflow_run):
    log = workflow_run["run"].stderr
    warnings = [line for line in log.splitlines() if "not YYYY-MM-DDTHH:MM:SS_sbNN.hdf5" in line]
    assert len(warnings) == 1 and "README.txt" in warnings[0] and "sbXX" in warnings[0]


def test_raw_files_never_modified(workflow_run):
    assert checksums(workflow_run["incoming"]) == workflow_run["checksums_before"]


def test_ms_matches_the_data_contract(workflow_run):
    truth = workflow_run["truth"]
    obs = truth["observations"][0]
    summary = casa_json("summary", str(workflow_run["out"] / "ms" / f"{obs['group_id']}.ms"))
    freqs = np.array(summary["freqs_hz"])
    expected = inst.band_freqs_hz(16, 4)
    assert summary["n_spw"] == 1 and np.allclose(freqs, expected)
    assert np.isclose(summary["channel_width_hz"], inst.channel_width_hz(4))
    ra, dec = obs["field_centre_icrs_deg"]
    assert summary["phase_centre_frame"] == "ICRS"
    assert 3600 * angular_separation_deg(summary["phase_centre_ra_deg"], summary["phase_centre_dec_deg"], ra, dec) < 2.0
    assert summary["telescope_name"] == "OVRO_MMA" and summary["telescope_known_to_casa"]
    assert summary["processor_ids"] == [0] and summary["processor_types"] == ["CORRELATOR"]
    assert summary["antenna_names"] == [str(n) for n in range(1, 118)]
    assert summary["antennas_in_data"] == truth["antenna_numbers"]
    assert np.allclose(summary["antenna_diameters_m"], 4.65)
    assert set(summary["antenna_mounts"]) == {"alt-az"}
    station_ecef = np.array(summary["antenna_positions_m"])
    site = inst.site_location()
    expected_ecef = inst.station_positions_ecef_rel_m() + np.array([site.x.value, site.y.value, site.z.value])
    assert np.allclose(station_ecef, expected_ecef, atol=0.01)
    truth_times_s = (np.array(obs["time_jd"]) - 2400000.5) * 86400.0
    assert np.allclose(summary["times_mjd_s"], truth_times_s, atol=1e-3)
    assert summary["autocorrelations_flagged"] and summary["cross_flagged_fraction"] == 0.0


def test_incomplete_group_has_missing_subbands_flagged(workflow_run):
    summary = casa_json("summary", str(workflow_run["out"] / "ms" / f"{workflow_run['incomplete']}.ms"))
    assert summary["n_channels"] == 64
    assert summary["cross_flagged_fraction"] == pytest.approx(2 / 16)


def test_dirty_image_puts_the_bright_source_at_its_injected_position(workflow_run, tiny_good, tmp_path):
    """The rephasing is right: tclean's dirty image peaks on the injected off-centre source, within a pixel."""
    cell_arcsec = 20.0
    group = workflow_run["good_groups"][0]
    peak = casa_json("dirty-peak", str(workflow_run["out"] / "ms" / f"{group}.ms"),
                     "--image-prefix", str(tmp_path / "dirty"), "--imsize", "256", "--cell-arcsec", str(cell_arcsec))
    bright = tiny_good["bright"]
    offset = 3600 * angular_separation_deg(peak["ra_deg"], peak["dec_deg"], bright.ra_deg, bright.dec_deg)
    assert offset < cell_arcsec, f"peak {offset:.1f} arcsec from the injected source"
    assert peak["peak"] > 5 * peak["rms"]


def test_a_second_run_does_not_retry_bad_input(workflow_run):
    """The broken observations failed on bad input: with their files unchanged, they are not tried again. Only
    the day's status and the database are left to make (the first run could not: their inputs included the
    jobs that failed)."""
    dry = run_snakemake(workflow_run["tmp"], workflow_run["configfile"], "--dry-run")
    assert dry.returncode == 0, dry.stderr[-2000:]
    planned = set(re.findall(r"^(?:local)?rule (\w+):", dry.stdout, flags=re.M))
    assert planned == {"day_status", "products_database", "all"}, planned


def test_declination_without_calibrator_waits_with_the_reason(workflow_run):
    registry = json.loads(open(Products(workflow_run["out"]).registry("2025-06-01")).read())
    assert registry["sets"] == []
    for group in workflow_run["good_groups"]:
        reason = registry["awaiting_reasons"][group]
        assert "no calibrator of the catalogue" in reason and "30.5" in reason


def test_broken_calibrator_catalogue_stops_the_run_at_start_naming_file_and_line(workflow_run, tmp_path):
    import yaml

    catalogue = tmp_path / "calibrators.csv"
    catalogue.write_text("name,ra_deg,dec_deg,flux_1400mhz_jy,spectral_index,casa_standard_name\n"
                         "3C286,202.78,thirty,15.0,-0.5,3C286\n")
    config = yaml.safe_load(workflow_run["configfile"].read_text())
    config.update(output_dir=str(tmp_path / "results"), calibration={"catalogue": str(catalogue)},
                  convert={"keep_ms": False})
    configfile = tmp_path / "config.yaml"
    configfile.write_text(yaml.safe_dump(config))
    run = run_snakemake(tmp_path, configfile)
    assert run.returncode != 0
    output = run.stdout + run.stderr
    assert f"{catalogue}, line 2" in output and "dec_deg" in output and "Traceback" not in output
    assert not (tmp_path / "results" / "groups").exists()  # nothing that needs the catalogue ran
