"""How long Snakemake takes to plan a run as the incoming directory grows.

Writes empty placeholder files named as the correlator names them (16 subbands per ~309 s observation,
a few seconds of timestamp jitter) into a scratch incoming directory, lets the day-plan checkpoints run,
then times `snakemake --dry-run` (the DAG of everything the plans call for). Parsing reads no data, so
`snakemake --lint` costs the same at any size.

    .venv/bin/python benchmarks/bench_dag.py [--files 1000 10000]
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


def write_placeholders(incoming: Path, n_files: int, start: datetime) -> None:
    """Empty subband files for ``n_files // 16`` consecutive observations, written an hour ago."""
    incoming.mkdir(parents=True)
    written_s = time.time() - 3600
    observation_s = inst.N_INTEGRATIONS * inst.INTEGRATION_TIME_S
    for k in range(n_files // inst.N_SUBBANDS):
        t0 = start + timedelta(seconds=round(k * observation_s))
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--work", type=Path, default=HERE / "out" / "dag")
    args = parser.parse_args()
    print(f"{'files':>8} {'observations':>12} {'days':>5} {'lint s':>7} {'plan s':>7} {'dry-run s':>9}")
    for n_files in args.files:
        work = args.work / str(n_files)
        shutil.rmtree(work, ignore_errors=True)
        write_placeholders(work / "incoming", n_files, datetime(2025, 6, 1, tzinfo=timezone.utc))
        (work / "config.yaml").write_text(f"incoming_dir: {work / 'incoming'}\noutput_dir: {work / 'results'}\n")
        lint = snakemake(work, "--lint")
        plan = snakemake(work, "--until", "plan_day")
        dry = snakemake(work, "--dry-run", "--quiet", "rules")
        n_days = len(list((work / "results" / "plan").glob("*.json")))
        print(f"{n_files:>8} {n_files // inst.N_SUBBANDS:>12} {n_days:>5} {lint:>7.1f} {plan:>7.1f} {dry:>9.1f}")


if __name__ == "__main__":
    main()
