"""Every name and path the pipeline uses: raw file names, observation ids, days and the product layout.

Rules, scripts and the status tools all take paths from here, so a product's location is spelled once.
Path functions accept an id or a Snakemake wildcard (``"{group}"``), so the same call gives a rule's
pattern and a concrete file. Records store ids and paths relative to the output directory, never
absolute paths, so an output tree can be moved or mounted elsewhere.
"""

from __future__ import annotations

import os
import re
from datetime import datetime, timezone

TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%S"
#: An observation id: the earliest timestamp of its subband files.
GROUP_ID_PATTERN = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}"
#: A UTC day, the unit the workflow partitions its work in.
DAY_PATTERN = r"\d{4}-\d{2}-\d{2}"
RAW_FILENAME_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})_sb(\d{2})\.hdf5$")
RAW_FILENAME_FORM = "YYYY-MM-DDTHH:MM:SS_sbNN.hdf5"


def parse_raw_filename(name: str) -> tuple[datetime, int] | None:
    """Timestamp (UTC) and subband of a raw file name, or None when it is not a subband file."""
    match = RAW_FILENAME_RE.match(name)
    if match is None:
        return None
    try:  # the constructor, not strptime: an archive holds ~140,000 names a month, all parsed every run
        stamp = datetime(*(int(v) for v in match.groups()[:6]), tzinfo=timezone.utc)
    except ValueError:
        return None
    return stamp, int(match.group(7))


def raw_filename(timestamp: datetime, subband: int) -> str:
    return f"{format_timestamp(timestamp)}_sb{subband:02d}.hdf5"


def format_timestamp(timestamp: datetime) -> str:
    return timestamp.strftime(TIMESTAMP_FORMAT)


def parse_timestamp(text: str) -> datetime:
    """A UTC datetime from ``YYYY-MM-DDTHH:MM:SS`` (an observation id)."""
    return datetime.strptime(text, TIMESTAMP_FORMAT).replace(tzinfo=timezone.utc)


def timestamp_mjd(timestamp: datetime) -> float:
    """A UTC datetime as an MJD (the Unix epoch is MJD 40587)."""
    return timestamp.timestamp() / 86400.0 + 40587.0


def day_of(group_id: str) -> str:
    """The UTC day (``YYYY-MM-DD``) an observation belongs to."""
    return group_id[:10]


class Products:
    """The layout of everything the workflow writes below ``output_dir``."""

    def __init__(self, output_dir: str | os.PathLike):
        self.root = os.fspath(output_dir).rstrip("/") or "."

    def _path(self, *parts: str) -> str:
        return "/".join((self.root, *parts))

    def relative(self, path: str | os.PathLike) -> str:
        """A path as records store it: relative to the output directory."""
        return os.path.relpath(path, self.root)

    def absolute(self, relative_path: str) -> str:
        return self._path(relative_path)

    # ingest
    def plan(self, day: str) -> str:
        return self._path("plan", f"{day}.json")

    def group_record(self, group: str) -> str:
        return self._path("groups", f"{group}.json")

    def day_index(self, day: str) -> str:
        return self._path("index", f"{day}.csv")

    def indexed_days(self) -> list[str]:
        """The days that have an index, oldest first."""
        index_dir = self._path("index")
        if not os.path.isdir(index_dir):
            return []
        return sorted(name[:-4] for name in os.listdir(index_dir) if re.fullmatch(rf"{DAY_PATTERN}\.csv", name))

    # convert
    def ms(self, group: str) -> str:
        return self._path("ms", f"{group}.ms")

    def ms_record(self, group: str) -> str:
        return self._path("ms", f"{group}.json")

    # calibrate
    def calibrator_catalogue(self) -> str:
        return self._path("calibration", "calibrators.json")

    def calibrator_ms(self, group: str) -> str:
        return self._path("calibration", group, "calibrator.ms")

    def calibrator_record(self, group: str) -> str:
        return self._path("calibration", group, "calibrator.json")

    def bandpass_table(self, group: str) -> str:
        return self._path("calibration", group, "bandpass.bcal")

    def gain_table(self, group: str) -> str:
        return self._path("calibration", group, "gains.gcal")

    def solution_plot(self, group: str) -> str:
        return self._path("calibration", group, "solutions.png")

    def solve_qa(self, group: str) -> str:
        return self._path("calibration", group, "qa.json")

    def registry(self, day: str) -> str:
        return self._path("calibration", "registry", f"{day}.json")

    def calibrated_ms(self, group: str) -> str:
        return self._path("calibrated", f"{group}.ms")

    def calibrated_record(self, group: str) -> str:
        return self._path("calibrated", f"{group}.json")

    # image
    def image_product(self, group: str, product: str) -> str:
        """``product``: image, pbcor, pb, residual, psf or model (FITS)."""
        return self._path("images", group, f"{product}.fits")

    def image_qa(self, group: str) -> str:
        return self._path("images", group, "qa.json")

    def image_quicklook(self, group: str) -> str:
        return self._path("images", group, "quicklook.png")

    # mosaic
    def mosaic_plan(self, day: str) -> str:
        return self._path("mosaics", "plan", f"{day}.json")

    def mosaic_product(self, window: str, product: str) -> str:
        """``product``: mosaic, noise or coverage (FITS); a window is named after its first observation."""
        return self._path("mosaics", window, f"{product}.fits")

    def mosaic_qa(self, window: str) -> str:
        return self._path("mosaics", window, "qa.json")

    def mosaic_quicklook(self, window: str) -> str:
        return self._path("mosaics", window, "quicklook.png")

    # science
    def _product_dir(self, product: str, item: str) -> str:
        return self._path({"image": "images", "mosaic": "mosaics"}[product], item)

    def sources(self, product: str, item: str) -> str:
        """``product``: image (an observation) or mosaic (a window)."""
        return f"{self._product_dir(product, item)}/sources.csv"

    def crossmatch(self, product: str, item: str) -> str:
        return f"{self._product_dir(product, item)}/crossmatch.json"

    def photometry(self, group: str) -> str:
        return self._path("images", group, "photometry.csv")

    def database(self) -> str:
        """The SQLite products database (when no PostgreSQL URL is configured)."""
        return self._path("products.sqlite")

    def database_synced(self) -> str:
        return self._path("science", "database.json")

    def variability(self) -> str:
        return self._path("science", "variability.csv")

    def light_curve_plot(self, name: str) -> str:
        return self._path("science", "lightcurves", f"{name}.png")

    # operations
    def day_status(self, day: str) -> str:
        """Whether a day is finished (closed: left out of later runs' DAGs) and what it still waits for."""
        return self._path("days", f"{day}.json")

    def failure(self, step: str, group: str) -> str:
        """The record of a job that failed on bad input, keyed by (step, observation)."""
        return self._path("failures", step, f"{group}.json")

    def last_run(self) -> str:
        return self._path("status", "last_run.json")

    def status_json(self) -> str:
        return self._path("status", "status.json")

    def status_page(self) -> str:
        return self._path("status", "index.html")

    def metrics(self) -> str:
        return self._path("status", "dsa110_continuum.prom")

    def failures(self) -> dict[tuple[str, str], str]:
        """Every failure record, keyed by (step, observation)."""
        found = {}
        root = self._path("failures")
        for step in sorted(os.listdir(root)) if os.path.isdir(root) else []:
            for name in sorted(os.listdir(os.path.join(root, step))):
                if name.endswith(".json"):
                    found[(step, name[:-5])] = self.failure(step, name[:-5])
        return found

    def log(self, rule: str, name: str, suffix: str = "log") -> str:
        return self._path("logs", rule, f"{name}.{suffix}")
