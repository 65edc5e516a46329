"""The cron entry point: one workflow run at a time, resumable, logged, and its outcome recorded.

A run takes an exclusive lock on ``<output_dir>/.cron.lock``; a run that finds it taken exits 0 saying who
holds it. A run also stays out while another Snakemake works in the directory or SLURM jobs of a killed run
still do (it would resubmit them: duplicate work, and two jobs writing the same files). Snakemake's own
directory lock, left behind by a killed run, is cleared only then. The workflow runs with ``--rerun-incomplete --keep-going`` (the
day plans already leave files still being written and unsettled groups for a later run); SIGTERM or
SIGINT is passed on to Snakemake as SIGINT, which cancels its jobs (``scancel`` on SLURM), and the next
run resumes. Each run writes ``logs/cron/<start>.log`` and ``status/last_run.json``, then refreshes the
status JSON, metrics file and HTML page.
"""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys
from pathlib import Path

from ..naming import Products
from ..records import read_json, utc_now_iso, write_json_atomic

#: How long Snakemake may take to cancel its jobs and exit after being asked to stop.
STOP_GRACE_S = 120


def _snakemake_running_in(workdir: Path) -> list[int]:
    """PIDs of Snakemake processes (other than ours) whose working directory is ``workdir``."""
    import psutil

    found = []
    for proc in psutil.process_iter(["pid", "cmdline", "cwd"]):
        try:
            cmdline = " ".join(proc.info["cmdline"] or [])
            if "snakemake" in cmdline and proc.info["cwd"] and Path(proc.info["cwd"]).resolve() == workdir.resolve() \
                    and proc.info["pid"] != os.getpid():
                found.append(proc.info["pid"])
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


def _slurm_jobs_in(workdir: Path) -> list[str]:
    """This user's queued or running SLURM jobs that work in ``workdir`` (jobs of an earlier, killed run)."""
    import shutil

    if not shutil.which("squeue"):
        return []
    try:
        out = subprocess.run(["squeue", "--noheader", "--user", str(os.getuid()), "--format", "%i|%T|%Z"],
                             capture_output=True, text=True, timeout=30)
    except subprocess.TimeoutExpired:
        return []
    jobs = [line.split("|") for line in out.stdout.splitlines() if line.count("|") == 2]
    return [job for job, state, directory in jobs if Path(directory).resolve() == workdir.resolve()
            and state in ("PENDING", "RUNNING", "CONFIGURING", "COMPLETING", "SUSPENDED")]


def run(snakemake_args: list[str], *, output_dir: str, workdir: str | Path = ".", snakemake: str = "snakemake",
        after_run=None) -> int:
    """One cron run of the workflow; returns its exit status (0 when all went well or another run is active)."""
    paths = Products(output_dir)
    workdir = Path(workdir)
    Path(output_dir).mkdir(parents=True, exist_ok=True)
    lock = open(Path(output_dir) / ".cron.lock", "a+")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.seek(0)
        print(f"another run is active ({lock.read().strip() or 'unknown'}); nothing to do", file=sys.stderr)
        return 0
    lock.seek(0)
    lock.truncate()
    lock.write(f"pid {os.getpid()} since {utc_now_iso()}\n")
    lock.flush()

    started = utc_now_iso()
    log_path = Path(paths.log("cron", started.replace(":", "-")))
    log_path.parent.mkdir(parents=True, exist_ok=True)
    record = {"started_at": started, "finished_at": None, "outcome": "running", "exit_code": None,
              "log": paths.relative(log_path), "pid": os.getpid()}
    write_json_atomic(paths.last_run(), record)
    with open(log_path, "w") as log:
        busy = _snakemake_running_in(workdir)
        orphans = _slurm_jobs_in(workdir)
        if busy or orphans:  # another Snakemake, or the SLURM jobs of a killed run: do not duplicate their work
            why = (f"SLURM jobs {', '.join(orphans)} of an earlier run still work in {workdir}" if orphans else
                   f"Snakemake is already running in {workdir} (pids {busy})")
            log.write(why + "; not starting\n")
            print(f"{why}; not starting", file=sys.stderr)
            record.update(finished_at=utc_now_iso(), outcome="skipped", exit_code=0)
            write_json_atomic(paths.last_run(), record)
            return 0
        if (workdir / ".snakemake" / "locks").is_dir() and any((workdir / ".snakemake" / "locks").iterdir()):
            log.write("clearing the lock a killed Snakemake run left behind\n")
            log.flush()
            subprocess.run([snakemake, "--unlock", *snakemake_args], cwd=workdir, stdout=log, stderr=subprocess.STDOUT)
        command = [snakemake, "--rerun-incomplete", "--keep-going", *snakemake_args]
        log.write(f"$ {' '.join(command)}\n")
        log.flush()
        proc = subprocess.Popen(command, cwd=workdir, stdout=log, stderr=subprocess.STDOUT)
        stopped = []

        def stop(signum, frame):
            stopped.append(signum)
            proc.send_signal(signal.SIGINT)

        previous = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGINT)}
        try:
            while True:
                try:
                    code = proc.wait(timeout=STOP_GRACE_S if stopped else None)
                    break
                except subprocess.TimeoutExpired:
                    log.write(f"Snakemake did not stop within {STOP_GRACE_S} s; killing it\n")
                    proc.kill()
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)
    outcome = "stopped" if stopped else ("ok" if code == 0 else "failed")
    record.update(finished_at=utc_now_iso(), outcome=outcome, exit_code=code)
    write_json_atomic(paths.last_run(), record)
    if after_run is not None:
        after_run()
    print(f"run {outcome} (exit {code}); log: {log_path}", file=sys.stderr)
    return code if not stopped else 128 + stopped[0]


def last_run(output_dir: str) -> dict | None:
    path = Products(output_dir).last_run()
    return read_json(path) if os.path.exists(path) else None
