"""Benchmark the science steps at full DSA-110 scale, each in a fresh process as the workflow runs it:

* measure one image as the `measure_image` job does (PyBDSF source finding, cross-match with the reference
  catalogue, forced photometry at the reference positions), against a synthetic NVSS-like catalogue of
  a few hundred sources spread over the image's primary-beam footprint;
* the products database with synthetic photometry of ``--sources`` sources x ``--epochs`` epochs (SQLite):
  every light curve's variability (`update_variability`) and one source's light curve (`light_curve`).

Settings come from config/config.yaml and config/schema.yaml, as the workflow sees them. The image is one
the workflow's image step makes (image.fits, pbcor.fits, pb.fits, ..., qa.json); by default the one
bench_observation.py leaves in benchmarks/out/image_wsclean. Prints wall seconds (whole process), call
seconds (the step itself, without interpreter start-up) and peak RSS.

    .venv/bin/python benchmarks/bench_science.py [--image-dir DIR] [--epochs 1000] [--sources 1000] [--skip-measure]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench_observation import OUT, timed

DEFAULT_IMAGE_DIR = OUT / "image_wsclean"
N_REFERENCE = 500
# The keys of config["science"] the measure_image rule passes its job (SCIENCE_SETTINGS in rules/science.smk).
MEASURE_SETTINGS = ("reference_columns", "reference_flux_unit", "match_radius_arcsec", "detection_sigma",
                    "noise_box_beams", "photometry_cluster_beams", "source_finding", "validation")

# Each step's process writes its record (the path is its last argument) with the step's seconds and its peak
# RSS from /proc: os.wait4's ru_maxrss would report at least the parent's RSS, which a vforked child inherits.
PREAMBLE = """
import json, sys, time
from dsa110_continuum.records import read_json, write_json_atomic

def finish(record, start):
    with open("/proc/self/status") as status:
        peak_kb = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
    seconds = time.perf_counter() - start
    write_json_atomic(sys.argv[-1], {**record, "call_s": seconds, "peak_rss_gb": peak_kb / 1024 ** 2})
"""

MEASURE = """
from dsa110_continuum.science.products import measure_image
from dsa110_continuum.science.reference import read_reference
request = read_json(sys.argv[1])
settings = request["settings"]
start = time.perf_counter()
reference = read_reference(request["reference"], columns=settings["reference_columns"],
                           flux_unit=settings["reference_flux_unit"])
finish(measure_image({key: request[key] for key in ("pbcor", "pb", "residual")}, read_json(request["qa"]),
                     request["outputs"], reference=reference, settings=settings), start)
"""

VARIABILITY = """
from dsa110_continuum.products.db import connect, update_variability
engine = connect(sys.argv[1])
thresholds = json.loads(sys.argv[2])
start = time.perf_counter()
rows = update_variability(engine, eta_threshold=thresholds["eta_threshold"], vs_threshold=thresholds["vs_threshold"],
                          m_threshold=thresholds["m_min"])
finish({"n_light_curves": len(rows), "n_candidates": sum(r["candidate"] for r in rows)}, start)
"""

LIGHT_CURVE = """
from dsa110_continuum.products.db import connect, light_curve
engine = connect(sys.argv[1])
start = time.perf_counter()
finish({"n_points": len(light_curve(engine, sys.argv[2]))}, start)
"""


def run(code: str, *args: str, result: Path) -> tuple[float, float, dict]:
    """Wall seconds, peak RSS (GB) and the record of one step's ``code`` run in a fresh interpreter."""
    wall, _ = timed([sys.executable, "-c", PREAMBLE + code, *args, str(result)])
    record = json.loads(result.read_text())
    return wall, record["peak_rss_gb"], record


