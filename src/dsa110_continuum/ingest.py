"""Find UVH5 subband files, group them into observations and decide which groups are ready."""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone

import numpy as np

log = logging.getLogger(__name__)

FILENAME_RE = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})_sb(\d{2})\.hdf5$")
TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%S"


@dataclass(frozen=True)
class SubbandFile:
    path: str
    timestamp: datetime
    subband: int
    mtime_s: float = 0.0


@dataclass
class Group:
    """One observation: the subband files whose timestamps lie within tolerance of the first."""

    files: list[SubbandFile] = field(default_factory=list)

    @property
    def group_id(self) -> str:
        return min(f.timestamp for f in self.files).strftime(TIMESTAMP_FORMAT)

    @property
    def subbands(self) -> list[int]:
        return sorted(f.subband for f in self.files)

    @property
    def start(self) -> datetime:
        return min(f.timestamp for f in self.files)


@dataclass(frozen=True)
class Readiness:
    """What to do with a group now: 'process', 'wait' or 'skip', and why."""

    action: str
    reason: str


def parse_filename(name: str) -> tuple[datetime, int] | None:
    """Timestamp (UTC) and subband number of a file name, or None when it is not a subband file."""
    match = FILENAME_RE.match(name)
    if match is None:
        return None
    try:
        stamp = datetime.strptime(match.group(1), TIMESTAMP_FORMAT).replace(tzinfo=timezone.utc)
    except ValueError:
        return None
    return stamp, int(match.group(2))


def scan_incoming(incoming_dir: str | os.PathLike, *, min_file_age_s: float = 0.0,
                  now: datetime | None = None) -> tuple[list[SubbandFile], list[str]]:
    """List subband files in a directory; returns (files, names that are not subband files).

    Files modified less than ``min_file_age_s`` ago are left out: the correlator may still be writing them.
    """
    now_s = (now or datetime.now(timezone.utc)).timestamp()
    files, unrecognised = [], []
    with os.scandir(incoming_dir) as entries:
        for entry in entries:
            if not entry.is_file():
                continue
            parsed = parse_filename(entry.name)
            if parsed is None:
                unrecognised.append(entry.name)
                continue
            mtime_s = entry.stat().st_mtime
            if now_s - mtime_s < min_file_age_s:
                continue
            files.append(SubbandFile(entry.path, parsed[0], parsed[1], mtime_s))
    if unrecognised:
        log.warning("ignoring %d file(s) in %s whose names are not YYYY-MM-DDTHH:MM:SS_sbNN.hdf5: %s",
                    len(unrecognised), incoming_dir, ", ".join(sorted(unrecognised)))
    return sorted(files, key=lambda f: (f.timestamp, f.subband, f.path)), sorted(unrecognised)


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
    age_s = (now - group.start).total_seconds()
    if age_s < settle_time_s:
        return Readiness("wait", f"{len(present)}/{n_subbands} subbands, settles in {settle_time_s - age_s:.0f} s")
    missing = sorted(set(range(n_subbands)) - present)
    if len(present) >= min_subbands:
        return Readiness("process", f"incomplete: missing subbands {missing}")
    return Readiness("skip", f"only {len(present)}/{n_subbands} subbands after {settle_time_s:.0f} s "
                             f"(minimum {min_subbands}); missing {missing}")


def plan_groups(incoming_dir, *, tolerance_s, n_subbands, min_subbands, settle_time_s,
                min_file_age_s=0.0, now: datetime | None = None) -> dict[str, tuple[Group, Readiness]]:
    """Scan, group and judge every observation in the incoming directory, keyed by group id."""
    now = now or datetime.now(timezone.utc)
    files, _ = scan_incoming(incoming_dir, min_file_age_s=min_file_age_s, now=now)
    plan = {}
    for group in group_files(files, tolerance_s):
        plan[group.group_id] = (group, readiness(group, now=now, n_subbands=n_subbands,
                                                 min_subbands=min_subbands, settle_time_s=settle_time_s))
    return plan


def group_time(group_id: str) -> datetime:
    """The UTC datetime of a group id."""
    return datetime.strptime(group_id, TIMESTAMP_FORMAT).replace(tzinfo=timezone.utc)



def describe_group(group_id: str, paths: list[str], *, action: str, reason: str, n_subbands: int = 16) -> dict:
    """The group index record: members, pointing declination and times from a cheap header read.

    The headers are cross-checked as the converter will (``problem`` says what is wrong, if anything),
    so a broken observation is known before any heavy job touches it.
    """
    from .convert import plan_layout
    from .uvh5 import BadInputError, read_header

    record = {
        "group_id": group_id,
        "action": action,
        "reason": reason,
        "files": sorted(paths),
        "subbands": sorted(parse_filename(os.path.basename(p))[1] for p in paths),
        "pointing_dec_deg": None,
        "start_mjd": None,
        "mid_mjd": None,
        "end_mjd": None,
        "problem": None,
    }
    try:
        header = plan_layout(paths, n_subbands=n_subbands).headers[0]
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
        half_int_d = float(header.integration_time_s[0]) / 2 / 86400.0
        dec = header.fringestop_dec_rad if header.fringestop_dec_rad is not None else np.deg2rad(header.latitude_deg)
        record.update(
            pointing_dec_deg=float(np.rad2deg(dec)),
            start_mjd=float(jd.min() - 2400000.5 - half_int_d),
            end_mjd=float(jd.max() - 2400000.5 + half_int_d),
            mid_mjd=float(0.5 * (jd.min() + jd.max()) - 2400000.5),
        )
    return record
