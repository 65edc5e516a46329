"""Benchmark one full-scale DSA-110 observation (96 antennas, 16 x 48 channels, 24 integrations) through
every per-observation step, each in a fresh process as the workflow runs it: conversion to MS, calibrator
extraction + solve, apply + RFI flagging (raw files -> calibrated, flagged MS), imaging with WSClean and
with tclean, each with the default settings and with config/full_array.yaml (primary beam, QA and products
included), and a mosaic of 12 such images. Prints wall seconds and peak RSS; `--baseline` also times pyuvdata's
read + write_ms for comparison.

    .venv/bin/python benchmarks/bench_observation.py [--repeats 2] [--baseline] [--images wsclean_full_array,...]
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
FULL_ARRAY = HERE.parent / "config" / "full_array.yaml"
IMAGE_VARIANTS = {"wsclean": ("wsclean", []), "wsclean_full_array": ("wsclean", [FULL_ARRAY]),
                  "tclean": ("tclean", []), "tclean_full_array": ("tclean", [FULL_ARRAY])}

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


def write_field_catalogue(path: Path, ra_deg: float, dec_deg: float, *, radius_deg=3.0, per_deg2=50.0,
                          seed=3) -> Path:
    """An NVSS-like catalogue (VizieR columns, mJy) around a calibrator: NVSS's density above its 2.5 mJy limit,
    fluxes from a power law, at random positions within ``radius_deg``."""
    import numpy as np

    rng = np.random.default_rng(seed)
    n = int(per_deg2 * np.pi * radius_deg ** 2)
    r_deg, angle = radius_deg * np.sqrt(rng.uniform(size=n)), rng.uniform(0, 2 * np.pi, n)
    dec = dec_deg + r_deg * np.sin(angle)
    ra = ra_deg + r_deg * np.cos(angle) / np.cos(np.deg2rad(dec))
    flux_mjy = 2.5 * (1 + rng.pareto(0.8, n))
    lines = ["NVSS,RAJ2000,DEJ2000,S1.4"] + [f"F{k:05d},{ra[k] % 360:.6f},{dec[k]:.6f},{flux_mjy[k]:.4g}"
                                            for k in range(n)]
    path.write_text("\n".join(lines) + "\n")
    return path


def ensure_group() -> list[str]:
    incoming = OUT / "incoming"
    if not incoming.is_dir() or len(list(incoming.glob("*.hdf5"))) < 16:
        for stale in (incoming, OUT / "truth"):  # the other benchmarks' outputs under OUT stay
            shutil.rmtree(stale, ignore_errors=True)
        subprocess.run([CLI, "simulate", "--preset", "full", "--incoming", str(incoming), "--truth", str(OUT / "truth"),
                        "--calibrators", str(HERE.parent / "config" / "calibrators.csv"), "--transit", "3C286",
                        "--transit-observation", "0"], check=True)
    return [str(p) for p in sorted(incoming.glob("*.hdf5"))[:16]]


def group_index_record(files: list[str]) -> Path:
    """The workflow's group index record (with the calibrator transit) for the benchmark observation."""
    from dsa110_continuum.calibrate.transits import calibrator_in_observation
    from dsa110_continuum.ingest.index import describe_group
    from dsa110_continuum.sky.catalogue import load_calibrator_catalogue

    record = describe_group("benchmark", files, action="process", reason="complete")
    catalogue = load_calibrator_catalogue(HERE.parent / "config" / "calibrators.csv")
    record["calibrator"] = calibrator_in_observation(record, catalogue, dec_tolerance_deg=1.5)
    path = OUT / "index.json"
    path.write_text(json.dumps(record))
    return path


def mosaic_of_copies(image_dir: Path, n_tiles: int = 12) -> tuple[float, float]:
    """Time a mosaic of ``n_tiles`` copies of one image, each moved one observation (309 s of RA) east."""
    from astropy.io import fits

    from dsa110_continuum import instrument as inst

    qa = json.loads((image_dir / "qa.json").read_text())
    tiles = OUT / "tiles"
    shutil.rmtree(tiles, ignore_errors=True)
    tiles.mkdir()
    step_deg = 360.0 * inst.N_INTEGRATIONS * inst.INTEGRATION_TIME_S / 86164.0905
    records = []
    for k in range(n_tiles):
        with fits.open(image_dir / "image.fits") as hdul:
            hdul[0].header["CRVAL1"] = (hdul[0].header["CRVAL1"] + k * step_deg) % 360
            hdul.writeto(tiles / f"{k:02d}.fits")
        shift_d = k * inst.N_INTEGRATIONS * inst.INTEGRATION_TIME_S / 86400
        beam = {**qa["beam_model"], "times_mjd": [t + shift_d for t in qa["beam_model"]["times_mjd"]]}
        records.append({**qa, "group_id": f"tile{k:02d}", "beam_model": beam, "mid_mjd": qa["mid_mjd"] + shift_d})
    request = {"records": records, "images": [str(tiles / f"{k:02d}.fits") for k in range(n_tiles)],
               "out": str(tiles / "mosaic")}
    (tiles / "request.json").write_text(json.dumps(request))
    return timed([sys.executable, "-c", MOSAIC, str(tiles / "request.json")])


