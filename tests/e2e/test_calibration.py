"""Calibration end to end: real Snakemake, real CASA, checked against the injected gains and sky."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest

from dsa110_continuum.naming import Products
from dsa110_continuum.simulate.truth import gain_errors_against_truth
from dsa110_continuum.sky.beam import beam_along_track
from helpers import casa_json

pytestmark = pytest.mark.e2e


def record(path):
    return json.loads(open(path).read())


def registry(runs):
    """The registry of the session's day (all eight observations are on one day)."""
    return record(Products(runs["out"]).registry(runs["groups"][0][:10]))


def test_runs_finish_and_only_the_ruined_observation_fails_to_image(calibration_runs):
    """The first run has nothing to calibrate yet; in the second, only the observation whose data are all
    flagged (calibrator A's) cannot be imaged, and says so."""
    assert calibration_runs["first"].returncode == 0, calibration_runs["first"].stderr[-4000:]
    second = calibration_runs["second"]
    errors = [line for line in second.stderr.splitlines() if line.startswith("ERROR: ")]
    ruined = calibration_runs["groups"][1]
    # Each error line (the job's, and its retry's saying it is not retried) is about the ruined observation.
    assert errors and all("every cross-correlation is flagged" in e and ruined in e for e in errors), errors
    failure = record(Products(calibration_runs["out"]).failure("image", ruined))
    assert failure["step"] == "image" and "nothing to image" in failure["reason"]
    for group in calibration_runs["groups"]:
        if group != ruined:
            assert record(Products(calibration_runs["out"]).image_qa(group))["passed"]


def test_observations_wait_while_no_set_is_valid(calibration_runs):
    g = calibration_runs["groups"]
    first = calibration_runs["registry_first"]
    assert first["awaiting_calibration"] == g[:4]
    assert calibration_runs["calibrated_first"] == []
    (only_set,) = first["sets"]
    assert only_set["set_id"] == g[1] and only_set["status"] == "failed"


def test_a_later_run_calibrates_them_with_the_next_valid_set(calibration_runs):
    g, paths = calibration_runs["groups"], Products(calibration_runs["out"])
    result = registry(calibration_runs)
    assert result["awaiting_calibration"] == []
    assert result["assignments"] == {group: g[7] for group in g}
    for group in g:
        calibrated = record(paths.calibrated_record(group))
        assert calibrated["calibration_set"] == g[7] and calibrated["calibrator"] == "TESTCAL_B"
        assert (calibration_runs["out"] / "calibrated" / f"{group}.ms").is_dir()


def test_rejected_solve_is_recorded_and_never_applied(calibration_runs):
    g, paths = calibration_runs["groups"], Products(calibration_runs["out"])
    qa = record(paths.solve_qa(g[1]))
    assert qa["passed"] is False and any("no usable data" in reason for reason in qa["reasons"])
    assert {record(paths.calibrated_record(group))["calibration_set"] for group in g} == {g[7]}
    good = record(paths.solve_qa(g[7]))
    assert good["passed"] and good["flagged_fraction"] <= 0.25 and good["n_good_antennas"] == 10
    assert good["calibrator"]["name"] == "TESTCAL_B" and good["refant"]


def test_recovered_gains_match_the_injected_ones(calibration_runs):
    """Phases (relative to the reference antenna) within 2 deg rms, amplitudes and bandpass shape within 2 %."""
    paths, set_id = Products(calibration_runs["out"]), calibration_runs["groups"][7]
    solved = casa_json("solutions", paths.bandpass_table(set_id), paths.gain_table(set_id))
    truth_antennas = np.load(calibration_runs["truth_dir"] / "gains.npz")["antenna_numbers"]
    rows = [solved["antennas"].index(a) for a in truth_antennas]
    assert not np.array(solved["flagged"])[rows].any()
    errors = gain_errors_against_truth(solved, str(calibration_runs["truth_dir"] / "gains.npz"))
    assert errors["phase_rms_deg"] <= 2.0, errors
    assert errors["amplitude_rms"] <= 0.02, errors
    assert errors["bandpass_shape_rms"] <= 0.02, errors


def towards(runs, ms, source, tmp_path):
    vis = casa_json("towards", str(ms), "--ra-deg", str(source.ra_deg), "--dec-deg", str(source.dec_deg),
                    "--work-dir", str(tmp_path))
    return np.array(vis["real"]) + 1j * np.array(vis["imag"]), np.array(vis["freqs_hz"])


def test_calibrated_calibrator_matches_its_model_flux(calibration_runs, tmp_path):
    g, cal = calibration_runs["groups"], calibration_runs["cal_b"]
    vis, freqs = towards(calibration_runs, calibration_runs["out"] / "calibrated" / f"{g[7]}.ms", cal, tmp_path)
    times_jd = calibration_runs["truth"]["observations"][7]["time_jd"]
    beam = beam_along_track(cal.ra_deg, cal.dec_deg, 30.5, np.array(times_jd) - 2400000.5, freqs).mean(axis=0)
    model = cal.flux_at(freqs) * beam
    ratio = np.abs(vis.mean(axis=0)) / model
    assert np.all(np.abs(ratio - 1) <= 0.02), ratio
    assert np.abs(np.angle(vis.mean(axis=0), deg=True)).max() < 2.0


