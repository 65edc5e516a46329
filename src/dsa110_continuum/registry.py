"""Which calibrator transits in which observation, and which calibration set serves which observation.

Pure functions of the group index records and solve QA records, so the same files always give
the same choices.
"""

from __future__ import annotations

from dataclasses import asdict

from .calibrators import Calibrator, Solve, choose_calibration_set, load_calibrator_catalogue, select_calibrator


def load_catalogue(calibration_config: dict) -> list[Calibrator]:
    return load_calibrator_catalogue(calibration_config["catalogue"],
                                     fallback_path=calibration_config.get("fallback_catalogue"),
                                     fallback_min_flux_jy=calibration_config["fallback_min_flux_jy"])


def calibrator_in_observation(group_record: dict, calibrators: list[Calibrator], *,
                              dec_tolerance_deg: float) -> dict | None:
    """The calibrator transit inside an observation (for the group index), or None."""
    if group_record.get("pointing_dec_deg") is None or group_record.get("start_mjd") is None:
        return None
    transit = select_calibrator(group_record["start_mjd"], group_record["end_mjd"], group_record["pointing_dec_deg"],
                                calibrators, dec_tolerance_deg=dec_tolerance_deg)
    if transit is None:
        return None
    return {**asdict(transit), "calibrator": asdict(transit.calibrator)}


def calibrator_from_record(calibrator_record: dict) -> Calibrator:
    return Calibrator(**calibrator_record)


def candidate_sets(target: dict, calibrator_groups: list[dict], *, validity_hours: float) -> list[dict]:
    """Calibrator observations whose transit lies within the validity window of a target, nearest first."""
    def separation_days(record):
        return abs(record["calibrator"]["transit_mjd"] - target["mid_mjd"])

    inside = [r for r in calibrator_groups if separation_days(r) * 24.0 <= validity_hours]
    return sorted(inside, key=lambda r: (separation_days(r), r["calibrator"]["transit_mjd"], r["group_id"]))


def assign_set(target: dict, calibrator_groups: list[dict], passed, *, validity_hours: float) -> str | None:
    """Group id of the calibration set for ``target``: the nearest valid one, else None (awaiting).

    ``passed(group_id)`` says whether that calibrator observation's solve passed QA.
    """
    solves = [Solve(set_id=r["group_id"], transit_mjd=r["calibrator"]["transit_mjd"], passed_qa=passed(r["group_id"]))
              for r in candidate_sets(target, calibrator_groups, validity_hours=validity_hours)]
    chosen = choose_calibration_set(target["mid_mjd"], solves, validity_hours=validity_hours)
    return chosen.set_id if chosen else None


def registry(group_records: list[dict], qa_records: dict[str, dict], *, validity_hours: float) -> dict:
    """Every calibration set with its window and verdict, and the set (or none) for every observation."""
    calibrator_groups = [r for r in group_records if r.get("calibrator") and r["action"] == "process"]

    def passed(group_id):
        return bool(qa_records.get(group_id, {}).get("passed"))

    sets = []
    for r in calibrator_groups:
        qa = qa_records.get(r["group_id"], {})
        transit = r["calibrator"]["transit_mjd"]
        sets.append({
            "set_id": r["group_id"], "calibrator": r["calibrator"]["calibrator"]["name"], "transit_mjd": transit,
            "valid_from_mjd": transit - validity_hours / 24.0, "valid_to_mjd": transit + validity_hours / 24.0,
            "status": "passed" if passed(r["group_id"]) else ("failed" if qa else "not solved"),
            "reasons": qa.get("reasons", []), "bandpass_table": qa.get("bandpass_table"),
            "gain_table": qa.get("gain_table"),
        })
    targets = [r for r in group_records if r["action"] == "process"]
    assignments = {r["group_id"]: assign_set(r, calibrator_groups, passed, validity_hours=validity_hours)
                   for r in targets}
    awaiting = {r["group_id"]: _why_waiting(r, calibrator_groups, qa_records, validity_hours)
                for r in targets if assignments[r["group_id"]] is None}
    return {"sets": sets, "assignments": assignments, "awaiting_calibration": sorted(awaiting),
            "awaiting_reasons": awaiting}


def _why_waiting(target: dict, calibrator_groups: list[dict], qa_records: dict, validity_hours: float) -> str:
    candidates = candidate_sets(target, calibrator_groups, validity_hours=validity_hours)
    if not candidates:
        return (f"no calibrator of the catalogue transited within {validity_hours:g} h at dec "
                f"{target.get('pointing_dec_deg')} (yet)")
    failed = [f"{r['group_id']} ({'; '.join(qa_records.get(r['group_id'], {}).get('reasons') or ['not solved'])})"
              for r in candidates]
    return "no calibration set within the window passed QA: " + ", ".join(failed)
