"""Science products end to end: catalogues, cross-matches, forced photometry, variability, the database."""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa
from astropy.wcs import WCS

from dsa110_continuum.config import load_config
from dsa110_continuum.image.products import read_plane
from dsa110_continuum.naming import Products
from dsa110_continuum.products.db import IMAGES, MEASUREMENT_SETS, VARIABILITY, connect, dump, sync
from dsa110_continuum.science.crossmatch import match_around_offset
from dsa110_continuum.science.reference import Reference
from dsa110_continuum.science.sources import read_sources
from dsa110_continuum.simulate.session import read_sky_model

pytestmark = pytest.mark.e2e
TOOLS = Path(__file__).resolve().parents[2] / "tools"


def rows(path) -> list[dict]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def test_the_workflow_makes_every_science_product(science_run):
    assert science_run["run"].returncode == 0, science_run["run"].stderr[-3000:]
    paths = Products(science_run["out"])
    for group in science_run["groups"]:
        assert len(rows(paths.sources("image", group))) > 0
        assert json.loads(Path(paths.crossmatch("image", group)).read_text())["n_matched"] > 0
    assert Path(paths.database()).is_file() and Path(paths.variability()).is_file()


def test_the_run_prints_no_astropy_warnings(science_run):
    """What Snakemake prints is what an operator's cron log keeps: astropy found no product header to fix or
    truncate (each image job used to print 12 such warnings)."""
    printed = science_run["run"].stdout + science_run["run"].stderr
    found = re.findall(r"^WARNING: \w+Warning: .*$", printed, re.M)
    assert not found, sorted(set(found))


def median_offset_arcsec(sources_csv, catalogue) -> tuple[float, float]:
    """Median (RA, Dec) offset of a product's catalogued sources from ``catalogue``, matched within 10"."""
    found = read_sources(sources_csv)
    _, _, d_ra, d_dec = match_around_offset(found["ra_deg"], found["dec_deg"], catalogue, radius_arcsec=10)
    return float(np.median(d_ra)), float(np.median(d_dec))


def test_injected_astrometric_offset_and_flux_scale_are_recovered(science_run):
    """The reference is misplaced by (+3.0", -2.0") and 10 % too bright. Every mosaic's cross-match finds a flux
    ratio of 1/1.1 within 2 %, and the opposite of the injected offset within 0.2" (the issue asks 0.5") of the
    mosaic's own offset from the simulation's truth, which is itself within 1".

    The mosaics' own offset is not zero: calibration models the calibrator's field from the same misplaced
    catalogue, and that pulls the calibrator's own observation towards it (+0.8" in RA in its image; with the
    field model at the true positions, +0.3"): antenna gains solved against a model carry a share of its errors
    of order 1/N_antennas (12 here) into the field they were solved on. So the first mosaic's cross-match reads
    -2.4" in RA, its own offset +0.6"."""
    sky = read_sky_model(science_run["truth_dir"] / "sky_model.csv")
    truth = Reference("truth", np.array([s.name for s in sky]), np.array([s.ra_deg for s in sky]),
                      np.array([s.dec_deg for s in sky]), np.array([s.flux_jy for s in sky]))
    paths = Products(science_run["out"])
    plans = [json.loads(Path(p).read_text()) for p in sorted(Path(paths.root).glob("mosaics/plan/*.json"))]
    windows = [w["window_id"] for plan in plans for w in plan["windows"] if w["waiting"] is None]
    assert len(windows) >= 2
    for window in windows:
        match = json.loads(Path(paths.crossmatch("mosaic", window)).read_text())
        own_ra, own_dec = median_offset_arcsec(paths.sources("mosaic", window), truth)
        print(window, match, own_ra, own_dec)
        assert match["n_matched"] >= 10, match
        assert np.hypot(own_ra, own_dec) <= 1.0, (own_ra, own_dec)
        assert match["ra_offset_arcsec"] == pytest.approx(own_ra - 3.0, abs=0.2), (match, own_ra)
        assert match["dec_offset_arcsec"] == pytest.approx(own_dec + 2.0, abs=0.2), (match, own_dec)
        assert match["flux_ratio"] == pytest.approx(1 / 1.1, rel=0.02), match


