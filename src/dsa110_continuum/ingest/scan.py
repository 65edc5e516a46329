"""Find raw subband files, group them into observations and decide which observations are ready.

Work is partitioned by UTC day: a day's plan looks only at the files of that day (plus a margin of
twice the grouping tolerance on each side, so an observation straddling midnight is grouped whole)
and is a pure function of the file names, their modification times and the clock.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from ..naming import RAW_FILENAME_FORM, RAW_FILENAME_RE, day_of, format_timestamp, parse_raw_filename, parse_timestamp

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SubbandFile:
    path: str
    timestamp: datetime
    subband: int


@dataclass
class Group:
    """One observation: the subband files whose timestamps lie within tolerance of the first."""

    files: list[SubbandFile] = field(default_factory=list)

    @property
    def start(self) -> datetime:
        return min(f.timestamp for f in self.files)

    @property
    def group_id(self) -> str:
        return format_timestamp(self.start)

    @property
    def subbands(self) -> list[int]:
        return sorted(f.subband for f in self.files)


@dataclass(frozen=True)
class Readiness:
    """What to do with a group now: 'process', 'wait' or 'skip', and why."""

    action: str
    reason: str


@dataclass(frozen=True)
class Listing:
    """The subband file names of an incoming directory, by day (no per-file system calls), and the other names.

    Names are parsed into timestamps only for the days asked for: an archive holds ~140,000 names a month,
    and a routine run looks at one or two days.
    """

    directory: str
    names_by_day: dict[str, list[str]]
    unrecognised: list[str]

    def days(self) -> list[str]:
        return sorted(self.names_by_day)

    def files_per_day(self) -> dict[str, int]:
        return {day: len(names) for day, names in self.names_by_day.items()}

    def files(self, days) -> list[SubbandFile]:
        """The subband files of ``days``, in time order."""
        files = []
        for day in days:
            for name in self.names_by_day.get(day, []):
                parsed = parse_raw_filename(name)
                if parsed is not None:
                    files.append(SubbandFile(os.path.join(self.directory, name), *parsed))
        return sorted(files, key=lambda f: (f.timestamp, f.subband, f.path))

    def latest(self) -> datetime | None:
        """The latest subband file's timestamp."""
        files = self.files([max(self.names_by_day)]) if self.names_by_day else []
        return files[-1].timestamp if files else None


def list_incoming(incoming_dir: str | os.PathLike) -> Listing:
    """List an incoming directory's subband files by name; logs one warning naming all other files."""
    names_by_day: dict[str, list[str]] = {}
    unrecognised = []
    valid_days: dict[str, bool] = {}
    with os.scandir(incoming_dir) as entries:
        for entry in entries:
            name = entry.name
            day = name[:10]
            if RAW_FILENAME_RE.match(name) and valid_days.setdefault(day, _is_day(day)):
                names_by_day.setdefault(day, []).append(name)
            elif entry.is_file():
                unrecognised.append(name)
    if unrecognised:
        log.warning("ignoring %d file(s) in %s whose names are not %s: %s", len(unrecognised), incoming_dir,
                    RAW_FILENAME_FORM, ", ".join(sorted(unrecognised)))
    return Listing(os.fspath(incoming_dir), names_by_day, sorted(unrecognised))


def _is_day(text: str) -> bool:
    try:
        datetime.strptime(text, "%Y-%m-%d")
        return True
    except ValueError:
        return False


def settled_files(files: list[SubbandFile], *, min_file_age_s: float, now: datetime) -> list[SubbandFile]:
    """The files modified at least ``min_file_age_s`` ago; younger ones may still be being written."""
    now_s = now.timestamp()
    settled = []
    for f in files:
        try:
            mtime_s = os.stat(f.path).st_mtime
        except FileNotFoundError:
            continue
        if now_s - mtime_s >= min_file_age_s:
            settled.append(f)
    return settled


def group_files(files: list[SubbandFile], tolerance_s: float = 60.0) -> list[Group]:
    """Group files whose timestamps lie within ``tolerance_s`` of their group's earliest file."""
    groups: list[Group] = []
    for f in sorted(files, key=lambda f: (f.timestamp, f.subband, f.path)):
        if groups and (f.timestamp - groups[-1].start).total_seconds() <= tolerance_s:
            groups[-1].files.append(f)
        else:
            groups.append(Group([f]))
    return groups


def readiness(group: Group, *, now: datetime, n_subbands: int = 16, min_subbands: int = 12,
              settle_time_s: float = 900.0) -> Readiness:
    """Decide whether a group is processed now, waits for more files, or is skipped for good."""
    present = set(group.subbands)
    if len(present) >= n_subbands:
        return Readiness("process", "complete")
    settles_at = group.start + timedelta(seconds=settle_time_s)
    if now < settles_at:
        return Readiness("wait", f"{len(present)}/{n_subbands} subbands; waits for late files until "
                                 f"{format_timestamp(settles_at)} UTC")
    missing = sorted(set(range(n_subbands)) - present)
    if len(present) >= min_subbands:
        return Readiness("process", f"incomplete: missing subbands {missing}")
    return Readiness("skip", f"only {len(present)}/{n_subbands} subbands after {settle_time_s:.0f} s "
                             f"(minimum {min_subbands}); missing {missing}")


def plan_day(listing: Listing, day: str, *, tolerance_s: float, n_subbands: int, min_subbands: int,
             settle_time_s: float, min_file_age_s: float, now: datetime | None = None) -> dict:
    """Every observation of ``day`` with its files and what to do with it now, keyed by group id."""
    now = now or datetime.now(timezone.utc)
    margin = timedelta(seconds=2 * tolerance_s)
    start = parse_timestamp(f"{day}T00:00:00")
    neighbours = [(start + timedelta(days=k)).strftime("%Y-%m-%d") for k in (-1, 0, 1)]
    window = [f for f in listing.files(neighbours) if start - margin <= f.timestamp < start + timedelta(days=1) + margin]
    groups = {}
    for group in group_files(settled_files(window, min_file_age_s=min_file_age_s, now=now), tolerance_s):
        if day_of(group.group_id) != day:
            continue
        decision = readiness(group, now=now, n_subbands=n_subbands, min_subbands=min_subbands,
                             settle_time_s=settle_time_s)
        groups[group.group_id] = {"action": decision.action, "reason": decision.reason,
                                  "files": sorted(f.path for f in group.files)}
    return groups
