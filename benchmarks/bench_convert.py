"""Benchmark: UVH5 -> MS conversion of one full-scale DSA-110 observation (96 antennas, 16 x 48 channels,
24 integrations). Prints wall seconds and peak RSS per run; `--baseline` also times pyuvdata's
read + write_ms for comparison.

    .venv/bin/python benchmarks/bench_convert.py [--repeats 3] [--baseline]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
BIN = Path(sys.executable).parent

BASELINE = """
import sys
from pyuvdata import UVData
parts = []
for path in sys.argv[2:]:
    uvd = UVData.from_file(path, file_type="uvh5", run_check=False)
    uvd.uvw_array = uvd.uvw_array.astype(float)
    parts.append(uvd)
uvd = parts[0].fast_concat(parts[1:], axis="freq", run_check=False)
uvd.phase_to_time(uvd.time_array.mean())
uvd.write_ms(sys.argv[1], clobber=True, run_check=False)
"""


def timed(cmd: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (GB) of one child process."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if status != 0:
        raise SystemExit(f"{cmd[:3]} failed with status {status}")
    return wall, usage.ru_maxrss / 1024 ** 2


def ensure_group() -> list[Path]:
    incoming = OUT / "incoming"
    if not incoming.is_dir() or len(list(incoming.glob("*.hdf5"))) < 16:
        shutil.rmtree(OUT, ignore_errors=True)
        subprocess.run([str(BIN / "dsa110-continuum"), "simulate", "--preset", "full", "--incoming", str(incoming),
                        "--truth", str(OUT / "truth"), "--calibrators", str(HERE.parent / "config" / "calibrators.csv"),
                        "--transit", "3C286", "--transit-observation", "0"], check=True)
    return sorted(incoming.glob("*.hdf5"))[:16]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--baseline", action="store_true", help="also time pyuvdata read + write_ms")
    args = parser.parse_args()

    files = [str(p) for p in ensure_group()]
    size_gb = sum(os.path.getsize(p) for p in files) / 1e9
    ms = OUT / "bench.ms"
    rows = []
    for i in range(args.repeats):
        wall, rss = timed([str(BIN / "dsa110-continuum"), "convert", *files, "--ms", str(ms)])
        rows.append(("dsa110_continuum convert", i + 1, wall, rss))
    if args.baseline:
        wall, rss = timed([sys.executable, "-c", BASELINE, str(OUT / "baseline.ms"), *files])
        rows.append(("pyuvdata read + write_ms", 1, wall, rss))
    ms_gb = sum(f.stat().st_size for f in ms.rglob("*") if f.is_file()) / 1e9

    print(f"\nOne full-scale observation: 16 files, {size_gb:.2f} GB UVH5 -> {ms_gb:.2f} GB MS "
          f"(96 antennas, 768 channels, 24 integrations), {os.cpu_count()} cores")
    print(f"{'step':<28}{'run':>4}{'wall s':>9}{'peak RSS GB':>13}")
    for name, run, wall, rss in rows:
        print(f"{name:<28}{run:>4}{wall:>9.1f}{rss:>13.2f}")
    print("target: <= 10 s and <= 3 GB per group")


if __name__ == "__main__":
    main()
