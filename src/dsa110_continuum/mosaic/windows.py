"""Which observations form each mosaic: sliding windows of consecutive observations at one declination.

Observations are cut into strips (a declination change or a time gap ends a strip). Each UTC day starts
its own sequence of windows in each strip: windows begin at the day's first observation of the strip and
every ``size - overlap`` observations after it, and a window that begins late in the day takes its
remaining members from the next day. A window is complete when it has ``size`` members, or when its strip
has ended (a short trailing window is kept if it adds observations the previous window did not cover); a
window still open at the end of the data waits for later observations. Pure functions of index rows.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..naming import day_of, parse_timestamp


@dataclass(frozen=True)
class Window:
    """A mosaic window: its id (its first member's), members in time order, declination, completeness."""

    window_id: str
    members: tuple[str, ...]
    dec_deg: float | None
    complete: bool


def _start_s(row: dict) -> float:
    return parse_timestamp(row["group_id"]).timestamp()


def strips(rows: list[dict], *, max_gap_s: float, dec_tolerance_deg: float) -> list[list[dict]]:
    """Consecutive runs of observations at one declination without a gap longer than ``max_gap_s``.

    An observation whose headers gave no declination joins the strip it falls in as a hole (it breaks
    nothing, and its window will leave it out).
    """
    result: list[list[dict]] = []
    dec = None
    for row in sorted(rows, key=lambda r: r["group_id"]):
        row_dec = row.get("pointing_dec_deg")
        new_strip = (not result or _start_s(row) - _start_s(result[-1][-1]) > max_gap_s
                     or (row_dec is not None and dec is not None and abs(row_dec - dec) > dec_tolerance_deg))
        if new_strip:
            result.append([])
            dec = None
        result[-1].append(row)
        dec = row_dec if row_dec is not None else dec
    return result


def day_windows(day: str, rows: list[dict], *, size: int, overlap: int, max_gap_s: float,
                dec_tolerance_deg: float, strip_open_at_end: bool = True) -> list[Window]:
    """The windows that begin on ``day``, from the index rows of that day and the next.

    ``strip_open_at_end``: the last strip in ``rows`` may still grow (more observations may come).
    """
    if not 0 <= overlap < size:
        raise ValueError(f"window overlap {overlap} must be >= 0 and smaller than its size {size}")
    stride = size - overlap
    all_strips = strips(rows, max_gap_s=max_gap_s, dec_tolerance_deg=dec_tolerance_deg)
    windows = []
    for number, strip in enumerate(all_strips):
        ended = number < len(all_strips) - 1 or not strip_open_at_end
        first = next((i for i, row in enumerate(strip) if day_of(row["group_id"]) == day), None)
        if first is None:
            continue
        start = first
        while start < len(strip) and day_of(strip[start]["group_id"]) == day:
            members = strip[start:start + size]
            full = len(members) == size
            adds_new = start == first or len(strip) > start + overlap
            if full or not ended or adds_new:
                decs = [r["pointing_dec_deg"] for r in members if r.get("pointing_dec_deg") is not None]
                windows.append(Window(members[0]["group_id"], tuple(r["group_id"] for r in members),
                                      decs[0] if decs else None, complete=full or ended))
            if not full:
                break
            start += stride
    return windows
