"""Benchmark one full-scale DSA-110 observation (96 antennas, 16 x 48 channels, 24 integrations):
conversion to MS, calibrator extraction + solve, and apply (raw files -> calibrated MS), each in a fresh
process as the workflow runs it. Prints wall seconds and peak RSS; `--baseline` also times pyuvdata's
read + write_ms for comparison.

    .venv/bin/python benchmarks/bench_convert.py [--repeats 3] [--baseline]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
BIN = Path(sys.executable).parent
CLI = str(BIN / "dsa110-continuum")

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


def timed(cmd: list[str], stdout_path: Path | None = None) -> tuple[float, float]:
    """Wall seconds and peak RSS (GB) of one child process."""
    start = time.perf_counter()
    with open(stdout_path or os.devnull, "w") as out:
        proc = subprocess.Popen(cmd, stdout=out)
        _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if status != 0:
        raise SystemExit(f"{' '.join(cmd[:3])} ... failed with status {status}")
    return wall, usage.ru_maxrss / 1024 ** 2


def ensure_group() -> list[str]:
    incoming = OUT / "incoming"
    if not incoming.is_dir() or len(list(incoming.glob("*.hdf5"))) < 16:
        shutil.rmtree(OUT, ignore_errors=True)
        subprocess.run([CLI, "simulate", "--preset", "full", "--incoming", str(incoming), "--truth", str(OUT / "truth"),
                        "--calibrators", str(HERE.parent / "config" / "calibrators.csv"), "--transit", "3C286",
                        "--transit-observation", "0"], check=True)
    return [str(p) for p in sorted(incoming.glob("*.hdf5"))[:16]]


def group_index_record(files: list[str]) -> Path:
    """The workflow's group index record (with the calibrator transit) for the benchmark observation."""
    from dsa110_continuum.ingest import describe_group
    from dsa110_continuum.registry import calibrator_in_observation, load_catalogue

    record = describe_group("benchmark", files, action="process", reason="complete")
    catalogue = load_catalogue({"catalogue": str(HERE.parent / "config" / "calibrators.csv"),
                                "fallback_catalogue": None, "fallback_min_flux_jy": 1.0})
    record["calibrator"] = calibrator_in_observation(record, catalogue, dec_tolerance_deg=1.5)
    path = OUT / "index.json"
    path.write_text(json.dumps(record))
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--baseline", action="store_true", help="also time pyuvdata read + write_ms")
    args = parser.parse_args()

    files = ensure_group()
    index_path = group_index_record(files)
    cal = json.loads(index_path.read_text())["calibrator"]["calibrator"]
    size_gb = sum(os.path.getsize(p) for p in files) / 1e9
    rows = []
    for i in range(args.repeats):
        rows.append(("convert (raw -> MS)", i + 1, *timed([CLI, "convert", *files, "--ms", str(OUT / "bench.ms")])))
    for i in range(args.repeats):
        extract = [CLI, "convert", *files, "--ms", str(OUT / "calibrator.ms"), "--average-in-time",
                   "--phase-centre", cal["name"], str(cal["ra_deg"]), str(cal["dec_deg"])]
        wall_x, rss_x = timed(extract, OUT / "extraction.json")
        wall_s, rss_s = timed([CLI, "solve", str(OUT / "calibrator.ms"), "--index", str(index_path),
                               "--extraction-record", str(OUT / "extraction.json"), "--out", str(OUT / "tables")],
                              OUT / "qa.json")
        rows += [("  extract calibrator", i + 1, wall_x, rss_x), ("  solve (CASA)", i + 1, wall_s, rss_s),
                 ("solve total", i + 1, wall_x + wall_s, max(rss_x, rss_s))]
    qa = json.loads((OUT / "qa.json").read_text())
    for i in range(args.repeats):
        rows.append(("apply (raw -> calibrated MS)", i + 1,
                     *timed([CLI, "convert", *files, "--ms", str(OUT / "calibrated.ms"), "--calibration",
                             qa["bandpass_table"], qa["gain_table"]])))
    if args.baseline:
        rows.append(("pyuvdata read + write_ms", 1, *timed([sys.executable, "-c", BASELINE, str(OUT / "baseline.ms"),
                                                            *files])))
    ms_gb = sum(f.stat().st_size for f in (OUT / "bench.ms").rglob("*") if f.is_file()) / 1e9

    print(f"\nOne full-scale observation: 16 files, {size_gb:.2f} GB UVH5 -> {ms_gb:.2f} GB MS "
          f"(96 antennas, 768 channels, 24 integrations), {os.cpu_count()} cores")
    print(f"solve QA: passed={qa['passed']} refant={qa.get('refant')} median SNR={qa.get('median_snr', 0):.1f} "
          f"flagged={qa.get('flagged_fraction', 1):.1%}")
    print(f"{'step':<30}{'run':>4}{'wall s':>9}{'peak RSS GB':>13}")
    for name, run, wall, rss in rows:
        print(f"{name:<30}{run:>4}{wall:>9.1f}{rss:>13.2f}")
    print("targets: convert <= 10 s and <= 3 GB; solve <= 20 s; apply <= 5 s")


if __name__ == "__main__":
    main()
