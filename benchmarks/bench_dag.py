"""How long Snakemake takes to plan a run as the incoming directory and the archive grow.

Writes empty placeholder files named as the correlator names them (16 subbands per ~309 s observation,
a few seconds of timestamp jitter) into a scratch incoming directory.

* ``--files``: lets the day-plan checkpoints run, then times `snakemake --dry-run` (the DAG of everything
  the plans call for). Parsing reads no data, so `snakemake --lint` costs the same at any size.
* ``--archive-days``: an archive of finished days (288 observations each) marked closed as the workflow
  marks a day whose products are all made, plus one new day: times a no-op run over the archive alone,
  then the first run and a dry run with the new day.

    .venv/bin/python benchmarks/bench_dag.py [--files 1000 10000] [--archive-days 30]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
BIN = Path(sys.executable).parent
sys.path.insert(0, str(REPO / "src"))

from dsa110_continuum import instrument as inst  # noqa: E402
from dsa110_continuum.naming import raw_filename  # noqa: E402


#: One observation every 300 s: 288 a day, the issue's figures (the correlator's cadence is ~309 s, 280 a day).
OBSERVATION_S = 300
OBSERVATIONS_PER_DAY = 86400 // OBSERVATION_S


def write_placeholders(incoming: Path, n_files: int, start: datetime) -> None:
    """Empty subband files for ``n_files // 16`` consecutive observations, written an hour ago."""
    incoming.mkdir(parents=True, exist_ok=True)
    written_s = time.time() - 3600
    for k in range(n_files // inst.N_SUBBANDS):
        t0 = start + timedelta(seconds=round(k * OBSERVATION_S))
        for sb in range(inst.N_SUBBANDS):
            path = incoming / raw_filename(t0 + timedelta(seconds=sb % 3), sb)
            path.touch()
            os.utime(path, (written_s, written_s))


def snakemake(workdir: Path, *args: str) -> float:
    """Wall seconds of one snakemake invocation in ``workdir`` (its own config)."""
    cmd = [str(BIN / "snakemake"), "-s", str(REPO / "Snakefile"), "--directory", str(workdir),
           "--configfile", str(workdir / "config.yaml"), "--cores", "1", *args]
    start = time.perf_counter()
    out = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, env={**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}"})
    wall = time.perf_counter() - start
    if out.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{out.stderr[-3000:]}")
    return wall


def archive(work: Path, n_days: int) -> None:
    """A no-op run over ``n_days`` finished days, then a new day: its first run (plans) and a dry run."""
    import json

    from dsa110_continuum.naming import Products

    per_day = OBSERVATIONS_PER_DAY * inst.N_SUBBANDS
    start = datetime(2025, 6, 1, tzinfo=timezone.utc)
    reuse = (work / "incoming").is_dir() and len(os.listdir(work / "incoming")) == n_days * per_day
    for leftover in [p for p in work.iterdir() if not (reuse and p.name == "incoming")] if work.is_dir() else []:
        shutil.rmtree(leftover) if leftover.is_dir() else leftover.unlink()
    for d in range(0 if reuse else n_days):
        write_placeholders(work / "incoming", per_day, start + timedelta(days=d))
    (work / "config.yaml").write_text(f"incoming_dir: {work / 'incoming'}\noutput_dir: {work / 'results'}\n")
    paths = Products(work / "results")
    for d in range(n_days):
        day = (start + timedelta(days=d)).strftime("%Y-%m-%d")
        marker = Path(paths.day_status(day))
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.write_text(json.dumps({"day": day, "closed": True, "n_raw_files": per_day, "n_waiting": 0}))
    n_files = len(list((work / "incoming").iterdir()))
    noop = snakemake(work)
    print(f"\n{n_days} finished days ({n_days * OBSERVATIONS_PER_DAY} observations, {n_files} files): "
          f"no-op run {noop:.1f} s", flush=True)
    write_placeholders(work / "incoming", per_day, start + timedelta(days=n_days))
    first = snakemake(work, paths.plan((start + timedelta(days=n_days)).strftime("%Y-%m-%d")))
    dry = snakemake(work, "--dry-run", "--quiet", "rules")
    print(f"plus one new day ({OBSERVATIONS_PER_DAY} observations): first run (plans) {first:.1f} s, "
          f"dry run {dry:.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, nargs="*", default=[1000, 10000])
    parser.add_argument("--archive-days", type=int, default=30)
    parser.add_argument("--work", type=Path, default=HERE / "out" / "dag")
    args = parser.parse_args()
    if args.archive_days:
        archive(args.work / "archive", args.archive_days)
    print(f"{'files':>8} {'observations':>12} {'days':>5} {'lint s':>7} {'plan s':>7} {'dry-run s':>9}")
    for n_files in args.files:
        work = args.work / str(n_files)
        shutil.rmtree(work, ignore_errors=True)
        write_placeholders(work / "incoming", n_files, datetime(2025, 6, 1, tzinfo=timezone.utc))
        (work / "config.yaml").write_text(f"incoming_dir: {work / 'incoming'}\noutput_dir: {work / 'results'}\n")
        lint = snakemake(work, "--lint")
        plan = snakemake(work, str(work / "results" / "plan" / "2025-06-01.json"))
        dry = snakemake(work, "--dry-run", "--quiet", "rules")
        n_days = len(list((work / "results" / "plan").glob("*.json")))
        print(f"{n_files:>8} {n_files // inst.N_SUBBANDS:>12} {n_days:>5} {lint:>7.1f} {plan:>7.1f} {dry:>9.1f}")


if __name__ == "__main__":
    main()
