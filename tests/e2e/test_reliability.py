"""Reliability: the workflow killed with SIGKILL at random points, then resumed, makes exactly what an
uninterrupted run makes; damaged calibration tables, a full disk and an unwritable output area are reported
clearly and cost nothing; an invalid config stops the run at start naming the key."""

from __future__ import annotations

import base64
import csv
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import yaml
from astropy.io import fits

from dsa110_continuum.naming import Products
from dsa110_continuum.products.db import connect, dump
from dsa110_continuum.simulate.session import SkySource
from helpers import BIN, CORE_ANTENNAS, REPO, TINY, checksums, run_snakemake, simulate, write_catalogue

pytestmark = pytest.mark.e2e

N_KILLS = 20
ARTIFACTS = REPO / "test-artifacts"
TABLE_SUFFIXES = (".ms", ".bcal", ".gcal")  # directories: Measurement Sets and calibration tables


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    """Four observations with a calibrator in the first, field sources and a reference catalogue: every stage
    from conversion to the database runs on them, in seconds per job. The real 768 channels: the RFI flagger
    relies on sky fringes being smooth from one channel to the next, which 16x wider channels are not."""
    tmp = tmp_path_factory.mktemp("reliability")
    cfg = replace(TINY, n_observations=4, n_integrations=6, n_chan_per_subband=48, antennas=CORE_ANTENNAS,
                  n_field_sources=8, field_flux_range_jy=(0.5, 2.0), n_variable_sources=2)
    probe = simulate(tmp / "probe", replace(cfg, n_field_sources=0, add_noise=False))[2]
    first = probe["observations"][0]["field_centre_icrs_deg"]
    calibrator = SkySource("TESTCAL", first[0], first[1] + 0.1, 20.0, 0.0)
    incoming, truth_dir, truth = simulate(tmp, replace(cfg, calibrators=[calibrator]))
    for path in incoming.iterdir():
        path.chmod(0o444)
    config = {"incoming_dir": str(incoming), "ingest": {"min_file_age_s": 0},
              "calibration": {"catalogue": str(write_catalogue(tmp / "calibrators.csv", [calibrator]))},
              "mosaic": {"window_size": 2, "window_overlap": 1},
              "science": {"reference_catalogue": str(truth_dir / "reference_catalogue.csv")},
              # One imaging thread: WSClean's multithreaded sums differ by ~1e-7 of the peak from run to run.
              "resources": {"image": {"mem_mb": 6000, "runtime_min": 30, "threads": 1}}}
    return {"tmp": tmp, "incoming": incoming, "config": config, "truth": truth,
            "groups": [o["group_id"] for o in truth["observations"]]}


def workspace(session, name: str, **config) -> tuple[Path, Path, Path]:
    """A working directory with its own output directory and config file."""
    workdir = session["tmp"] / name
    workdir.mkdir()
    out = Path(config.pop("output_dir", workdir / "results"))
    configfile = workdir / "config.yaml"
    configfile.write_text(yaml.safe_dump({**session["config"], **config, "output_dir": str(out)}))
    return workdir, out, configfile


@pytest.fixture(scope="module")
def uninterrupted(session):
    workdir, out, configfile = workspace(session, "uninterrupted")
    run = run_snakemake(workdir, configfile)
    assert run.returncode == 0, run.stderr[-3000:]
    return out


# ------------------------------------------------------------------------------------------------ kill tests

def running_outputs(workdir: Path, since: float = 0.0) -> list[str]:
    """Outputs of the jobs Snakemake started (after ``since``) and has not finished: its incomplete markers."""
    markers = workdir / ".snakemake" / "incomplete"
    started = [m for m in markers.iterdir() if m.stat().st_mtime >= since] if markers.is_dir() else []
    return sorted(base64.b64decode(m.name).decode() for m in started if m.name != "migration_underway")


def stage_of(path: str, out: Path) -> str:
    parts = Path(path).relative_to(out).parts
    return "/".join(parts[:2]) if parts[:2] in (("calibration", "registry"), ("mosaics", "plan")) else parts[0]


def product_files(out: Path) -> list[Path]:
    """Every file at a product's final name: what a later job or user may take as complete."""
    files = []
    for root, dirs, names in os.walk(out):
        dirs[:] = [d for d in dirs if not d.startswith(".") and ".partial" not in d and d not in ("logs", "status")
                   and not d.endswith(TABLE_SUFFIXES)]
        files += [Path(root) / n for n in names if not n.startswith(".") and ".partial" not in n]
    return sorted(files)


def assert_whole(path: Path) -> None:
    """A product that exists under its final name is complete and readable."""
    if path.suffix == ".json":
        json.loads(path.read_text())
    elif path.suffix == ".fits":
        with fits.open(path) as hdul:
            assert np.isfinite(hdul[0].data).any(), path
    elif path.suffix == ".csv":
        with open(path, newline="") as handle:
            rows = list(csv.reader(handle))
        assert rows and all(len(r) == len(rows[0]) for r in rows), path
    elif path.suffix == ".png":
        assert path.read_bytes()[-8:-4] == b"IEND", path
    elif path.suffix == ".sqlite":
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
            assert db.execute("pragma integrity_check").fetchone()[0] == "ok", path


