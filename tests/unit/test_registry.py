from dsa110_continuum.registry import assign_set, candidate_sets, registry

HOUR = 1 / 24.0


def group(group_id, mid_mjd, transit_mjd=None, action="process"):
    calibrator = None if transit_mjd is None else {"transit_mjd": transit_mjd, "calibrator": {"name": "CAL"}}
    return {"group_id": group_id, "mid_mjd": mid_mjd, "action": action, "calibrator": calibrator}


CALS = [group("c1", 100.0, 100.0), group("c2", 100.0 + 3 * HOUR, 100.0 + 3 * HOUR), group("c3", 101.0, 101.0)]


def test_nearest_valid_set_in_time():
    target = group("t", 100.0 + 2 * HOUR)
    assert assign_set(target, CALS, lambda g: True, validity_hours=12) == "c2"


def test_falls_back_to_next_nearest_when_nearest_failed_qa():
    target = group("t", 100.0 + 2 * HOUR)
    assert assign_set(target, CALS, lambda g: g != "c2", validity_hours=12) == "c1"


def test_awaits_when_no_valid_set_in_window():
    target = group("t", 100.5)
    assert assign_set(target, CALS, lambda g: g == "c3", validity_hours=11) is None
    assert assign_set(target, CALS, lambda g: g == "c3", validity_hours=12) == "c3"


def test_candidates_sorted_nearest_first_and_deterministic():
    target = group("t", 100.0 + 1.5 * HOUR)
    assert [r["group_id"] for r in candidate_sets(target, CALS, validity_hours=12)] == ["c1", "c2"]


def test_registry_reports_sets_assignments_and_waiting():
    targets = [group("t1", 100.0 + HOUR), group("t2", 110.0)]
    result = registry(CALS + targets, {"c1": {"passed": True, "reasons": []},
                                       "c2": {"passed": False, "reasons": ["60% flagged"]}}, validity_hours=12)
    status = {s["set_id"]: s["status"] for s in result["sets"]}
    assert status == {"c1": "passed", "c2": "failed", "c3": "not solved"}
    assert result["assignments"]["t1"] == "c1" and result["assignments"]["c2"] == "c1"
    assert result["awaiting_calibration"] == ["c3", "t2"]
    failed = next(s for s in result["sets"] if s["set_id"] == "c2")
    assert failed["reasons"] == ["60% flagged"] and abs(failed["valid_to_mjd"] - failed["transit_mjd"] - 0.5) < 1e-9


def test_waiting_observations_say_why():
    far = dict(group("t_far", 200.0), pointing_dec_deg=65.7)
    near = group("t_near", 100.0 + HOUR)
    result = registry(CALS[:1] + [far, near], {"c1": {"passed": False, "reasons": ["no usable data"]}},
                      validity_hours=12)
    reasons = result["awaiting_reasons"]
    assert "no calibrator" in reasons["t_far"] and "65.7" in reasons["t_far"]
    assert "c1 (no usable data)" in reasons["t_near"]