def photometry_against_truth(science_run):
    """(measured, error, true) flux of every constant source measured in an image."""
    sky = {s.name: s for s in read_sky_model(science_run["truth_dir"] / "sky_model.csv")}
    paths = Products(science_run["out"])
    measured = []
    for group in science_run["groups"]:
        for r in rows(paths.photometry(group)):
            source = sky[r["name"]]
            if source.variability_factor == 1.0:
                measured.append((float(r["flux_jy"]), float(r["flux_err_jy"]), source.flux_jy))
    return np.array(measured)


def test_forced_photometry_of_bright_sources_is_within_5_percent(science_run):
    """Above 20 sigma, within 5 % of the truth or within 3x the error where that is larger (at 20 sigma an honest
    error is itself 5 %), for all but 3 % of the sources, none beyond 10 % or 5x its error, and a median within 1 %.
    (The few beyond 3 errors sit near the restored 20 Jy calibrator or bright neighbours.)"""
    measured, error, true = photometry_against_truth(science_run).T
    snr = measured / error
    bright = snr >= 20
    deviation, snr = np.abs(measured[bright] / true[bright] - 1), snr[bright]
    print(f"{bright.sum()} above 20 sigma, {np.sum(deviation <= 0.05)} within 5 %, "
          f"{np.sum(deviation <= np.maximum(0.05, 3 / snr))} within 5 % or 3 errors, median "
          f"{np.median(measured[bright] / true[bright]):.3f}")
    assert bright.sum() >= 60
    assert np.mean(deviation <= np.maximum(0.05, 3 / snr)) >= 0.97, sorted(zip(deviation, snr))[-10:]
    assert np.all(deviation <= np.maximum(0.10, 5 / snr)), sorted(zip(deviation, snr))[-3:]
    assert abs(np.median(measured[bright] / true[bright]) - 1) <= 0.01


def test_clean_reaches_every_catalogued_source(science_run):
    """CLEAN works around every reference-catalogue source on the image: where a source is at least 10 sigma
    bright in the image, the residual left at it is below 3 sigma. (Inside WSClean's own 5-sigma mask, fixed
    while the sidelobes of sources not yet cleaned doubled the rms, sources up to 13 sigma were left whole.)"""
    sky = read_sky_model(science_run["truth_dir"] / "sky_model.csv")
    paths, checked = Products(science_run["out"]), 0
    for k, group in enumerate(science_run["groups"]):
        qa = json.loads(Path(paths.image_qa(group)).read_text())
        assert qa["clean_mask_sources"] >= 40, qa["clean_mask_sources"]
        residual, header = read_plane(paths.image_product(group, "residual"))
        pb, _ = read_plane(paths.image_product(group, "pb"))
        x, y = WCS(header).celestial.world_to_pixel_values([s.ra_deg for s in sky], [s.dec_deg for s in sky])
        for source, xs, ys in zip(sky, np.round(x).astype(int), np.round(y).astype(int)):
            if source.name == "TESTCAL" or not (1 <= xs < pb.shape[1] - 1 and 1 <= ys < pb.shape[0] - 1):
                continue
            if source.in_observation(k).flux_jy * pb[ys, xs] >= 10 * qa["rms_jy"]:
                checked += 1
                left = residual[ys - 1:ys + 2, xs - 1:xs + 2].max() / qa["rms_jy"]
                assert left < 3, (group, source.name, left)
    assert checked >= 200, checked