def write_reference(path: Path, image_dir: Path, qa: dict, science: dict, n_sources: int, seed: int = 1) -> None:
    """An NVSS-like catalogue (the configured columns and flux unit) of ``n_sources`` sources at random
    positions inside the image's primary-beam cutoff, fluxes from a power law above NVSS's 2.5 mJy."""
    import numpy as np
    from astropy.wcs import WCS

    from dsa110_continuum.image.products import read_plane
    from dsa110_continuum.science.reference import FLUX_UNITS_JY

    pb, header = read_plane(image_dir / "pb.fits")
    rng = np.random.default_rng(seed)
    y, x = np.nonzero(pb >= qa["pb_cutoff"])
    pick = rng.choice(x.size, n_sources, replace=False)
    ra, dec = WCS(header).celestial.pixel_to_world_values(x[pick] + rng.uniform(-0.5, 0.5, n_sources),
                                                          y[pick] + rng.uniform(-0.5, 0.5, n_sources))
    flux = 2.5e-3 * (1 + rng.pareto(0.8, n_sources)) / FLUX_UNITS_JY[science["reference_flux_unit"]]
    columns = science["reference_columns"]
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([c for c in (columns["name"], columns["ra"], columns["dec"], columns["flux"]) if c])
        for k in range(n_sources):
            name = [f"B{k:06d}"] if columns["name"] else []
            writer.writerow([*name, f"{ra[k] % 360:.6f}", f"{dec[k]:.6f}", f"{flux[k]:.4g}"])


def measure_step(image_dir: Path, scratch: Path, science: dict, repeats: int) -> tuple[list, str]:
    """Time the measure_image job on ``image_dir`` against a synthetic reference catalogue."""
    from dsa110_continuum.records import read_json

    qa_path = image_dir / "qa.json"
    qa = read_json(qa_path)
    work = scratch / "measure"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    write_reference(work / "reference.csv", image_dir, qa, science, N_REFERENCE)
    request = {"settings": {k: science[k] for k in MEASURE_SETTINGS}, "reference": str(work / "reference.csv"),
               "pbcor": str(image_dir / "pbcor.fits"), "pb": str(image_dir / "pb.fits"),
               "residual": str(image_dir / "residual.fits"), "qa": str(qa_path),
               "outputs": {"sources": str(work / "sources.csv"), "crossmatch": str(work / "crossmatch.json"),
                           "photometry": str(work / "photometry.csv")}}
    (work / "request.json").write_text(json.dumps(request))
    rows = []
    for i in range(repeats):
        wall, rss, record = run(MEASURE, str(work / "request.json"), result=work / "result.json")
        rows.append(("measure image (PyBDSF + xmatch + phot)", i + 1, wall, record["call_s"], rss))
    summary = (f"image {image_dir}: {qa['size_px']} px of {qa['cell_arcsec']} arcsec, rms "
               f"{qa['rms_jy'] * 1e3:.1f} mJy/beam; {N_REFERENCE} reference sources -> {record['n_sources']} sources "
               f"found, {record['n_reference_covered']} covered, {record['n_matched']} matched ({record['verdict']}), "
               f"{record['n_photometry']} forced measurements")
    return rows, summary