def test_target_source_phases_are_flat_after_calibration(calibration_runs, tmp_path):
    g, source = calibration_runs["groups"], calibration_runs["target"]
    calibrated, _ = towards(calibration_runs, calibration_runs["out"] / "calibrated" / f"{g[4]}.ms", source, tmp_path)
    raw, _ = towards(calibration_runs, calibration_runs["out"] / "ms" / f"{g[4]}.ms", source, tmp_path)
    band_mean = lambda v: v.mean(axis=1)  # per baseline, over channels
    phase_rms = lambda v: np.sqrt(np.mean(np.angle(band_mean(v), deg=True) ** 2))
    assert phase_rms(calibrated) < 10.0
    assert phase_rms(raw) > 40.0  # the injected gains scramble the phases before calibration


def test_apply_matches_casa_applycal(calibration_runs, tmp_path):
    """Our streaming apply gives CASA applycal's CORRECTED_DATA (same tables, same uncalibrated MS)."""
    import shutil

    from casacore import tables

    g, paths = calibration_runs["groups"], Products(calibration_runs["out"])
    copy = tmp_path / "casa.ms"
    shutil.copytree(paths.ms(g[4]), copy)
    casa_json("applycal", str(copy), paths.bandpass_table(g[7]), paths.gain_table(g[7]))
    with tables.table(str(copy), ack=False) as t:
        expected, expected_flags = t.getcol("CORRECTED_DATA"), t.getcol("FLAG")
    with tables.table(str(calibration_runs["out"] / "calibrated" / f"{g[4]}.ms"), ack=False) as t:
        ours, our_flags = t.getcol("DATA"), t.getcol("FLAG")
    assert np.array_equal(our_flags, expected_flags)
    assert np.allclose(ours[~our_flags], expected[~our_flags], rtol=1e-5, atol=1e-5)


def solve_calibrator_b(runs, tmp_path, ms_name: str, out_name: str, solver: str = "stefcal") -> dict:
    """Calibrator B's observation extracted (once per ``ms_name``) and solved with the command-line tools into
    ``out_name``; its solutions."""
    import subprocess
    import sys
    from pathlib import Path

    g, cal = runs["groups"], runs["cal_b"]
    cli = str(Path(sys.executable).parent / "dsa110-continuum")
    ms = tmp_path / ms_name
    if not ms.exists():
        files = [str(runs["tmp"] / "incoming" / name) for name in runs["truth"]["observations"][7]["files"]]
        extracted = subprocess.run([cli, "extract-calibrator", *files, "--ms", str(ms), "--calibrator", cal.name,
                                    str(cal.ra_deg), str(cal.dec_deg)], capture_output=True, text=True, check=True)
        ms.with_suffix(".json").write_text(extracted.stdout)
    subprocess.run([cli, "solve", str(ms), "--index", str(runs["out"] / "groups" / f"{g[7]}.json"),
                    "--extraction-record", str(ms.with_suffix(".json")), "--out", str(tmp_path / out_name),
                    "--bandpass-solver", solver], capture_output=True, check=True)
    return casa_json("solutions", str(tmp_path / out_name / "bandpass.bcal"), str(tmp_path / out_name / "gains.gcal"))


def test_stefcal_bandpass_equals_casa_bandpass(calibration_runs, tmp_path):
    """The default solver and CASA's bandpass task give the same solutions on the same calibrator data."""
    solutions = {solver: solve_calibrator_b(calibration_runs, tmp_path, f"{solver}.ms", f"tables_{solver}", solver)
                 for solver in ("stefcal", "casa")}
    fast, casa = (np.array(solutions[s]["real"]) + 1j * np.array(solutions[s]["imag"]) for s in ("stefcal", "casa"))
    flags = np.array(solutions["stefcal"]["flagged"])
    assert np.array_equal(flags, np.array(solutions["casa"]["flagged"]))
    ratio = fast[~flags] / casa[~flags]
    assert np.abs(np.angle(ratio, deg=True)).max() < 0.05
    assert np.abs(np.abs(ratio) - 1).max() < 1e-3


def test_a_solve_run_again_makes_the_same_tables(calibration_runs, tmp_path):
    """A solve that is retried, or killed and run again, finds its input as it was: the solve flags RFI and
    writes a model, which in the input would flag more data the second time and change the solutions."""
    first = solve_calibrator_b(calibration_runs, tmp_path, "calibrator.ms", "first")
    assert solve_calibrator_b(calibration_runs, tmp_path, "calibrator.ms", "again") == first


def test_changing_a_solve_setting_reruns_only_the_solves_and_what_uses_them(calibration_runs):
    """Snakemake's dry run with another minsnr plans a solve again, and nothing upstream of it."""
    import yaml

    from helpers import run_snakemake

    config = yaml.safe_load((calibration_runs["tmp"] / "config.yaml").read_text())
    config["calibration"]["minsnr"] = 4
    configfile = calibration_runs["tmp"] / "config_minsnr.yaml"
    configfile.write_text(yaml.safe_dump(config))
    run = run_snakemake(calibration_runs["tmp"], configfile, "--dry-run")
    assert run.returncode == 0, run.stderr[-3000:]
    planned = Counter(line.split()[-1].rstrip(":") for line in (run.stdout + run.stderr).splitlines()
                      if line.startswith(("rule ", "localrule ", "checkpoint ", "localcheckpoint ")))
    # A dry run stops at the first solve (a checkpoint: what follows depends on its QA). Nothing upstream of the
    # solves (indexes, conversions) reruns; the solve's calibrator MS is temporary, so its extraction does.
    assert planned == {"extract_calibrator": 1, "solve_calibration": 1, "all": 1}, planned