def test_the_calibrator_is_subtracted_and_restored_leaving_its_neighbours_near_the_quiet_noise(science_run):
    """The 20 Jy calibrator transits in the first observation and drifts through the next ones. Applying calibration
    subtracts it from each observation in which it is at least 0.01 Jy through the beam, and the image step restores
    it in the two images it lies on: their catalogues have it at its position (within 1/5 of the beam) and flux
    (within 3 %). The reference catalogue's sources (misplaced by 3" and 10 % too bright) have their drift through
    the beam taken out. The images beside the calibrator then have a residual rms within 3x the quietest image's
    (with all of it left in the data, the second and third had 3.8x and 3.4x)."""
    paths, groups = Products(science_run["out"]), science_run["groups"]
    calibrated = {g: json.loads(Path(paths.calibrated_record(g)).read_text()) for g in groups}
    assert {g: [s["calibrator"]["name"] for s in r["bright_sources"]] for g, r in calibrated.items()} == \
        {g: ["TESTCAL"] for g in groups}
    assert all(r["n_field_sources_steadied"] >= 10 for r in calibrated.values()), calibrated
    image_qa = {g: json.loads(Path(paths.image_qa(g)).read_text()) for g in groups}
    assert [[s["name"] for s in image_qa[g]["restored_sources"]] for g in groups] == [["TESTCAL"]] * 2 + [[]] * 4
    calibrator = next(s for s in read_sky_model(science_run["truth_dir"] / "sky_model.csv") if s.name == "TESTCAL")
    for group in groups[:2]:
        found = rows(paths.sources("image", group))
        offsets_arcsec = [3600 * np.hypot((float(r["ra_deg"]) - calibrator.ra_deg) * np.cos(np.deg2rad(
            calibrator.dec_deg)), float(r["dec_deg"]) - calibrator.dec_deg) for r in found]
        nearest = found[int(np.argmin(offsets_arcsec))]
        assert min(offsets_arcsec) <= image_qa[group]["beam_minor_arcsec"] / 5, (group, min(offsets_arcsec))
        assert float(nearest["peak_jy"]) == pytest.approx(calibrator.flux_jy, rel=0.03), (group, nearest)
    rms_jy = {g: qa["rms_jy"] for g, qa in image_qa.items()}
    assert max(rms_jy.values()) <= 3 * min(rms_jy.values()), rms_jy


def test_every_epoch_has_the_flux_scale_including_the_calibrators_own(science_run):
    """Forced photometry above 10 sigma has a median within 5 % of the truth in every image. The first is the
    calibrator's own observation: solved against the calibrator alone, the gains took 12 % of its field
    sources' flux away; with the field modelled beside it, it reads like the rest."""
    sky = {s.name: s for s in read_sky_model(science_run["truth_dir"] / "sky_model.csv")}
    paths, medians = Products(science_run["out"]), {}
    for group in science_run["groups"]:
        ratios = [float(r["flux_jy"]) / sky[r["name"]].flux_jy for r in rows(paths.photometry(group))
                  if sky[r["name"]].variability_factor == 1.0 and float(r["snr"]) >= 10]
        assert len(ratios) >= 3, (group, ratios)
        medians[group] = float(np.median(ratios))
    assert all(abs(m - 1) <= 0.05 for m in medians.values()), medians


def test_forced_photometry_errors_are_honest(science_run):
    """The errors (the residual's local rms over the beam, for noise correlated like the beam) describe the
    scatter about the truth: (measured - true) / error has a standard deviation of 0.8-1.25."""
    measured, error, true = photometry_against_truth(science_run).T
    pulls = (measured - true) / error
    assert len(pulls) >= 100 and 0.8 <= np.std(pulls) <= 1.25, np.std(pulls)


def injected_significance(science_run) -> dict[str, float]:
    """For each source measured in two or more images, the largest injected change between two of its epochs in
    units of their photometric errors: the |Vs| a noiseless measurement would give."""
    sky = {s.name: s for s in read_sky_model(science_run["truth_dir"] / "sky_model.csv")}
    epochs: dict[str, list[tuple[float, float]]] = {}
    for k, group in enumerate(science_run["groups"]):
        for r in rows(Products(science_run["out"]).photometry(group)):
            epochs.setdefault(r["name"], []).append((sky[r["name"]].in_observation(k).flux_jy, float(r["flux_err_jy"])))
    return {name: max(abs(f1 - f2) / np.hypot(e1, e2) for i, (f1, e1) in enumerate(seen) for f2, e2 in seen[i + 1:])
            for name, seen in epochs.items() if len(seen) >= 2}


def variability_verdicts(science_run) -> tuple[dict, set[str], set[str]]:
    """The variability table by source name, the variable sources whose injected change stands above their errors
    (injected |Vs| >= threshold + 1), and the flagged sources."""
    engine = connect(f"sqlite:///{Products(science_run['out']).database()}")
    with engine.connect() as db:
        table = {r.name: r for r in db.execute(sa.select(VARIABILITY))}
    significance = injected_significance(science_run)
    vs_threshold = load_config(science_run["configfile"])["science"]["variability"]["vs_threshold"]
    detectable = {name for name in science_run["truth"]["variable_sources"]
                  if significance.get(name, 0) >= vs_threshold + 1}
    return table, detectable, {name for name, r in table.items() if r.candidate}


