"""The products database: an index of everything the workflow made, derived from its files alone.

SQLite by default, PostgreSQL by URL, through SQLAlchemy Core (the same code for both). Rows are grouped
by UTC day; a day's rows are replaced whenever the signature of its files changes (a product made, remade
or deleted), so the incrementally maintained database always equals one rebuilt from the files. A product
the upstream records say should exist but whose files are gone is kept as a row with status 'missing'.
Only local (head-node) jobs write it.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
from pathlib import Path

import sqlalchemy as sa

from ..ingest.index import read_day_index
from ..naming import Products, day_of
from ..records import InputError, read_json, save_figure, utc_now_iso

METADATA = sa.MetaData()


def _table(name: str, *columns: sa.Column) -> sa.Table:
    return sa.Table(name, METADATA, sa.Column("day", sa.String(10), nullable=False, index=True), *columns)


def _text(name, **kw):
    return sa.Column(name, sa.Text, **kw)


def _float(name):
    return sa.Column(name, sa.Float)


OBSERVATIONS = _table(
    "observations", sa.Column("group_id", sa.String(19), primary_key=True), _text("action"), _text("reason"),
    _text("files"), sa.Column("n_subbands", sa.Integer), _float("pointing_dec_deg"), _float("start_mjd"),
    _float("mid_mjd"), _float("end_mjd"), _text("problem"), _text("calibrator"), _text("calibration_set"),
    _text("stage"), _text("failure_step"), _text("failure_reason"), _text("failure_log"))
MEASUREMENT_SETS = _table(
    "measurement_sets", sa.Column("group_id", sa.String(19), primary_key=True),
    sa.Column("kind", sa.String(16), primary_key=True), _text("path"), _text("status"), _float("flagged_fraction"),
    sa.Column("n_channels", sa.Integer))
CALIBRATION_SETS = _table(
    "calibration_sets", sa.Column("set_id", sa.String(19), primary_key=True), _text("calibrator"),
    _float("transit_mjd"), _float("valid_from_mjd"), _float("valid_to_mjd"), _text("verdict"), _text("reasons"),
    _text("refant"), _float("flagged_fraction"), _float("median_snr"), _float("phase_scatter_deg"), _text("status"))
IMAGES = _table(
    "images", sa.Column("group_id", sa.String(19), primary_key=True), _text("path"), _text("status"),
    _text("imager"), _float("mid_mjd"), _float("freq_hz"), _float("rms_jy"), _float("peak_jy"),
    _float("dynamic_range"), _float("beam_major_arcsec"), _float("beam_minor_arcsec"), _float("flagged_fraction"),
    _float("blanked_fraction"), sa.Column("passed", sa.Boolean), _text("reasons"))
MOSAICS = _table(
    "mosaics", sa.Column("window_id", sa.String(19), primary_key=True), _text("path"), _text("status"),
    _text("members"), sa.Column("n_tiles", sa.Integer), _float("dec_deg"), _float("mid_mjd"),
    _float("noise_median_jy"), _float("rms_jy"), _float("peak_jy"))
SOURCES = _table(
    "sources", sa.Column("product", sa.String(8), primary_key=True),
    sa.Column("product_id", sa.String(19), primary_key=True), sa.Column("source_id", sa.Integer, primary_key=True),
    _float("ra_deg"), _float("dec_deg"), _float("ra_err_arcsec"), _float("dec_err_arcsec"), _float("peak_jy"),
    _float("peak_err_jy"), _float("flux_jy"), _float("flux_err_jy"), _float("major_arcsec"), _float("minor_arcsec"),
    _float("pa_deg"), _text("code"))
CROSSMATCHES = _table(
    "crossmatches", sa.Column("product", sa.String(8), primary_key=True),
    sa.Column("product_id", sa.String(19), primary_key=True), sa.Column("n_matched", sa.Integer),
    sa.Column("n_reference_covered", sa.Integer), _float("ra_offset_arcsec"), _float("dec_offset_arcsec"),
    _float("ra_offset_scatter_arcsec"), _float("dec_offset_scatter_arcsec"), _float("flux_ratio"),
    _float("flux_ratio_scatter"), _float("completeness"), _text("verdict"), _text("reasons"))
PHOTOMETRY = _table(
    "photometry", sa.Column("group_id", sa.String(19), primary_key=True),
    sa.Column("name", sa.String(64), primary_key=True, index=True), _float("mjd"), _float("ra_deg"),
    _float("dec_deg"), _float("flux_jy"), _float("flux_err_jy"), _float("pb"), _float("snr"))
DAYS = sa.Table("days", METADATA, sa.Column("day", sa.String(10), primary_key=True), _text("signature"),
                _text("synced_at"))
VARIABILITY = sa.Table(
    "variability", METADATA, sa.Column("name", sa.String(64), primary_key=True), _float("ra_deg"),
    _float("dec_deg"), sa.Column("n_epochs", sa.Integer), _float("mean_flux_jy"), _float("weighted_mean_flux_jy"),
    _float("eta"), _float("v"), _float("vs"), _float("m"), sa.Column("candidate", sa.Boolean))
DAY_TABLES = (OBSERVATIONS, MEASUREMENT_SETS, CALIBRATION_SETS, IMAGES, MOSAICS, SOURCES, CROSSMATCHES, PHOTOMETRY)


class DatabaseError(InputError):
    """The products database cannot be reached or written; the message names it (never its password)."""


def connect(url: str) -> sa.Engine:
    """An engine with the schema in place; raises DatabaseError naming the URL without its password."""
    engine = sa.create_engine(url)
    shown = engine.url.render_as_string(hide_password=True)
    try:
        METADATA.create_all(engine)
    except sa.exc.SQLAlchemyError as err:
        raise DatabaseError(f"products database {shown}: {type(err.orig or err).__name__}: "
                            f"{str(err.orig or err).splitlines()[0]}") from None
    return engine


def database_url(config: dict) -> str:
    return config["database"]["url"] or f"sqlite:///{os.path.abspath(Products(config['output_dir']).database())}"


# ------------------------------------------------------------------------------------------------ signatures

def day_signatures(paths: Products) -> dict[str, str]:
    """Per day, a hash of the names, sizes and times of the files its rows come from (one scandir per area)."""
    entries: dict[str, list[str]] = {}
    areas = ["plan", "index", "groups", "ms", "calibrated", "images", "mosaics", "calibration", "calibration/registry",
             "mosaics/plan", *(f"failures/{step}" for step in _failure_steps(paths))]
    for area in areas:
        directory = os.path.join(paths.root, area)
        if not os.path.isdir(directory):
            continue
        with os.scandir(directory) as listing:
            for entry in listing:
                day = entry.name[:10]
                if len(day) == 10 and day[4] == "-" and day[7] == "-":
                    info = entry.stat()
                    entries.setdefault(day, []).append(f"{area}/{entry.name}:{info.st_size}:{info.st_mtime_ns}")
    return {day: hashlib.sha1("\n".join(sorted(lines)).encode()).hexdigest() for day, lines in entries.items()}


def _failure_steps(paths: Products) -> list[str]:
    root = os.path.join(paths.root, "failures")
    return sorted(os.listdir(root)) if os.path.isdir(root) else []


# ------------------------------------------------------------------------------------------------ rows of a day

def _csv_rows(path: str) -> list[dict]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def _product_status(*files: str) -> str:
    return "present" if all(os.path.exists(f) for f in files) else "missing"


def day_rows(paths: Products, day: str) -> dict[sa.Table, list[dict]]:
    """Every row of one day, from its files."""
    rows: dict[sa.Table, list[dict]] = {table: [] for table in DAY_TABLES}
    plan = read_json(paths.plan(day)) if os.path.exists(paths.plan(day)) else {}
    index = {r["group_id"]: r for r in read_day_index(paths.day_index(day))} if os.path.exists(paths.day_index(day)) else {}
    registry = read_json(paths.registry(day)) if os.path.exists(paths.registry(day)) else {}
    failures = {item: (step, read_json(path)) for (step, item), path in paths.failures().items() if day_of(item) == day}
    for group, entry in sorted(plan.items()):
        row = index.get(group, {})
        failure = failures.get(group)
        image = paths.image_qa(group)
        stage = ("failed" if failure else "skipped" if entry["action"] == "skip" else "waiting" if entry["action"] == "wait"
                 else "imaged" if os.path.exists(image) else "calibrated" if os.path.exists(paths.calibrated_record(group))
                 else "awaiting calibration" if group in registry.get("awaiting_reasons", {}) else "indexed" if row
                 else "planned")
        rows[OBSERVATIONS].append({
            "day": day, "group_id": group, "action": entry["action"], "reason": entry["reason"],
            "files": ";".join(os.path.basename(f) for f in entry["files"]), "n_subbands": len(entry["files"]),
            "pointing_dec_deg": row.get("pointing_dec_deg"), "start_mjd": row.get("start_mjd"),
            "mid_mjd": row.get("mid_mjd"), "end_mjd": row.get("end_mjd"), "problem": row.get("problem"),
            "calibrator": row.get("calibrator"), "calibration_set": registry.get("assignments", {}).get(group),
            "stage": stage, "failure_step": failure[0] if failure else None,
            "failure_reason": failure[1]["reason"] if failure else None,
            "failure_log": failure[1]["log"] if failure else None})
        for kind, record, ms in (("uncalibrated", paths.ms_record(group), paths.ms(group)),
                                 ("calibrated", paths.calibrated_record(group), paths.calibrated_ms(group))):
            if os.path.exists(record):
                r = read_json(record)
                rows[MEASUREMENT_SETS].append({"day": day, "group_id": group, "kind": kind, "path": paths.relative(ms),
                                               "status": _product_status(ms), "n_channels": r.get("n_channels"),
                                               "flagged_fraction": r.get("flagged_fraction")})
        if os.path.exists(paths.calibrated_record(group)) and not (failure and failure[0] == "image"):
            rows[IMAGES].append(_image_row(paths, day, group))
            _measurements(paths, rows, day, "image", group)
    for s in registry.get("sets", []):
        if day_of(s["set_id"]) != day:
            continue
        qa = read_json(paths.solve_qa(s["set_id"])) if os.path.exists(paths.solve_qa(s["set_id"])) else {}
        rows[CALIBRATION_SETS].append({
            "day": day, "set_id": s["set_id"], "calibrator": s["calibrator"], "transit_mjd": s["transit_mjd"],
            "valid_from_mjd": s["valid_from_mjd"], "valid_to_mjd": s["valid_to_mjd"], "verdict": s["status"],
            "reasons": "; ".join(s["reasons"]), "refant": qa.get("refant"), "flagged_fraction": qa.get("flagged_fraction"),
            "median_snr": qa.get("median_snr"), "phase_scatter_deg": qa.get("phase_scatter_deg"),
            "status": _product_status(paths.bandpass_table(s["set_id"]), paths.gain_table(s["set_id"]))
            if qa.get("passed") else "none"})
    mosaic_plan = read_json(paths.mosaic_plan(day)) if os.path.exists(paths.mosaic_plan(day)) else {"windows": []}
    for window in mosaic_plan["windows"]:
        if window["waiting"] is None and window["imaged"] and not ("mosaic", window["window_id"]) in paths.failures():
            rows[MOSAICS].append(_mosaic_row(paths, day, window))
            _measurements(paths, rows, day, "mosaic", window["window_id"])
    return rows


def _image_row(paths: Products, day: str, group: str) -> dict:
    qa_path = paths.image_qa(group)
    qa = read_json(qa_path) if os.path.exists(qa_path) else {}
    keys = ("imager", "mid_mjd", "freq_hz", "rms_jy", "peak_jy", "dynamic_range", "beam_major_arcsec",
            "beam_minor_arcsec", "flagged_fraction", "blanked_fraction", "passed")
    return {"day": day, "group_id": group, "path": paths.relative(paths.image_product(group, "pbcor")),
            "status": _product_status(qa_path, *(paths.image_product(group, p) for p in ("image", "pbcor", "pb"))),
            **{k: qa.get(k) for k in keys}, "reasons": "; ".join(qa.get("reasons", []))}


def _mosaic_row(paths: Products, day: str, window: dict) -> dict:
    window_id = window["window_id"]
    qa_path = paths.mosaic_qa(window_id)
    qa = read_json(qa_path) if os.path.exists(qa_path) else {}
    return {"day": day, "window_id": window_id, "path": paths.relative(paths.mosaic_product(window_id, "mosaic")),
            "status": _product_status(qa_path, paths.mosaic_product(window_id, "mosaic"),
                                      paths.mosaic_product(window_id, "noise")),
            "members": ";".join(window["members"]), "n_tiles": qa.get("n_tiles"), "dec_deg": qa.get("dec_deg"),
            "mid_mjd": qa.get("mid_mjd"), "noise_median_jy": qa.get("noise_median_jy"), "rms_jy": qa.get("rms_jy"),
            "peak_jy": qa.get("peak_jy")}


def _measurements(paths: Products, rows: dict, day: str, product: str, item: str) -> None:
    """Sources, cross-match and (for images) photometry of one product, where they exist."""
    sources, crossmatch = paths.sources(product, item), paths.crossmatch(product, item)
    if os.path.exists(sources):
        for r in _csv_rows(sources):
            rows[SOURCES].append({"day": day, "product": product, "product_id": item,
                                  **{k: (v if k == "code" else int(v) if k == "source_id" else float(v))
                                     for k, v in r.items()}})
    if os.path.exists(crossmatch):
        r = read_json(crossmatch)
        keys = [c.name for c in CROSSMATCHES.columns if c.name not in ("day", "product", "product_id", "reasons")]
        rows[CROSSMATCHES].append({"day": day, "product": product, "product_id": item, **{k: r.get(k) for k in keys},
                                   "reasons": "; ".join(r.get("reasons", []))})
    if product == "image" and os.path.exists(paths.photometry(item)):
        mjd = read_json(paths.image_qa(item)).get("mid_mjd") if os.path.exists(paths.image_qa(item)) else None
        for r in _csv_rows(paths.photometry(item)):
            rows[PHOTOMETRY].append({"day": day, "group_id": item, "name": r["name"], "mjd": mjd,
                                     **{k: float(r[k]) for k in ("ra_deg", "dec_deg", "flux_jy", "flux_err_jy", "pb",
                                                                 "snr")}})


# ------------------------------------------------------------------------------------------------ sync

def sync(engine: sa.Engine, paths: Products, *, rebuild: bool = False) -> dict:
    """Bring the database up to date with the files: the days whose files changed (all with ``rebuild``)."""
    signatures = day_signatures(paths)
    with engine.begin() as db:
        stored = {} if rebuild else dict(db.execute(sa.select(DAYS.c.day, DAYS.c.signature)).all())
        if rebuild:
            for table in (*DAY_TABLES, DAYS, VARIABILITY):
                db.execute(sa.delete(table))
        changed = sorted(day for day, signature in signatures.items() if stored.get(day) != signature)
        gone = sorted(set(stored) - set(signatures))
        for day in changed + gone:
            for table in (*DAY_TABLES, DAYS):
                db.execute(sa.delete(table).where(table.c.day == day))
        for day in changed:
            for table, rows in day_rows(paths, day).items():
                if rows:
                    db.execute(sa.insert(table), rows)
            db.execute(sa.insert(DAYS), [{"day": day, "signature": signatures[day], "synced_at": utc_now_iso()}])
    return {"days_synced": changed, "days_removed": gone}


def update_variability(engine: sa.Engine, *, eta_threshold: float, vs_threshold: float, m_threshold: float) -> list[dict]:
    """Recompute every light curve's variability metrics from the photometry table; returns the rows."""
    import numpy as np

    from ..science.photometry import is_candidate, variability

    with engine.begin() as db:
        photometry = db.execute(sa.select(PHOTOMETRY.c.name, PHOTOMETRY.c.ra_deg, PHOTOMETRY.c.dec_deg,
                                          PHOTOMETRY.c.flux_jy, PHOTOMETRY.c.flux_err_jy)
                                .order_by(PHOTOMETRY.c.name, PHOTOMETRY.c.mjd)).all()
        curves: dict[str, list] = {}
        for name, ra, dec, flux, err in photometry:
            curves.setdefault(name, []).append((ra, dec, flux, err))
        rows = []
        for name, points in curves.items():
            values = np.array(points)
            metrics = variability(values[:, 2], values[:, 3])
            rows.append({"name": name, "ra_deg": float(values[0, 0]), "dec_deg": float(values[0, 1]), **metrics,
                         "candidate": is_candidate(metrics, eta_threshold=eta_threshold, vs_threshold=vs_threshold,
                                                   m_threshold=m_threshold)})
        db.execute(sa.delete(VARIABILITY))
        if rows:
            db.execute(sa.insert(VARIABILITY), rows)
    return rows