def assert_tables_whole(out: Path) -> None:
    """Every Measurement Set and calibration table under its final name has its table files."""
    for table in (p for p in out.rglob("*") if p.is_dir() and p.name.endswith(TABLE_SUFFIXES)):
        assert (table / "table.dat").stat().st_size > 0 and (table / "table.f0").is_file(), table


def snakemake_command(workdir: Path, configfile: Path) -> list[str]:
    return [str(BIN / "snakemake"), "-s", str(REPO / "Snakefile"), "--directory", str(workdir),
            "--configfile", str(configfile), "--cores", "2"]


@pytest.fixture(scope="module")
def killed_and_resumed(session, uninterrupted):
    """The workflow started and killed (SIGKILL to it and every job it started) N_KILLS times, each time once a
    job is running and a random 0.5-6 s later, checking after every kill that no half-written product sits under
    its final name; then run to the end. A job killed twice in a row is let finish the next time, so that one
    longer than the kill windows (the solve takes ~5 s) cannot hold the run at one stage."""
    workdir, out, configfile = workspace(session, "killed")
    rng = np.random.default_rng(110)
    kills, interrupted_before = [], []
    before = checksums(session["incoming"])
    while len(kills) < N_KILLS:
        started = time.time() - 1  # marker times are whole seconds on some file systems
        spared = set(interrupted_before[-1]) & set(interrupted_before[-2]) if len(interrupted_before) >= 2 else set()
        with open(workdir / f"attempt{len(kills)}.log", "w") as log:
            proc = subprocess.Popen(snakemake_command(workdir, configfile), cwd=REPO, stdout=log, stderr=log,
                                    start_new_session=True)
        while proc.poll() is None and (not (running := running_outputs(workdir, started)) or spared & set(running)):
            time.sleep(0.05)
        try:
            proc.wait(timeout=rng.uniform(0.5, 6.0))
            break  # it finished before the kill: nothing left to interrupt
        except subprocess.TimeoutExpired:
            interrupted = running_outputs(workdir, started)
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            # What the operator (or the cron command) does after a kill: clear the lock the dead run left.
            subprocess.run([*snakemake_command(workdir, configfile), "--unlock"], cwd=REPO, capture_output=True,
                           check=True)
        interrupted_before.append(interrupted)
        kills.append(sorted({stage_of(path, out) for path in interrupted}))
        for path in product_files(out):
            assert_whole(path)
        assert_tables_whole(out)
    final = run_snakemake(workdir, configfile)
    assert checksums(session["incoming"]) == before
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "kill_points.json").write_text(json.dumps(kills, indent=1))
    return {"out": out, "kills": kills, "final": final}


def test_killed_runs_resume_to_completion(killed_and_resumed):
    final = killed_and_resumed["final"]
    assert final.returncode == 0, final.stderr[-3000:]
    kills = killed_and_resumed["kills"]
    assert len(kills) == N_KILLS
    # Most kills land while jobs run (the others during Snakemake's start), and the kills catch every stage
    # whose jobs write for seconds: calibration tables, calibrated MSs, images. Which short stages (group
    # records, the registry) are caught as well depends on timing.
    assert sum(bool(killed) for killed in kills) >= N_KILLS // 2, kills
    assert {"calibration", "calibrated", "images"} <= {stage for killed in kills for stage in killed}, kills


def fits_data(path: Path) -> np.ndarray:
    with fits.open(path) as hdul:
        return np.nan_to_num(hdul[0].data, nan=-1e30)


def test_killed_runs_make_the_same_products(killed_and_resumed, uninterrupted):
    out = killed_and_resumed["out"]
    expected = {p.relative_to(uninterrupted) for p in product_files(uninterrupted)}
    made = {p.relative_to(out) for p in product_files(out)}
    assert made == expected
    for relative in sorted(expected):
        mine, reference = out / relative, uninterrupted / relative
        if relative.suffix == ".fits":
            assert np.array_equal(fits_data(mine), fits_data(reference)), relative
        elif relative.suffix == ".json" and relative.parts[0] not in ("days",):
            assert comparable(mine) == comparable(reference), relative
        elif relative.suffix == ".csv":
            assert mine.read_text() == reference.read_text(), relative


def comparable(record_path: Path) -> dict:
    """A JSON record without what differs between any two runs: when it was made, and where its database is."""
    record = json.loads(record_path.read_text())
    return {k: v for k, v in record.items() if not k.endswith("_at") and k != "database"}


def test_killed_runs_make_the_same_database(killed_and_resumed, uninterrupted):
    def rows(out):
        tables = dump(connect(f"sqlite:///{Products(out).database()}"))
        tables.pop("days")  # a signature of file times
        return tables

    assert rows(killed_and_resumed["out"]) == rows(uninterrupted)


# ------------------------------------------------------------------------------------------------ bad input