def test_variable_sources_are_flagged(science_run):
    """Every variable source whose injected change stands above its errors is flagged, with a light curve. A
    variable whose change is within its errors cannot be told from a constant one by any method; those are
    reported, not required."""
    table, detectable, flagged = variability_verdicts(science_run)
    variable = set(science_run["truth"]["variable_sources"])
    assert len(detectable) >= 3, detectable
    assert detectable <= flagged, detectable - flagged
    print(f"variables flagged: {len(flagged & variable)} of {len(variable & set(table))} measured "
          f"({len(detectable)} with a detectable change)")
    for name in flagged & variable:
        assert Path(Products(science_run["out"]).light_curve_plot(name)).is_file()


def test_no_constant_source_is_flagged(science_run):
    table, _, flagged = variability_verdicts(science_run)
    variable = set(science_run["truth"]["variable_sources"])
    constant = [name for name, r in table.items() if name not in variable and r.n_epochs >= 2]
    print(f"false positives: {sorted(flagged - variable)} of {len(constant)} constant sources")
    assert len(constant) >= 100 and not flagged - variable


def test_a_rebuilt_database_equals_the_incremental_one(science_run, tmp_path):
    incremental = connect(f"sqlite:///{Products(science_run['out']).database()}")
    rebuilt = connect(f"sqlite:///{tmp_path / 'rebuilt.sqlite'}")
    sync(rebuilt, Products(science_run["out"]), rebuild=True)
    assert dump(rebuilt)["variability"] == [] and dump(incremental)["variability"]  # variability is recomputed
    assert {k: v for k, v in dump(rebuilt).items() if k != "variability"} == \
        {k: v for k, v in dump(incremental).items() if k != "variability"}


def postgres_url() -> str | None:
    status = subprocess.run([str(TOOLS / "postgres-server"), "status"], capture_output=True)
    if status.returncode != 0:
        return None
    return subprocess.run([str(TOOLS / "postgres-server"), "url"], capture_output=True, text=True).stdout.strip()


@pytest.mark.skipif(postgres_url() is None, reason="no test PostgreSQL (tools/postgres-server start)")
def test_the_same_database_on_postgresql(science_run):
    """The workflow's database CLI rebuilds into PostgreSQL the rows the SQLite one holds."""
    url = postgres_url()
    engine = sa.create_engine(url)
    with engine.begin() as db:  # a fresh schema for this test
        db.execute(sa.text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    out = subprocess.run([str(Path(sys.executable).parent / "dsa110-continuum"), "database", "rebuild",
                          "--configfile", str(science_run["configfile"]), "--config", f"database={{url: {url}}}"],
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    assert "dsa110-test" not in out.stdout + out.stderr  # the password is never shown
    sqlite = dump(connect(f"sqlite:///{Products(science_run['out']).database()}"))
    assert dump(connect(url)) == sqlite


def test_an_unreachable_postgresql_is_named_without_its_password(science_run):
    out = subprocess.run([str(Path(sys.executable).parent / "dsa110-continuum"), "database", "sync",
                          "--configfile", str(science_run["configfile"]),
                          "--config", "database={url: 'postgresql+psycopg://dsa:secret-pw@127.0.0.1:1/nowhere'}"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode != 0 and "Traceback" not in out.stderr
    assert "postgresql+psycopg://dsa:***@127.0.0.1:1/nowhere" in out.stderr and "secret-pw" not in out.stderr


def test_a_deleted_product_is_marked_missing(science_run, tmp_path):
    """Delete one observation's calibrated MS and one image's PB-corrected FITS: the next sync marks them."""
    work = tmp_path / "results"
    shutil.copytree(science_run["out"], work, symlinks=True)
    paths = Products(work)
    group = science_run["groups"][2]
    shutil.rmtree(paths.calibrated_ms(group))
    os.remove(paths.image_product(group, "pbcor"))
    engine = connect(f"sqlite:///{paths.database()}")
    assert sync(engine, paths)["days_synced"] == [group[:10]]
    with engine.connect() as db:
        ms = db.execute(sa.select(MEASUREMENT_SETS.c.status).where(MEASUREMENT_SETS.c.group_id == group,
                                                                   MEASUREMENT_SETS.c.kind == "calibrated")).scalar()
        image = db.execute(sa.select(IMAGES.c.status).where(IMAGES.c.group_id == group)).scalar()
        others = db.execute(sa.select(IMAGES.c.status).where(IMAGES.c.group_id != group)).scalars().all()
    assert ms == "missing" and image == "missing" and set(others) == {"present"}