def dump(engine: sa.Engine) -> dict[str, list[tuple]]:
    """Every table's rows, sorted, without the sync times: what two databases compare by."""
    tables = {}
    with engine.connect() as db:
        for table in METADATA.sorted_tables:
            columns = [c for c in table.columns if c.name != "synced_at"]
            tables[table.name] = sorted(tuple(json.dumps(v) for v in row) for row in db.execute(sa.select(*columns)))
    return tables


def light_curve(engine: sa.Engine, name: str) -> list[tuple]:
    """One source's (mjd, flux_jy, flux_err_jy) in time order."""
    with engine.connect() as db:
        return db.execute(sa.select(PHOTOMETRY.c.mjd, PHOTOMETRY.c.flux_jy, PHOTOMETRY.c.flux_err_jy)
                          .where(PHOTOMETRY.c.name == name).order_by(PHOTOMETRY.c.mjd)).all()


def plot_light_curve(points: list[tuple], name: str, path: str | Path, metrics: dict) -> None:
    """A PNG of one light curve with its variability metrics."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    mjd, flux, err = (list(v) for v in zip(*points))
    fig, ax = plt.subplots(figsize=(7, 3.5), dpi=100)
    ax.errorbar([(t - mjd[0]) * 24 for t in mjd], [f * 1e3 for f in flux], yerr=[e * 1e3 for e in err], fmt="o")
    ax.set_xlabel(f"hours since MJD {mjd[0]:.4f}")
    ax.set_ylabel("flux density (mJy)")
    ax.set_title(f"{name}: eta {metrics['eta']:.1f}, V {metrics['v']:.2f}, Vs {metrics['vs']:.1f}, m {metrics['m']:.2f}",
                 fontsize=9)
    fig.tight_layout()
    save_figure(fig, path)
