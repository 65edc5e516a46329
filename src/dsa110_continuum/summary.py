"""Aggregate per-product JSON records into indexes and a human-readable run summary."""

from __future__ import annotations

import csv
import os
from pathlib import Path

from .records import read_json

GROUP_INDEX_COLUMNS = ["group_id", "action", "reason", "n_subbands", "pointing_dec_deg", "start_mjd", "mid_mjd",
                       "end_mjd", "problem", "files"]


def write_group_index(record_paths: list[str], out_path: str) -> None:
    """Write the observation index CSV from per-group JSON records, atomically."""
    rows = []
    for path in sorted(record_paths):
        r = read_json(path)
        rows.append({**{k: r.get(k) for k in GROUP_INDEX_COLUMNS}, "n_subbands": len(r["subbands"]),
                     "files": ";".join(os.path.basename(f) for f in r["files"])})
    tmp = Path(out_path).with_name(f".{Path(out_path).name}.partial")
    with open(tmp, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=GROUP_INDEX_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    os.replace(tmp, out_path)


def read_group_index(path: str) -> list[dict]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def check_ms_against_truth(ms_summary: dict, observation: dict, antenna_numbers: list[int],
                           n_channels: int) -> list[tuple[str, bool, str]]:
    """(check, passed, detail) for one MS against the simulation truth of its observation."""
    import numpy as np

    freqs = np.asarray(ms_summary["freqs_hz"])
    times_s = np.asarray(ms_summary["times_mjd_s"])
    truth_times_s = (np.asarray(observation["time_jd"]) - 2400000.5) * 86400.0
    ra, dec = observation["field_centre_icrs_deg"]
    from .calibrators import angular_separation_deg

    offset = 3600.0 * float(angular_separation_deg(ms_summary["phase_centre_ra_deg"],
                                                   ms_summary["phase_centre_dec_deg"], ra, dec))
    return [
        ("channels ascending, all subbands", freqs.size == n_channels and bool(np.all(np.diff(freqs) > 0)),
         f"{freqs.size} channels {freqs[0] / 1e6:.3f}-{freqs[-1] / 1e6:.3f} MHz"),
        ("phase centre = meridian at mid-time (ICRS)", offset < 2.0 and ms_summary["phase_centre_frame"] == "ICRS",
         f"{offset:.2f} arcsec from truth, frame {ms_summary['phase_centre_frame']}"),
        ("antennas", ms_summary["antennas_in_data"] == sorted(antenna_numbers),
         f"{len(ms_summary['antennas_in_data'])} in data of {len(ms_summary['antenna_names'])} stations"),
        ("integration times", times_s.size == truth_times_s.size and bool(np.allclose(times_s, truth_times_s, atol=1e-3)),
         f"{times_s.size} integrations"),
        ("telescope known to CASA", ms_summary["telescope_known_to_casa"], ms_summary["telescope_name"]),
        ("autocorrelations flagged", ms_summary["autocorrelations_flagged"], ""),
    ]


def gain_errors_against_truth(solutions: dict, truth_gains_path: str) -> dict:
    """Recovered vs injected gains: phase rms (deg, relative to the reference antenna), amplitude and
    bandpass-shape rms (fractions). CASA's gains are the conjugates of the simulator's (the MS stores conj(V))."""
    import numpy as np

    truth = np.load(truth_gains_path)
    antennas = list(truth["antenna_numbers"])
    rows = [solutions["antennas"].index(a) for a in antennas]
    solved = np.conj(np.array(solutions["real"]) + 1j * np.array(solutions["imag"]))[rows]  # (ant, pol, chan)
    injected = np.transpose(truth["gains"], (0, 2, 1))
    refant = int(np.argmin(np.abs(np.angle(solved[:, 0, :])).sum(axis=1)))
    phase = np.angle((solved / solved[refant]) / (injected / injected[refant]), deg=True)
    shape = lambda g: np.abs(g) / np.abs(g).mean(axis=2, keepdims=True)  # noqa: E731
    return {"phase_rms_deg": float(np.sqrt(np.mean(phase ** 2))),
            "amplitude_rms": float(np.sqrt(np.mean((np.abs(solved) / np.abs(injected) - 1) ** 2))),
            "bandpass_shape_rms": float(np.sqrt(np.mean((shape(solved) / shape(injected) - 1) ** 2)))}


def _observation_status(root: Path, g: dict, failures: dict, registry: dict) -> tuple[str, bool]:
    gid = g["group_id"]
    if gid in failures:
        return f"FAILED: {failures[gid]['reason']}  (log: {failures[gid]['log']})", False
    if g["action"] == "skip":
        return f"skipped: {g['reason']}", True
    calibrated = root / "calibrated" / f"{gid}.json"
    if calibrated.exists():
        r = read_json(calibrated)
        return (f"calibrated with set {r['calibration_set']} ({r['calibrator']}, {r['hours_from_transit']:.2f} h "
                f"from transit): {r['ms']}"), True
    if gid in registry.get("awaiting_reasons", {}):
        return f"awaiting calibration: {registry['awaiting_reasons'][gid]}", True
    ms_record = root / "ms" / f"{gid}.json"
    if ms_record.exists():
        return f"converted (uncalibrated): {read_json(ms_record)['ms']}", True
    return "not yet processed", False


def print_run_summary(config_path: str, schema_path: str, *, truth_dir: str | None = None, out=None) -> bool:
    """Print what the workflow produced and, given the simulation truth, whether it is right. True if all is well."""
    import glob
    import json
    import sys

    from .casa import calibration_solutions, ms_summary, route_casa_log
    from .config import load_config

    route_casa_log()
    out = out or sys.stdout
    config = load_config(config_path, schema_path)
    root = Path(config["output_dir"])
    index_path = root / "group_index.csv"
    groups = read_group_index(str(index_path)) if index_path.exists() else []
    failures = {Path(p).stem: read_json(p) for p in glob.glob(str(root / "failures" / "*" / "*.json"))}
    registry_path = root / "calibration" / "registry.json"
    registry = read_json(registry_path) if registry_path.exists() else {}
    ok = True

    print(f"Calibration sets ({registry_path}):", file=out)
    for cal_set in registry.get("sets", []):
        qa_path = root / "calibration" / cal_set["set_id"] / "qa.json"
        qa = read_json(qa_path) if qa_path.exists() else {}
        figures = (f"refant {qa.get('refant')}, {qa.get('n_good_antennas')}/{qa.get('n_antennas_in_data')} antennas, "
                   f"{qa.get('flagged_fraction', 1):.1%} flagged, median SNR {qa.get('median_snr', 0):.0f}, "
                   f"phase scatter {qa.get('phase_scatter_deg') or 0:.1f} deg") if qa.get("bandpass_table") else ""
        reasons = "; ".join(cal_set["reasons"])
        print(f"  {cal_set['set_id']}  {cal_set['calibrator']:<10} {cal_set['status'].upper():<7} {figures} {reasons}",
              file=out)

    print(f"\nObservations indexed: {len(groups)}   (index: {index_path})", file=out)
    for g in groups:
        status, good = _observation_status(root, g, failures, registry)
        ok &= good
        print(f"  {g['group_id']}  {g['n_subbands']:>2} subbands  dec {float(g['pointing_dec_deg'] or 'nan'):7.3f}  "
              f"{status}", file=out)

    if truth_dir:
        truth = json.loads((Path(truth_dir) / "session.json").read_text())
        n_channels = truth["config"]["n_subbands"] * truth["config"]["n_chan_per_subband"]
        print(f"\nTruth checks against {truth_dir}:", file=out)
        for obs in truth["observations"]:
            paths = [root / "ms" / f"{obs['group_id']}.ms", root / "calibrated" / f"{obs['group_id']}.ms"]
            existing = [p for p in paths if p.exists()]
            if not existing:
                print(f"  {obs['group_id']}: FAIL no Measurement Set", file=out)
                ok = False
                continue
            for name, passed, detail in check_ms_against_truth(ms_summary(str(existing[0])), obs,
                                                               truth["antenna_numbers"], n_channels):
                ok &= bool(passed)
                print(f"  {obs['group_id']}: {'ok  ' if passed else 'FAIL'} {name}: {detail}", file=out)
        for cal_set in registry.get("sets", []):
            if cal_set["status"] != "passed":
                continue
            errors = gain_errors_against_truth(calibration_solutions(cal_set["bandpass_table"], cal_set["gain_table"]),
                                               str(Path(truth_dir) / "gains.npz"))
            passed = errors["phase_rms_deg"] <= 2 and errors["amplitude_rms"] <= 0.02 \
                and errors["bandpass_shape_rms"] <= 0.02
            ok &= passed
            print(f"  set {cal_set['set_id']}: {'ok  ' if passed else 'FAIL'} injected gains recovered: phase rms "
                  f"{errors['phase_rms_deg']:.2f} deg (<= 2), amplitude rms {errors['amplitude_rms']:.2%} (<= 2%), "
                  f"bandpass shape rms {errors['bandpass_shape_rms']:.2%} (<= 2%)", file=out)
    print(f"\n{'All good.' if ok else 'Something needs attention (see above).'}", file=out)
    return ok
