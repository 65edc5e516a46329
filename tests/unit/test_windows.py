"""Mosaic windows: strips, gaps, declination changes, day boundaries, waiting and short trailing windows."""

from datetime import datetime, timedelta, timezone

import pytest

from dsa110_continuum.mosaic.windows import day_windows, strips
from dsa110_continuum.naming import format_timestamp

T0 = datetime(2025, 6, 1, 20, 0, tzinfo=timezone.utc)
CADENCE_S = 309


def rows(n, *, start=T0, dec=30.5, skip=(), gap_after=None, dec_change_after=None):
    out, t = [], start
    for k in range(n):
        if k not in skip:
            out.append({"group_id": format_timestamp(t),
                        "pointing_dec_deg": dec + (5.0 if dec_change_after is not None and k > dec_change_after else 0)})
        t += timedelta(seconds=CADENCE_S + (3600 if gap_after == k else 0))
    return out


def windows(day_rows, day="2025-06-01", **kw):
    settings = dict(size=12, overlap=2, max_gap_s=450, dec_tolerance_deg=0.1) | kw
    return day_windows(day, day_rows, **settings)


def test_consecutive_windows_share_the_overlap():
    data = rows(30)
    ws = windows(data)
    ids = [r["group_id"] for r in data]
    assert [w.members for w in ws[:2]] == [tuple(ids[0:12]), tuple(ids[10:22])]
    assert all(w.complete for w in ws[:2])
    assert ws[2].members == tuple(ids[20:30]) and not ws[2].complete  # trailing window waits for more data


def test_the_trailing_window_completes_on_a_later_run():
    first, later = windows(rows(30)), windows(rows(32))
    assert not first[2].complete
    assert later[2].complete and len(later[2].members) == 12 and later[2].window_id == first[2].window_id


def test_a_gap_ends_a_strip_and_its_short_window_is_formed():
    data = rows(30, gap_after=14)
    (strip_a, strip_b) = strips(data, max_gap_s=450, dec_tolerance_deg=0.1)
    assert len(strip_a) == 15 and len(strip_b) == 15
    ws = windows(data)
    assert [len(w.members) for w in ws] == [12, 5, 12, 5]
    assert [w.complete for w in ws] == [True, True, True, False]  # the last strip may still grow
    assert ws[1].members[0] == strip_a[10]["group_id"] and ws[2].members[0] == strip_b[0]["group_id"]


def test_a_declination_change_ends_a_strip():
    data = rows(20, dec_change_after=11)
    ws = windows(data, )
    assert [len(w.members) for w in ws] == [12, 8]
    assert ws[0].dec_deg == pytest.approx(30.5) and ws[1].dec_deg == pytest.approx(35.5)
    assert ws[0].complete and not ws[1].complete  # one window in the first strip: a second would add nothing
    assert all(r["pointing_dec_deg"] == 35.5 for r in data if r["group_id"] in ws[1].members)


def test_an_unreadable_member_is_a_hole_not_a_break():
    data = rows(13)
    data[4]["pointing_dec_deg"] = None
    ws = windows(data)[0]
    assert len(ws.members) == 12 and ws.complete and data[4]["group_id"] in ws.members


def test_one_missing_observation_breaks_a_strip_only_beyond_the_allowed_gap():
    data = rows(13, skip=(5,))
    assert len(strips(data, max_gap_s=450, dec_tolerance_deg=0.1)) == 2
    assert len(strips(data, max_gap_s=1000, dec_tolerance_deg=0.1)) == 1


def test_a_window_crosses_midnight_and_the_next_day_starts_afresh():
    data = rows(14, start=datetime(2025, 6, 1, 23, 30, tzinfo=timezone.utc))  # 23:30 .. 00:37
    today, tomorrow = windows(data, "2025-06-01"), windows(data, "2025-06-02")
    assert today[0].members[-1].startswith("2025-06-02") and today[0].complete
    assert tomorrow[0].members[0].startswith("2025-06-02") and tomorrow[0].window_id == tomorrow[0].members[0]


def test_a_closed_strip_shorter_than_a_window_still_gives_one():
    (w,) = windows(rows(5), strip_open_at_end=False)
    assert w.complete and len(w.members) == 5


def test_bad_window_shape_is_rejected():
    with pytest.raises(ValueError, match="overlap 12"):
        windows(rows(3), overlap=12)