MOSAIC = """
import json, sys
from pathlib import Path
from dsa110_continuum.mosaic.products import make_mosaic
request = json.loads(Path(sys.argv[1]).read_text())
out = Path(request["out"]); out.mkdir(exist_ok=True)
qa = {r["group_id"]: r for r in request["records"]}
images = dict(zip(qa, request["images"]))
products = {p: str(out / f"{p}.fits") for p in ("mosaic", "noise", "coverage")} | {"quicklook": str(out / "q.png")}
make_mosaic("benchmark", list(qa), qa, images, products, pb_cutoff=0.2, dec_tolerance_deg=0.1, threads=2)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--baseline", action="store_true", help="also time pyuvdata read + write_ms")
    parser.add_argument("--images", default=",".join(IMAGE_VARIANTS),
                        help="imaging runs to time, from %(default)s (the default ones take 10 and 50 min)")
    args = parser.parse_args()

    files = ensure_group()
    index_path = group_index_record(files)
    cal = json.loads(index_path.read_text())["calibrator"]["calibrator"]
    size_gb = sum(os.path.getsize(p) for p in files) / 1e9
    rows = []
    for i in range(args.repeats):
        rows.append(("convert (raw -> MS)", i + 1, *timed([CLI, "convert", *files, "--ms", str(OUT / "bench.ms")])))
    for i in range(args.repeats):
        extract = [CLI, "extract-calibrator", *files, "--ms", str(OUT / "calibrator.ms"),
                   "--calibrator", cal["name"], str(cal["ra_deg"]), str(cal["dec_deg"])]
        wall_x, rss_x = timed(extract, OUT / "extraction.json")
        wall_s, rss_s = timed([CLI, "solve", str(OUT / "calibrator.ms"), "--index", str(index_path),
                               "--extraction-record", str(OUT / "extraction.json"), "--out", str(OUT / "tables")],
                              OUT / "qa.json")
        rows += [("  extract calibrator", i + 1, wall_x, rss_x), ("  solve (CASA)", i + 1, wall_s, rss_s),
                 ("solve total", i + 1, wall_x + wall_s, max(rss_x, rss_s))]
    field = write_field_catalogue(OUT / "field_catalogue.csv", cal["ra_deg"], cal["dec_deg"])
    for i in range(args.repeats):
        rows.append(("  extract calibrator + field model", i + 1,
                     *timed([*extract, "--field-catalogue", str(field)], OUT / "extraction_field.json")))
    qa = json.loads((OUT / "qa.json").read_text())
    reference = OUT / "truth" / "reference_catalogue.csv"  # the simulated sky's, as a survey's catalogue
    apply_cmd = [CLI, "apply", *files, "--ms", str(OUT / "calibrated.ms"), "--bandpass-table",
                 str(OUT / "tables" / "bandpass.bcal"), "--gain-table", str(OUT / "tables" / "gains.gcal"),
                 "--calibrators", str(HERE.parent / "config" / "calibrators.csv"), "--field-catalogue", str(reference)]
    for i in range(args.repeats):
        rows.append(("apply, no flagging", i + 1, *timed([*apply_cmd, "--flagger", "none"])))
    for i in range(args.repeats):
        rows.append(("apply + AOFlagger", i + 1, *timed(apply_cmd, OUT / "calibrated.json")))
    record = json.loads((OUT / "calibrated.json").read_text())
    (OUT / "calibrated.json").write_text(json.dumps({**record, "group_id": "benchmark"}))
    with_reference = OUT / "reference.yaml"
    with_reference.write_text(f"science: {{reference_catalogue: {reference}}}\n")
    images = args.images.split(",")
    for name in images:
        imager, overlays = IMAGE_VARIANTS[name]
        image_dir = OUT / f"image_{name}"
        image_dir.mkdir(exist_ok=True)
        configfiles = ["--configfile", str(HERE.parent / "config" / "config.yaml"), *map(str, overlays),
                       str(with_reference)]
        for i in range(args.repeats):  # the QA record the command prints goes beside the products, as in the workflow
            rows.append((f"image + PB + QA ({name})", i + 1,
                         *timed([CLI, "image", str(OUT / "calibrated.ms"), "--record", str(OUT / "calibrated.json"),
                                 "--out", str(image_dir), "--imager", imager, *configfiles], image_dir / "qa.json")))
    for i in range(args.repeats):
        rows.append(("mosaic of 12 images", i + 1, *mosaic_of_copies(OUT / f"image_{images[0]}")))
    if args.baseline:
        rows.append(("pyuvdata read + write_ms", 1, *timed([sys.executable, "-c", BASELINE, str(OUT / "baseline.ms"),
                                                            *files])))
    ms_gb = sum(f.stat().st_size for f in (OUT / "bench.ms").rglob("*") if f.is_file()) / 1e9
    image = json.loads((OUT / f"image_{images[0]}" / "qa.json").read_text())

    print(f"\nOne full-scale observation: 16 files, {size_gb:.2f} GB UVH5 -> {ms_gb:.2f} GB MS "
          f"(96 antennas, 768 channels, 24 integrations), {os.cpu_count()} cores")
    print(f"solve QA: passed={qa['passed']} refant={qa.get('refant')} median SNR={qa.get('median_snr', 0):.1f} "
          f"flagged={qa.get('flagged_fraction', 1):.1%}; AOFlagger flagged {record['flagged_fraction']:.2%}")
    print(f"image: {image['size_px']} px of {image['cell_arcsec']} arcsec, beam {image['beam_major_arcsec']:.0f} x "
          f"{image['beam_minor_arcsec']:.0f} arcsec, rms {image['rms_jy'] * 1e3:.1f} mJy/beam")
    print(f"{'step':<30}{'run':>4}{'wall s':>9}{'peak RSS GB':>13}")
    for name, run, wall, rss in rows:
        print(f"{name:<30}{run:>4}{wall:>9.1f}{rss:>13.2f}")
    print("targets: convert <= 10 s, <= 3 GB; solve <= 20 s; apply + flag + image + QA <= 60 s, <= 4 GB; "
          "12-image mosaic <= 20 s")


if __name__ == "__main__":
    main()