def fill_database(url: str, n_epochs: int, n_sources: int, seed: int = 2) -> list[str]:
    """Synthetic photometry rows, one per source per ~309 s epoch (1 % of the sources 1.5 x brighter in every
    other epoch), bulk-inserted epoch by epoch; returns the source names."""
    import numpy as np
    import sqlalchemy as sa

    from dsa110_continuum import instrument as inst
    from dsa110_continuum.naming import day_of, format_timestamp, timestamp_mjd
    from dsa110_continuum.products.db import PHOTOMETRY, connect

    rng = np.random.default_rng(seed)
    names = [f"B{k:06d}" for k in range(n_sources)]
    ra, dec = rng.uniform(0, 360, n_sources), rng.uniform(-30, 90, n_sources)
    mean_jy = 2.5e-3 * (1 + rng.pareto(0.8, n_sources))
    variable = rng.random(n_sources) < 0.01
    start = datetime(2025, 6, 1, tzinfo=UTC)
    step_s = inst.N_INTEGRATIONS * inst.INTEGRATION_TIME_S
    engine = connect(url)
    with engine.begin() as db:
        for epoch in range(n_epochs):
            stamp = start + timedelta(seconds=round(epoch * step_s))
            group, mjd = format_timestamp(stamp), timestamp_mjd(stamp)
            pb = rng.uniform(0.2, 1.0, n_sources)
            err = 1e-3 / pb
            flux = mean_jy * np.where(variable & (epoch % 2 == 1), 1.5, 1.0) + rng.normal(0, err)
            db.execute(sa.insert(PHOTOMETRY), [
                {"day": day_of(group), "group_id": group, "name": names[k], "mjd": mjd, "ra_deg": ra[k],
                 "dec_deg": dec[k], "flux_jy": flux[k], "flux_err_jy": err[k], "pb": pb[k], "snr": flux[k] / err[k]}
                for k in range(n_sources)])
    engine.dispose()
    return names


def light_curve_steps(scratch: Path, science: dict, n_epochs: int, n_sources: int, repeats: int) -> tuple[list, str]:
    """Fill a products database (not timed), then time update_variability and one light_curve query."""
    work = scratch / "database"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    url = f"sqlite:///{work / 'products.sqlite'}"
    start = time.perf_counter()
    names = fill_database(url, n_epochs, n_sources)
    fill_s = time.perf_counter() - start
    rows = []
    for i in range(repeats):
        wall, rss, record = run(VARIABILITY, url, json.dumps(science["variability"]), result=work / "variability.json")
        rows.append(("update_variability (all sources)", i + 1, wall, record["call_s"], rss))
    for i in range(repeats):
        wall, rss, curve = run(LIGHT_CURVE, url, names[n_sources // 2], result=work / "light_curve.json")
        rows.append(("light_curve (one source)", i + 1, wall, curve["call_s"], rss))
    size_mb = (work / "products.sqlite").stat().st_size / 1e6
    summary = (f"database: {n_sources} sources x {n_epochs} epochs = {n_sources * n_epochs} photometry rows, "
               f"{size_mb:.1f} MB SQLite, filled in {fill_s:.1f} s; {record['n_light_curves']} light curves, "
               f"{record['n_candidates']} candidates; one light curve has {curve['n_points']} points")
    return rows, summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--image-dir", type=Path, default=DEFAULT_IMAGE_DIR,
                        help="an image directory of the workflow's image step (default: bench_observation.py's)")
    parser.add_argument("--epochs", type=int, default=1000)
    parser.add_argument("--sources", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--skip-measure", action="store_true", help="only the products-database steps")
    parser.add_argument("--scratch", type=Path, default=OUT / "science", help="where the benchmark writes")
    args = parser.parse_args()
    image_dir = args.image_dir.resolve()
    if not args.skip_measure and not (image_dir / "qa.json").exists():
        parser.error(f"no image in {image_dir}: run benchmarks/bench_observation.py first, or give --image-dir "
                     f"(or --skip-measure)")

    from dsa110_continuum.config import load_config

    science = load_config()["science"]
    rows, summaries = [], []
    if not args.skip_measure:
        measured, summary = measure_step(image_dir, args.scratch.resolve(), science, args.repeats)
        rows += measured
        summaries.append(summary)
    queried, summary = light_curve_steps(args.scratch.resolve(), science, args.epochs, args.sources, args.repeats)
    rows += queried
    summaries.append(summary)

    print(f"\nScience steps, {os.cpu_count()} cores")
    print("\n".join(summaries))
    print(f"{'step':<42}{'run':>4}{'wall s':>9}{'call s':>9}{'peak RSS GB':>13}")
    for name, run_number, wall, call, rss in rows:
        print(f"{name:<42}{run_number:>4}{wall:>9.1f}{call:>9.3f}{rss:>13.2f}")


if __name__ == "__main__":
    main()
