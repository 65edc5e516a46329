"""Which calibration set serves which observation: the nearest set within its validity window that passed QA.

Pure functions of index rows and the solves' QA records, so the same files always give the same choices;
the DAG and the registry report both call ``day_registry``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from ..naming import day_of

#: Separations from a set's transit equal to within this are ties.
_TIE_RESOLUTION_S = 1e-3


@dataclass(frozen=True)
class CalibrationSet:
    """A solve on one calibrator transit: its id (the calibrator observation), transit and QA verdict."""

    set_id: str
    transit_mjd: float
    passed: bool


def sets_in_window(target_mid_mjd: float, sets: Iterable[CalibrationSet], *,
                   validity_hours: float) -> list[CalibrationSet]:
    """Sets whose transit lies within ``validity_hours`` of a target, nearest first.

    Separations equal to within 1 ms are ties, broken by the earlier transit, then the set id.
    """
    window_s = validity_hours * 3600.0 + _TIE_RESOLUTION_S

    def separation_s(s):
        return abs(s.transit_mjd - target_mid_mjd) * 86400.0

    inside = [s for s in sets if separation_s(s) <= window_s]
    return sorted(inside, key=lambda s: (round(separation_s(s) / _TIE_RESOLUTION_S), s.transit_mjd, s.set_id))


def set_records(calibrator_rows: list[dict], qa_for, extraction_failure_for) -> dict[str, dict]:
    """The QA record of every calibration set: its solve's, or why its raw files cannot be solved.

    ``calibrator_rows`` are index rows with a calibrator; ``qa_for(group_id)`` reads a solve's QA record and
    ``extraction_failure_for(group_id)`` says why extracting the calibrator failed (or None).
    """
    records = {}
    for row in calibrator_rows:
        reason = row["problem"] or extraction_failure_for(row["group_id"])
        records[row["group_id"]] = ({"passed": False, "reasons": [f"raw files unusable: {reason}"]} if reason
                                    else qa_for(row["group_id"]))
    return records


def day_registry(day: str, rows_around: list[dict], *, qa_for, extraction_failure_for,
                 validity_hours: float) -> dict:
    """The registry of one day's observations from the index rows of the day and its neighbours."""
    rows = [row for row in rows_around if row["action"] == "process"]
    calibrators = [row for row in rows if row["calibrator"]]
    targets = [row for row in rows if day_of(row["group_id"]) == day]
    return registry(targets, calibrators, set_records(calibrators, qa_for, extraction_failure_for),
                    validity_hours=validity_hours)


def registry(targets: list[dict], calibrator_rows: list[dict], qa_records: dict[str, dict], *,
             validity_hours: float) -> dict:
    """Every calibration set with its window and verdict, and the set (or none, and why) for every target.

    ``targets`` and ``calibrator_rows`` are index rows (the latter with a calibrator transit);
    ``qa_records`` maps a calibrator observation's id to its set's QA record (``set_records``).
    """
    def status(group_id):
        qa = qa_records.get(group_id)
        return "not solved" if qa is None else ("passed" if qa["passed"] else "failed")

    sets = [CalibrationSet(r["group_id"], r["calibrator_transit_mjd"], status(r["group_id"]) == "passed")
            for r in calibrator_rows]
    names = {r["group_id"]: r["calibrator"] for r in calibrator_rows}
    assignments, awaiting = {}, {}
    for target in targets:
        candidates = sets_in_window(target["mid_mjd"], sets, validity_hours=validity_hours)
        chosen = next((s for s in candidates if s.passed), None)
        assignments[target["group_id"]] = chosen.set_id if chosen else None
        if chosen is None:
            awaiting[target["group_id"]] = _why_waiting(target, candidates, qa_records, validity_hours)
    return {
        "sets": [{"set_id": s.set_id, "calibrator": names[s.set_id], "transit_mjd": s.transit_mjd,
                  "valid_from_mjd": s.transit_mjd - validity_hours / 24.0,
                  "valid_to_mjd": s.transit_mjd + validity_hours / 24.0,
                  "status": status(s.set_id), "reasons": (qa_records.get(s.set_id) or {}).get("reasons", [])}
                 for s in sets],
        "assignments": assignments,
        "awaiting_calibration": sorted(awaiting),
        "awaiting_reasons": awaiting,
    }


def _why_waiting(target: dict, candidates: list[CalibrationSet], qa_records: dict, validity_hours: float) -> str:
    if not candidates:
        return (f"no calibrator of the catalogue transited within {validity_hours:g} h at dec "
                f"{target.get('pointing_dec_deg')} (yet)")
    failed = [f"{s.set_id} ({'; '.join((qa_records.get(s.set_id) or {}).get('reasons') or ['not solved'])})"
              for s in candidates]
    return "no calibration set within the window passed QA: " + ", ".join(failed)
