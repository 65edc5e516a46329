"""What the workflow produced, what waits and why, what failed and where its log is; with the simulation
truth, whether the products are right."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from ..ingest.index import read_day_index
from ..naming import Products, day_of
from ..records import read_json


def _observation_status(paths: Products, row: dict, failures: dict, registry: dict) -> tuple[str, bool]:
    group = row["group_id"]
    failed = [(step, read_json(path)) for (step, failed_group), path in failures.items() if failed_group == group]
    if failed:
        return "; ".join(f"FAILED at {step}: {record['reason']}  (log: {paths.absolute(record['log'])})"
                         for step, record in failed), False
    if row["action"] == "skip":
        return f"skipped: {row['reason']}", True
    if os.path.exists(paths.image_qa(group)):
        qa = read_json(paths.image_qa(group))
        figures = (f"rms {qa['rms_jy'] * 1e3:.1f} mJy/beam, peak {qa['peak_jy']:.2f} Jy/beam, beam "
                   f"{qa['beam_major_arcsec']:.0f}\" x {qa['beam_minor_arcsec']:.0f}\", {qa['flagged_fraction']:.1%} flagged")
        verdict = "imaged" if qa["passed"] else "IMAGE FAILED QA (" + "; ".join(qa["reasons"]) + ")"
        return f"{verdict}: {figures}", qa["passed"]
    if os.path.exists(paths.calibrated_record(group)):
        r = read_json(paths.calibrated_record(group))
        return (f"calibrated with set {r['calibration_set']} ({r['calibrator']}, {r['hours_from_transit']:.2f} h "
                f"from transit): {paths.calibrated_ms(group)}"), True
    if group in registry.get("awaiting_reasons", {}):
        return f"awaiting calibration: {registry['awaiting_reasons'][group]}", True
    if os.path.exists(paths.ms_record(group)):
        return f"converted (uncalibrated): {paths.ms(group)}", True
    return "not yet processed", False


def _print_calibration_sets(paths: Products, registries: dict, out) -> None:
    sets = {s["set_id"]: s for registry in registries.values() for s in registry.get("sets", [])}
    print("Calibration sets:", file=out)
    for set_id, cal_set in sorted(sets.items()):
        qa = read_json(paths.solve_qa(set_id)) if os.path.exists(paths.solve_qa(set_id)) else {}
        figures = (f"refant {qa.get('refant')}, {qa.get('n_good_antennas')}/{qa.get('n_antennas_in_data')} antennas, "
                   f"{qa['flagged_fraction']:.1%} flagged, median SNR {qa.get('median_snr', 0):.0f}, "
                   f"phase scatter {qa.get('phase_scatter_deg') or 0:.1f} deg") if "flagged_fraction" in qa else ""
        print(f"  {set_id}  {cal_set['calibrator']:<10} {cal_set['status'].upper():<7} {figures} "
              f"{'; '.join(cal_set['reasons'])}", file=out)


def _print_mosaics(paths: Products, days: list[str], out) -> None:
    print("\nMosaics:", file=out)
    for day in days:
        if not os.path.exists(paths.mosaic_plan(day)):
            continue
        for window in read_json(paths.mosaic_plan(day))["windows"]:
            window_id = window["window_id"]
            if os.path.exists(paths.mosaic_qa(window_id)):
                qa = read_json(paths.mosaic_qa(window_id))
                state = (f"{qa['n_tiles']} tiles, noise {qa['noise_median_jy'] * 1e3:.1f} mJy/beam (measured "
                         f"{qa['rms_jy'] * 1e3:.1f}), peak {qa['peak_jy']:.2f} Jy/beam: {paths.mosaic_product(window_id, 'mosaic')}")
            else:
                state = window["waiting"] or "not yet made"
            print(f"  {window_id}  {len(window['members']):>2} observations  {state}", file=out)


def _print_science(config: dict, out) -> None:
    """Cross-match figures and variable candidates, read from the products database."""
    import sqlalchemy as sa

    from ..products.db import CROSSMATCHES, VARIABILITY, connect, database_url

    if not os.path.exists(Products(config["output_dir"]).database_synced()):
        return
    engine = connect(database_url(config))
    with engine.connect() as db:
        matches = db.execute(sa.select(CROSSMATCHES).order_by(CROSSMATCHES.c.product, CROSSMATCHES.c.product_id)).all()
        candidates = db.execute(sa.select(VARIABILITY).where(VARIABILITY.c.candidate)
                                .order_by(VARIABILITY.c.eta.desc())).all()
        n_curves = db.execute(sa.select(sa.func.count()).select_from(VARIABILITY)).scalar()
    print(f"\nCross-matches with the reference catalogue ({engine.url.render_as_string(hide_password=True)}):", file=out)
    print("  product  id                   matched   dRA\"  dDec\"  ratio complete  verdict", file=out)
    for m in matches:
        figures = (f"{m.n_matched:>7} {m.ra_offset_arcsec:>6.2f} {m.dec_offset_arcsec:>6.2f} {m.flux_ratio:>6.3f} "
                   f"{(m.completeness or 0):>8.0%}") if m.flux_ratio is not None else f"{m.n_matched or 0:>7}"
        print(f"  {m.product:<8} {m.product_id:<20} {figures}  {m.verdict} {m.reasons or ''}", file=out)
    print(f"\nVariable candidates ({len(candidates)} of {n_curves} light curves):", file=out)
    for v in candidates:
        print(f"  {v.name:<16} {v.n_epochs} epochs, mean {v.mean_flux_jy * 1e3:.0f} mJy, eta {v.eta:.1f}, "
              f"V {v.v:.2f}, Vs {v.vs:.1f}, m {v.m:.2f}", file=out)


def _truth_checks(paths: Products, registries: dict, truth_dir: str, out) -> bool:
    from ..casa import calibration_solutions, ms_summary
    from ..simulate.truth import check_ms_against_truth, gain_errors_against_truth

    ok = True
    truth = json.loads((Path(truth_dir) / "session.json").read_text())
    n_channels = truth["config"]["n_subbands"] * truth["config"]["n_chan_per_subband"]
    print(f"\nTruth checks against {truth_dir}:", file=out)
    for obs in truth["observations"]:
        existing = [p for p in (paths.ms(obs["group_id"]), paths.calibrated_ms(obs["group_id"])) if os.path.exists(p)]
        if not existing:
            print(f"  {obs['group_id']}: FAIL no Measurement Set", file=out)
            ok = False
            continue
        for name, passed, detail in check_ms_against_truth(ms_summary(existing[0]), obs, truth["antenna_numbers"],
                                                           n_channels):
            ok &= bool(passed)
            print(f"  {obs['group_id']}: {'ok  ' if passed else 'FAIL'} {name}: {detail}", file=out)
    passed_sets = sorted({s["set_id"] for r in registries.values() for s in r["sets"] if s["status"] == "passed"})
    for set_id in passed_sets:
        errors = gain_errors_against_truth(calibration_solutions(paths.bandpass_table(set_id), paths.gain_table(set_id)),
                                           str(Path(truth_dir) / "gains.npz"))
        passed = errors["phase_rms_deg"] <= 2 and errors["amplitude_rms"] <= 0.02 and errors["bandpass_shape_rms"] <= 0.02
        ok &= passed
        print(f"  set {set_id}: {'ok  ' if passed else 'FAIL'} injected gains recovered: phase rms "
              f"{errors['phase_rms_deg']:.2f} deg (<= 2), amplitude rms {errors['amplitude_rms']:.2%} (<= 2%), "
              f"bandpass shape rms {errors['bandpass_shape_rms']:.2%} (<= 2%)", file=out)
    return ok


def print_run_summary(config: dict, *, truth_dir: str | None = None, out=None) -> bool:
    """Print what the workflow produced and, given the simulation truth, whether it is right. True if all is well."""
    from ..casa import route_casa_log

    route_casa_log()
    out = out or sys.stdout
    paths = Products(config["output_dir"])
    days = paths.indexed_days()
    rows = [row for day in days for row in read_day_index(paths.day_index(day))]
    registries = {day: read_json(paths.registry(day)) for day in days if os.path.exists(paths.registry(day))}
    failures = paths.failures()
    _print_calibration_sets(paths, registries, out)

    ok = True
    print(f"\nObservations indexed: {len(rows)}   (index: {', '.join(paths.day_index(d) for d in days)})", file=out)
    for row in rows:
        status, good = _observation_status(paths, row, failures, registries.get(day_of(row["group_id"]), {}))
        ok &= good
        dec = row["pointing_dec_deg"] if row["pointing_dec_deg"] is not None else float("nan")
        print(f"  {row['group_id']}  {row['n_subbands']:>2} subbands  dec {dec:7.3f}  {status}", file=out)
    _print_mosaics(paths, days, out)
    _print_science(config, out)
    if truth_dir:
        ok &= _truth_checks(paths, registries, truth_dir, out)
    print(f"\n{'All good.' if ok else 'Something needs attention (see above).'}", file=out)
    return ok
