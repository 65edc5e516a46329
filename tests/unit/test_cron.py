"""The cron entry point: one run at a time, a log per run, the outcome recorded, stale locks, SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from dsa110_continuum.naming import Products

RUNNER = """
import sys
from dsa110_continuum.ops import cron
sys.exit(cron.run(sys.argv[3:], output_dir=sys.argv[1], workdir=sys.argv[2], snakemake=sys.argv[3]))
"""


@pytest.fixture
def fake_snakemake(tmp_path):
    """A stand-in for snakemake: logs its arguments, sleeps or fails as told, and shows how it was stopped."""
    script = tmp_path / "fake-snakemake"
    script.write_text(textwrap.dedent(f"""\
        #!{sys.executable}
        import os, signal, sys, time
        print("args:", *sys.argv[1:], flush=True)
        if "--unlock" in sys.argv:
            sys.exit(0)
        signal.signal(signal.SIGINT, lambda *a: (print("cancelling jobs", flush=True), sys.exit(130)))
        time.sleep(float(os.environ.get("FAKE_SLEEP", "0")))
        sys.exit(int(os.environ.get("FAKE_EXIT", "0")))
    """))
    script.chmod(0o755)
    return script


def start(tmp_path, fake, **env):
    out, work = tmp_path / "out", tmp_path / "work"
    work.mkdir(exist_ok=True)
    return subprocess.Popen([sys.executable, "-c", RUNNER, str(out), str(work), str(fake)],
                            env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def last_run(tmp_path):
    return json.loads(open(Products(tmp_path / "out").last_run()).read())


def test_a_run_is_logged_and_its_outcome_recorded(tmp_path, fake_snakemake):
    proc = start(tmp_path, fake_snakemake)
    assert proc.wait(timeout=60) == 0
    record = last_run(tmp_path)
    assert record["outcome"] == "ok" and record["exit_code"] == 0 and record["finished_at"]
    log = (tmp_path / "out" / record["log"]).read_text()
    assert "--rerun-incomplete --keep-going" in log


def test_a_failed_run_exits_non_zero(tmp_path, fake_snakemake):
    proc = start(tmp_path, fake_snakemake, FAKE_EXIT="1")
    assert proc.wait(timeout=60) == 1 and last_run(tmp_path)["outcome"] == "failed"


def test_a_second_run_while_one_is_active_exits_zero_and_says_so(tmp_path, fake_snakemake):
    first = start(tmp_path, fake_snakemake, FAKE_SLEEP="5")
    wait_for_snakemake(tmp_path)
    second = start(tmp_path, fake_snakemake)
    assert second.wait(timeout=60) == 0 and "another run is active" in second.stderr.read()
    assert first.wait(timeout=60) == 0


def wait_for_snakemake(tmp_path):
    """Until the run's (fake) snakemake has started and written to the run's log."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if "args:" in (tmp_path / "out" / last_run(tmp_path)["log"]).read_text():
                return
        except (OSError, ValueError, KeyError):
            pass
        time.sleep(0.2)
    raise TimeoutError("the run never started snakemake")


def test_sigterm_stops_snakemake_cleanly_and_is_recorded(tmp_path, fake_snakemake):
    proc = start(tmp_path, fake_snakemake, FAKE_SLEEP="60")
    wait_for_snakemake(tmp_path)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 128 + signal.SIGTERM
    record = last_run(tmp_path)
    assert record["outcome"] == "stopped"
    assert "cancelling jobs" in (tmp_path / "out" / record["log"]).read_text()


def test_a_stale_snakemake_lock_is_cleared_only_when_no_snakemake_runs(tmp_path, fake_snakemake):
    locks = tmp_path / "work" / ".snakemake" / "locks"
    locks.mkdir(parents=True)
    (locks / "0.input.lock").write_text("")
    assert start(tmp_path, fake_snakemake).wait(timeout=60) == 0
    assert "--unlock" in (tmp_path / "out" / last_run(tmp_path)["log"]).read_text()