def test_invalid_config_stops_the_run_naming_key_and_allowed_values(session):
    workdir, out, configfile = workspace(session, "invalid", flag={"flagger": "aoflager"})
    run = run_snakemake(workdir, configfile)
    assert run.returncode != 0
    assert "flag.flagger" in run.stderr and "'aoflager' is not one of" in run.stderr and "aoflagger" in run.stderr
    assert "Traceback" not in run.stderr and not out.exists()


def test_a_solve_killed_between_its_tables_and_its_qa_record_is_redone(session, uninterrupted):
    """A kill can leave a solve with its tables in place and no QA record, which it writes last. The next run redoes
    the solve and makes every product the uninterrupted run made. (With the tables listed first, Snakemake took the
    checkpoint for done, and every later run found nothing to do.)"""
    workdir, out, configfile = workspace(session, "solve-cut-short")
    for stage in ("plan", "index", "groups", "calibration"):
        shutil.copytree(uninterrupted / stage, out / stage)
    paths, calibrator_group = Products(out), session["groups"][0]
    for path in (paths.solve_qa(calibrator_group), paths.solution_plot(calibrator_group)):
        os.remove(path)
    run = run_snakemake(workdir, configfile)
    assert run.returncode == 0, run.stderr[-3000:]
    assert os.path.exists(paths.solve_qa(calibrator_group))
    assert {p.relative_to(out) for p in product_files(out)} == \
        {p.relative_to(uninterrupted) for p in product_files(uninterrupted)}


def test_corrupt_calibration_table_fails_the_observations_that_use_it(session):
    workdir, out, configfile = workspace(session, "corrupt-caltable")
    paths = Products(out)
    calibrator_group = session["groups"][0]
    solved = run_snakemake(workdir, configfile, paths.solve_qa(calibrator_group))
    assert solved.returncode == 0, solved.stderr[-3000:]
    table = Path(paths.bandpass_table(calibrator_group))
    (table / "table.f0").write_bytes(b"\0" * 64)
    run = run_snakemake(workdir, configfile)
    assert run.returncode != 0 and "Traceback" not in run.stderr
    for group in session["groups"]:
        record = json.loads(Path(paths.failure("apply", group)).read_text())
        assert str(table) in record["reason"] and "cannot be read" in record["reason"], record
        assert record["permanent"] and not Path(paths.calibrated_ms(group)).exists()
    assert any(line.startswith("ERROR: CalibrationTableError: ") and str(table) in line
               for line in run.stderr.splitlines())
    again = run_snakemake(workdir, configfile, "--dry-run")
    assert "apply_calibration" not in again.stdout, "bad input must not be retried while it is unchanged"


def mount_tmpfs(path: Path, *options: str) -> None:
    path.mkdir()
    mount = subprocess.run(["mount", "-t", "tmpfs", "-o", ",".join(options), "tmpfs", str(path)],
                           capture_output=True, text=True)
    if mount.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({mount.stderr.strip()})")


@pytest.fixture
def small_disk(session):
    path = session["tmp"] / "small-disk"
    mount_tmpfs(path, "size=3m")
    yield path
    subprocess.run(["umount", "-l", str(path)], check=False)


def test_a_full_disk_is_named_costs_nothing_and_the_next_run_recovers(session, small_disk, uninterrupted):
    workdir, out, configfile = workspace(session, "disk-full", output_dir=small_disk / "results")
    full = run_snakemake(workdir, configfile)
    assert full.returncode != 0 and "Traceback" not in full.stderr
    assert f"no space left on the device writing {out}" in full.stderr, full.stderr[-3000:]
    # Where a record still fitted, it says the same and lets the next run retry.
    for record in map(json.loads, map(Path.read_text, (out / "failures").glob("*/*.json"))):
        assert "no space left on the device" in record["reason"] and not record["permanent"]
    assert not [p for p in out.rglob("*") if ".partial" in p.name], "a failed write left its temporary file"
    for path in product_files(out):
        if "failures" not in path.parts:
            assert_whole(path)
    assert_tables_whole(out)
    subprocess.run(["mount", "-o", "remount,size=400m", str(small_disk)], check=True)
    resumed = run_snakemake(workdir, configfile)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert not list((out / "failures").glob("*/*.json"))
    for relative in ("mosaics", "images"):
        assert sorted(p.name for p in (out / relative).iterdir()) == sorted(
            p.name for p in (uninterrupted / relative).iterdir())


def test_an_unwritable_output_directory_is_named_at_start(session):
    readonly = session["tmp"] / "read-only-disk"
    mount_tmpfs(readonly, "ro", "size=1m")
    try:
        workdir, out, configfile = workspace(session, "read-only", output_dir=readonly / "results")
        run = run_snakemake(workdir, configfile)
    finally:
        subprocess.run(["umount", "-l", str(readonly)], check=False)
    assert run.returncode != 0 and "Traceback" not in run.stderr
    assert f"output_dir {readonly / 'results'} cannot be written (read-only file system" in run.stderr
