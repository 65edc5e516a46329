"""The observation index: one record per decided observation, and a CSV per day for operators and the DAG.

A record holds the members, pointing declination and times from a cheap header read, cross-checked
as the converter will check them (``problem`` says what is wrong), so a broken observation is known
before any heavy job touches it.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np

from ..formats.uvh5 import BadInputError, read_group_layout, read_header
from ..naming import parse_raw_filename
from ..records import write_csv_atomic

DAY_INDEX_COLUMNS = ["group_id", "action", "reason", "n_subbands", "pointing_dec_deg", "start_mjd", "mid_mjd",
                     "end_mjd", "calibrator", "calibrator_transit_mjd", "problem", "files"]
_FLOAT_COLUMNS = ("pointing_dec_deg", "start_mjd", "mid_mjd", "end_mjd", "calibrator_transit_mjd")


def describe_group(group_id: str, paths: list[str], *, action: str, reason: str, n_subbands: int = 16) -> dict:
    """The index record of one observation (without its calibrator, which calibration adds)."""
    record = {
        "group_id": group_id,
        "action": action,
        "reason": reason,
        "files": sorted(paths),
        "subbands": sorted(parse_raw_filename(os.path.basename(p))[1] for p in paths),
        "pointing_dec_deg": None,
        "start_mjd": None,
        "mid_mjd": None,
        "end_mjd": None,
        "problem": None,
    }
    try:
        header = read_group_layout(paths, n_subbands=n_subbands).headers[0]
    except BadInputError as err:
        record["problem"] = str(err)
        header = None
        for path in sorted(paths):
            try:
                header = read_header(path)
                break
            except BadInputError:
                continue
    if header is not None:
        jd = header.time_jd
        half_integration_d = float(header.integration_time_s[0]) / 2 / 86400.0
        dec = header.fringestop_dec_rad if header.fringestop_dec_rad is not None else np.deg2rad(header.latitude_deg)
        record.update(
            pointing_dec_deg=float(np.rad2deg(dec)),
            start_mjd=float(jd.min() - 2400000.5 - half_integration_d),
            end_mjd=float(jd.max() - 2400000.5 + half_integration_d),
            mid_mjd=float(0.5 * (jd.min() + jd.max()) - 2400000.5),
        )
    return record


def write_day_index(records: list[dict], out_path: str | Path) -> None:
    """Write a day's index CSV (one row per observation) atomically."""
    rows = []
    for r in sorted(records, key=lambda r: r["group_id"]):
        calibrator = r.get("calibrator") or {}
        rows.append({**{k: r.get(k) for k in DAY_INDEX_COLUMNS}, "n_subbands": len(r["subbands"]),
                     "calibrator": calibrator.get("calibrator", {}).get("name"),
                     "calibrator_transit_mjd": calibrator.get("transit_mjd"),
                     "files": ";".join(os.path.basename(f) for f in r["files"])})
    write_csv_atomic(out_path, DAY_INDEX_COLUMNS, rows)


def read_day_index(path: str | Path) -> list[dict]:
    """The rows of a day's index CSV, with numbers as floats and empty cells as None."""
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        for key, value in row.items():
            row[key] = None if value == "" else (float(value) if key in _FLOAT_COLUMNS else value)
        row["n_subbands"] = int(row["n_subbands"])
    return rows
