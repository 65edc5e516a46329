"""Operations on a real output tree: the status command, metrics file and page, cron runs, closed days."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest

from dsa110_continuum.naming import Products, parse_timestamp, raw_filename
from helpers import CHROMIUM, dump_dom, run_snakemake

pytestmark = pytest.mark.e2e
CLI = str(Path(sys.executable).parent / "dsa110-continuum")


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([CLI, *args], capture_output=True, text=True, timeout=900, cwd=cwd,
                          env={**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"})


@pytest.fixture(scope="module")
def status(imaging_runs):
    session = imaging_runs[20.0]
    out = cli("status", "--json", "--configfile", str(session["tmp"] / "config.yaml"), cwd=session["tmp"])
    assert out.returncode == 0, out.stderr[-3000:]
    return session, json.loads(out.stdout)


def test_status_counts_what_the_workflow_made(status):
    session, result = status
    assert result["stages"] == {"seen": 4, "converted": 4, "calibrated": 4, "imaged": 4, "in_mosaic": 4,
                                "skipped": 0, "failed": 0, "waiting": 0}
    (cal_set,) = result["calibration_sets"]
    assert cal_set["status"] == "passed" and cal_set["calibrator"] == "TESTCAL"
    assert [r["group_id"] for r in result["recent_images"]] == session["groups"]
    assert {d["label"] for d in result["disk"]} == {"incoming", "output"}


def test_metrics_file_follows_prometheus_conventions(status):
    from prometheus_client.parser import text_string_to_metric_families

    session, result = status
    text = Path(Products(session["out"]).metrics()).read_text()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    by_stage = {s.labels["stage"]: s.value for s in families["dsa110_observations"].samples}
    assert by_stage == {stage: float(count) for stage, count in result["stages"].items()}
    assert {s.labels["area"] for s in families["dsa110_disk_used_ratio"].samples} == {"incoming", "output"}
    assert all(re.fullmatch(r"dsa110_[a-z_]+", name) for name in families)


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs headless Chromium at /usr/bin/chromium")
def test_status_page_shows_the_json_counts_in_a_browser(status, tmp_path):
    session, result = status
    dom = dump_dom(tmp_path, Path(Products(session["out"]).status_page()))
    for stage, count in result["stages"].items():
        assert re.search(rf'id="count-{stage}"[^>]*>\s*{count}\s*<', dom), stage


def test_two_cron_runs_at_once_one_works_the_other_exits_cleanly(imaging_runs):
    session = imaging_runs[55.0]
    args = ["cron", "--configfile", str(session["tmp"] / "config.yaml"), "--workdir", str(session["tmp"]),
            "--snakefile", str(Path(__file__).resolve().parents[2] / "Snakefile")]
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    runs = [subprocess.Popen([CLI, *args], stderr=subprocess.PIPE, text=True, cwd=session["tmp"], env=env)
            for _ in range(2)]
    codes = [run.wait(timeout=900) for run in runs]
    messages = [run.stderr.read() for run in runs]
    assert codes == [0, 0], messages
    assert sum("another run is active" in m for m in messages) == 1
    record = json.loads(Path(Products(session["out"]).last_run()).read_text())
    assert record["outcome"] == "ok" and (session["out"] / record["log"]).is_file()
    assert Path(Products(session["out"]).status_page()).is_file()


def test_a_finished_day_is_closed_and_left_out_of_later_runs(imaging_runs):
    """Once a later observation (two settled subband files, a day on: skipped) ends the target's strip, its
    last window is made and the day has nothing left to do: it is closed, and a run after that plans nothing."""
    session = imaging_runs[55.0]
    later = parse_timestamp(session["groups"][-1]) + timedelta(days=1)
    for subband in (0, 1):
        path = Path(session["tmp"] / "incoming" / raw_filename(later, subband))
        path.write_bytes(b"")
        os.utime(path, (time.time() - 3600, time.time() - 3600))
    configfile = session["tmp"] / "config.yaml"
    for _ in range(2):  # the first makes the last products; the second sees them all and closes the day
        run = run_snakemake(session["tmp"], configfile)
        assert run.returncode == 0, run.stderr[-3000:]
    day = session["groups"][0][:10]
    state = json.loads(Path(Products(session["out"]).day_status(day)).read_text())
    assert state["closed"], state["waiting"]
    dry = run_snakemake(session["tmp"], configfile, "--dry-run")
    assert "Nothing to be done" in dry.stdout + dry.stderr


def test_the_snakemake_report_holds_the_qa_plots(imaging_runs, tmp_path):
    session = imaging_runs[20.0]
    report = tmp_path / "report.zip"
    run = run_snakemake(session["tmp"], session["tmp"] / "config.yaml", "--report", str(report))
    assert run.returncode == 0, run.stderr[-3000:]
    import zipfile

    names = zipfile.ZipFile(report).namelist()
    n_windows = len(list((session["out"] / "mosaics").glob("*/qa.json")))
    assert n_windows >= 3
    assert sum(name.endswith("/solutions.png") for name in names) == 1, names
    assert sum(name.endswith("/quicklook.png") for name in names) == len(session["kept"]) + n_windows, names
