"""Aggregate per-product JSON records into indexes and a human-readable run summary."""

from __future__ import annotations

import csv
import os
from pathlib import Path

from .records import read_json

GROUP_INDEX_COLUMNS = ["group_id", "action", "reason", "n_subbands", "pointing_dec_deg", "start_mjd", "mid_mjd",
                       "end_mjd", "n_unreadable", "files"]


def write_group_index(record_paths: list[str], out_path: str) -> None:
    """Write the observation index CSV from per-group JSON records, atomically."""
    rows = []
    for path in sorted(record_paths):
        r = read_json(path)
        rows.append({**{k: r.get(k) for k in GROUP_INDEX_COLUMNS}, "n_subbands": len(r["subbands"]),
                     "n_unreadable": len(r["unreadable"]), "files": ";".join(os.path.basename(f) for f in r["files"])})
    tmp = Path(out_path).with_name(f".{Path(out_path).name}.partial")
    with open(tmp, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=GROUP_INDEX_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    os.replace(tmp, out_path)


def read_group_index(path: str) -> list[dict]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def _separation_arcsec(ra1, dec1, ra2, dec2) -> float:
    import numpy as np

    ra1, dec1, ra2, dec2 = np.deg2rad([ra1, dec1, ra2, dec2])
    cos_sep = np.sin(dec1) * np.sin(dec2) + np.cos(dec1) * np.cos(dec2) * np.cos(ra1 - ra2)
    return float(np.rad2deg(np.arccos(np.clip(cos_sep, -1, 1))) * 3600.0)


def check_ms_against_truth(ms_summary: dict, observation: dict, antenna_numbers: list[int],
                           n_channels: int) -> list[tuple[str, bool, str]]:
    """(check, passed, detail) for one MS against the simulation truth of its observation."""
    import numpy as np

    freqs = np.asarray(ms_summary["freqs_hz"])
    times_s = np.asarray(ms_summary["times_mjd_s"])
    truth_times_s = (np.asarray(observation["time_jd"]) - 2400000.5) * 86400.0
    ra, dec = observation["field_centre_icrs_deg"]
    offset = _separation_arcsec(ms_summary["phase_centre_ra_deg"], ms_summary["phase_centre_dec_deg"], ra, dec)
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


def print_run_summary(config_path: str, schema_path: str, *, truth_dir: str | None = None, out=None) -> bool:
    """Print what the workflow produced and, given the simulation truth, whether it is right. True if all is well."""
    import glob
    import json
    import sys

    from .casa import ms_summary
    from .config import load_config

    out = out or sys.stdout
    config = load_config(config_path, schema_path)
    root = Path(config["output_dir"])
    index_path = root / "group_index.csv"
    groups = read_group_index(str(index_path)) if index_path.exists() else []
    failures = {Path(p).stem: read_json(p) for p in glob.glob(str(root / "failures" / "*" / "*.json"))}
    print(f"Observations indexed: {len(groups)}   (index: {index_path})", file=out)
    ok = True
    for g in groups:
        gid = g["group_id"]
        ms_record_path = root / "ms" / f"{gid}.json"
        if gid in failures:
            status = f"FAILED: {failures[gid]['reason']}  (log: {failures[gid]['log']})"
            ok = False
        elif g["action"] == "skip":
            status = f"skipped: {g['reason']}"
        elif ms_record_path.exists():
            r = read_json(ms_record_path)
            status = (f"MS {r['ms']}  {r['n_channels']} ch {r['freq_min_hz'] / 1e6:.2f}-{r['freq_max_hz'] / 1e6:.2f} MHz, "
                      f"{r['n_antennas']} antennas, centre RA {r['phase_centre_ra_deg']:.4f} Dec {r['phase_centre_dec_deg']:.4f}")
        else:
            status = "not yet converted"
            ok = False
        print(f"  {gid}  {g['n_subbands']:>2} subbands  dec {float(g['pointing_dec_deg'] or 'nan'):7.3f}  {status}", file=out)

    if truth_dir:
        truth = json.loads((Path(truth_dir) / "session.json").read_text())
        n_channels = truth["config"]["n_subbands"] * truth["config"]["n_chan_per_subband"]
        print(f"\nTruth checks against {truth_dir}:", file=out)
        for obs in truth["observations"]:
            ms_path = root / "ms" / f"{obs['group_id']}.ms"
            if not ms_path.exists():
                print(f"  {obs['group_id']}: FAIL no Measurement Set", file=out)
                ok = False
                continue
            for name, passed, detail in check_ms_against_truth(ms_summary(str(ms_path)), obs,
                                                               truth["antenna_numbers"], n_channels):
                ok &= bool(passed)
                print(f"  {obs['group_id']}: {'ok  ' if passed else 'FAIL'} {name}: {detail}", file=out)
    print(f"\n{'All good.' if ok else 'Something needs attention (see above).'}", file=out)
    return ok
