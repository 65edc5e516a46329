"""Does one 2-core machine keep up with the telescope? The whole workflow over consecutive full-scale observations.

Simulates N consecutive full-scale observations (96 antennas, 16 x 48 channels, 24 integrations; 3C286 transits
in the first), then runs the workflow over them as an operator would on one machine: `snakemake --cores 2` with
config/full_array.yaml, the local executor and SQLite. Prints the wall time per observation against the
correlator's cadence, each rule's jobs and busy seconds (from Snakemake's log; jobs overlap on two cores), and per
observation its apply, image and measure seconds and how many of its catalogue's sources are real.
Fewer than 12 observations form no mosaic window: bench_observation.py times a 12-tile mosaic.

    .venv/bin/python benchmarks/bench_workflow.py [--observations 4]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
from collections import defaultdict
from datetime import datetime
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
OUT = HERE / "out" / "workflow"
BIN = Path(sys.executable).parent
sys.path.insert(0, str(REPO / "src"))

from dsa110_continuum import instrument as inst  # noqa: E402
from dsa110_continuum.naming import Products  # noqa: E402
from dsa110_continuum.science.sources import read_sources  # noqa: E402
from dsa110_continuum.simulate.session import read_sky_model  # noqa: E402

MATCH_RADIUS_ARCSEC = 10


def job_seconds(log_text: str) -> list[tuple[str, str, float]]:
    """(rule, wildcards, seconds) of every job in a Snakemake log: a job runs from the stamp before its
    ``rule NAME:`` line to the stamp before its ``Finished jobid: N``."""
    stamp, job, started, jobs = None, None, {}, []
    for line in (raw.strip() for raw in log_text.splitlines()):
        if m := re.fullmatch(r"\[(\w{3} \w{3} +\d+ [\d:]+ \d{4})\]", line):
            stamp = datetime.strptime(" ".join(m.group(1).split()), "%a %b %d %H:%M:%S %Y")
        elif m := re.fullmatch(r"(?:local)?(?:rule|checkpoint) (\w+):", line):
            job = {"rule": m.group(1), "start": stamp, "wildcards": ""}
        elif job and (m := re.fullmatch(r"jobid: (\d+)", line)):
            started[m.group(1)] = job
        elif job and line.startswith("wildcards: "):
            job["wildcards"] = line.removeprefix("wildcards: ")
        elif (m := re.match(r"Finished jobid: (\d+)", line)) and m.group(1) in started:
            done = started.pop(m.group(1))
            jobs.append((done["rule"], done["wildcards"], (stamp - done["start"]).total_seconds()))
    return jobs


def sources_found_and_real(sources_csv: str, sky_model_csv: Path) -> tuple[int, int]:
    """How many sources an image's catalogue holds, and how many lie within 10" of a simulated source (this sky has
    no others, so the rest are spurious)."""
    from astropy.coordinates import SkyCoord, match_coordinates_sky

    found = read_sources(sources_csv)
    if not len(found["ra_deg"]):
        return 0, 0
    sky = read_sky_model(sky_model_csv)
    _, separation, _ = match_coordinates_sky(SkyCoord(found["ra_deg"], found["dec_deg"], unit="deg"),
                                             SkyCoord([s.ra_deg for s in sky], [s.dec_deg for s in sky], unit="deg"))
    return len(separation), int((separation.arcsec <= MATCH_RADIUS_ARCSEC).sum())


def print_jobs(jobs: list[tuple[str, str, float]], products: Products, sky_model_csv: Path) -> None:
    """Busy seconds per rule; then per observation, its steps' seconds and its catalogue's real sources."""
    print(f"{'rule':<28}{'jobs':>5}{'busy s':>9}{'mean s':>9}")
    by_rule = defaultdict(list)
    for rule, _, seconds in jobs:
        by_rule[rule].append(seconds)
    for rule, seconds in sorted(by_rule.items(), key=lambda kv: -sum(kv[1])):
        print(f"{rule:<28}{len(seconds):>5}{sum(seconds):>9.0f}{sum(seconds) / len(seconds):>9.1f}")
    steps = ("apply_calibration", "image", "measure_image")
    per_group = defaultdict(dict)
    for rule, wildcards, seconds in jobs:
        if rule in steps:
            per_group[wildcards.removeprefix("group=")][rule] = seconds
    print(f"\n{'observation':<22}" + "".join(f"{step + ' s':>20}" for step in steps) + f"{'sources, real':>16}")
    for group, seconds in sorted(per_group.items()):
        found, real = sources_found_and_real(products.sources("image", group), sky_model_csv)
        print(f"{group:<22}" + "".join(f"{seconds.get(step, float('nan')):>20.0f}" for step in steps)
              + f"{found:>10}{real:>6}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--observations", type=int, default=4)
    args = parser.parse_args()

    shutil.rmtree(OUT, ignore_errors=True)
    OUT.mkdir(parents=True)
    incoming, truth = OUT / "incoming", OUT / "truth"
    start = time.perf_counter()
    subprocess.run([BIN / "dsa110-continuum", "simulate", "--preset", "full", "--n-observations",
                    str(args.observations), "--incoming", incoming, "--truth", truth, "--calibrators",
                    REPO / "config" / "calibrators.csv", "--transit", "3C286", "--transit-observation", "0"],
                   check=True, stdout=subprocess.DEVNULL)
    simulate_s = time.perf_counter() - start

    config = OUT / "config.yaml"
    config.write_text(yaml.safe_dump({
        "incoming_dir": str(incoming), "output_dir": str(OUT / "results"), "ingest": {"min_file_age_s": 0},
        "calibration": {"catalogue": str(REPO / "config" / "calibrators.csv")},
        "science": {"reference_catalogue": str(truth / "reference_catalogue.csv")}}))
    log_path = OUT / "snakemake.log"
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    start = time.perf_counter()
    with open(log_path, "w") as log:
        proc = subprocess.Popen([BIN / "snakemake", "-s", REPO / "Snakefile", "--directory", OUT, "--cores", "2",
                                 "--configfile", config, REPO / "config" / "full_array.yaml"],
                                stdout=log, stderr=subprocess.STDOUT, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
    wall_s = time.perf_counter() - start
    if status != 0:
        raise SystemExit(f"the workflow failed (status {status}); see {log_path}")

    n, cadence_s = args.observations, inst.N_INTEGRATIONS * inst.INTEGRATION_TIME_S
    print(f"\n{n} full-scale observations (3C286 in the first), {os.cpu_count()} cores, config/full_array.yaml")
    print(f"simulate: {simulate_s:.0f} s; workflow: {wall_s:.0f} s, largest process's peak RSS "
          f"{usage.ru_maxrss / 1024 ** 2:.2f} GB")
    print(f"per observation: {wall_s / n:.0f} s against the correlator's {cadence_s:.0f} s cadence"
          f" ({wall_s / n / cadence_s:.0%} of it)")
    print_jobs(job_seconds(log_path.read_text()), Products(OUT / "results"), truth / "sky_model.csv")


if __name__ == "__main__":
    main()
