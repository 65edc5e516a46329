"""The operator's status page, rendered and then read back from a real headless Chromium."""

from __future__ import annotations

import base64
import os
import re
import shutil
import struct
from datetime import datetime, timezone
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from matplotlib import image as mpimg
from matplotlib.figure import Figure

from dsa110_continuum.ops.page import MAX_ROWS, render_status_page
from helpers import CHROMIUM, chromium, dump_dom

pytestmark = [pytest.mark.e2e,
              pytest.mark.skipif(not CHROMIUM.exists(), reason="needs headless Chromium at /usr/bin/chromium")]
WINDOW = (1280, 1600)
TRICKY_REASON = 'HeaderError: field <b>freq_array</b> & "channel_width" disagree'


class Elements(HTMLParser):
    """Every element of a document with its attributes and text content (including its descendants')."""

    VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.elements, self._open = [], []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag, attrs):
        element = {"tag": tag, "attrs": dict(attrs), "text": []}
        self.elements.append(element)
        if tag not in self.VOID:
            self._open.append(element)

    def handle_startendtag(self, tag, attrs):
        self.elements.append({"tag": tag, "attrs": dict(attrs), "text": []})

    def handle_endtag(self, tag):
        for k in range(len(self._open) - 1, -1, -1):
            if self._open[k]["tag"] == tag:
                del self._open[k:]
                break

    def handle_data(self, data):
        for element in self._open:
            element["text"].append(data)

    def by_id(self, ident: str) -> dict:
        found = [e for e in self.elements if e["attrs"].get("id") == ident]
        assert len(found) == 1, f"expected one element with id={ident!r}, found {len(found)}"
        return found[0]

    def text(self, ident: str) -> str:
        return "".join(self.by_id(ident)["text"]).strip()

    def with_class(self, name: str) -> list[dict]:
        return [e for e in self.elements if name in (e["attrs"].get("class") or "").split()]


def quicklook(path: Path, seed: int, size: float = 3.0) -> Path:
    """A small image quick-look: noise, a few point sources and a colour bar, as the pipeline draws them."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    sky = rng.normal(0, 0.01, (128, 128))
    for _ in range(5):
        y, x = rng.integers(10, 118, 2)
        sky += rng.uniform(0.05, 0.5) * np.exp(-((np.arange(128)[:, None] - y) ** 2 + (np.arange(128) - x) ** 2) / 6)
    fig = Figure(figsize=(size, size), dpi=80)
    ax = fig.add_subplot()
    fig.colorbar(ax.imshow(sky, origin="lower", cmap="inferno"), ax=ax, label="Jy/beam")
    ax.set_title(path.parent.name, fontsize=8)
    fig.savefig(path)
    return path


def mjd(iso: str) -> float:
    epoch = datetime(1858, 11, 17, tzinfo=timezone.utc)
    return (datetime.fromisoformat(iso).replace(tzinfo=timezone.utc) - epoch).total_seconds() / 86400


def realistic_status(tmp_path: Path) -> dict:
    products = tmp_path / "products"
    images = []
    for k, group in enumerate(["2025-06-01T04:40:00", "2025-06-01T04:45:00", "2025-06-01T04:50:00"]):
        directory = products / "images" / group
        directory.mkdir(parents=True)
        images.append({"group_id": group, "quicklook": str(quicklook(directory / "quicklook.png", k)),
                       "rms_jy": 0.012 + 0.004 * k, "passed": k != 2,
                       "reasons": ["rms 20.0 mJy/beam above the 15 mJy/beam limit"] if k == 2 else []})
    images.append({"group_id": "2025-06-01T04:55:00", "quicklook": str(products / "images/missing/quicklook.png"),
                   "rms_jy": 0.013, "passed": True, "reasons": []})
    big = products / "mosaics" / "2025-06-01T04:00" / "quicklook.png"
    big.parent.mkdir(parents=True)
    mpimg.imsave(big, np.random.default_rng(7).random((700, 700, 3)))
    small = quicklook(products / "mosaics" / "2025-06-01T05:00" / "quicklook.png", 9)
    mosaics = [{"window_id": "2025-06-01T04:00", "quicklook": str(big), "noise_median_jy": 0.004, "n_tiles": 12},
               {"window_id": "2025-06-01T05:00", "quicklook": str(small), "noise_median_jy": 0.0052, "n_tiles": 9}]
    logs = "/data/products/logs"
    failures = [
        {"step": "convert", "id": "2025-06-01T05:40:00", "failed_at": "2026-11-29T14:00:00Z",
         "reason": "BadInputError: /data/incoming/2025-06-01T05:40:00_sb05.hdf5: not a readable UVH5 file (truncated)",
         "log": f"{logs}/convert/2025-06-01T05:40:00.log"},
        {"step": "convert", "id": "2025-06-01T05:45:00", "failed_at": "2026-11-29T14:56:30Z",
         "reason": TRICKY_REASON, "log": f"{logs}/convert/2025-06-01T05:45:00.log"},
        {"step": "image", "id": "2025-06-01T05:55:00", "failed_at": "2026-11-29T11:20:00Z",
         "reason": "WSCleanError: wsclean exited with status 137 (out of memory?)",
         "log": f"{logs}/image/2025-06-01T05:55:00.log"},
        {"step": "calibrate", "id": "2025-06-01T16:10:00", "failed_at": "2026-11-29T14:30:00Z",
         "reason": "SolveError: only 31 of 96 antennas have solutions (need 60)",
         "log": f"{logs}/calibrate/2025-06-01T16:10:00.log"},
    ]
    waiting = [{"group_id": f"2025-06-02T0{k}:40:00", "stage": "calibration",
                "reason": "no calibrator transit within 12 h has been solved (yet)"} for k in range(3)]
    waiting.append({"group_id": "2025-06-02T03:55:00", "stage": "mosaic",
                    "reason": "window 2025-06-02T03:00 is missing 2 of 12 members"})
    sets = [("2025-06-01T04:43:10", "3C286", "passed", []),
            ("2025-06-01T16:12:40", "3C48", "failed", ["only 31 of 96 antennas solved"]),
            ("2025-06-02T04:39:14", "3C286", "not solved", [])]
    calibration_sets = [{"set_id": set_id, "calibrator": name, "transit_mjd": mjd(set_id),
                         "valid_from_mjd": mjd(set_id) - 0.5, "valid_to_mjd": mjd(set_id) + 0.5,
                         "status": state, "reasons": reasons} for set_id, name, state, reasons in sets]
    return {
        "generated_at": "2026-11-29T15:00:00Z", "output_dir": "/data/products", "incoming_dir": "/data/incoming",
        "stages": {"seen": 300, "converted": 280, "calibrated": 270, "imaged": 260, "in_mosaic": 240,
                   "skipped": 3, "failed": 4, "waiting": 12},
        "waiting": waiting, "failures": failures, "calibration_sets": calibration_sets,
        "recent_images": images, "recent_mosaics": mosaics,
        "slurm": {"available": True, "queued": 3, "running": 2, "jobs": [
            {"id": "812340", "name": "image-2025-06-01T05:00:00", "state": "RUNNING", "time": "0:42",
             "partition": "debug"},
            {"id": "812341", "name": "mosaic-2025-06-01T05:00", "state": "RUNNING", "time": "0:05",
             "partition": "debug"},
            *({"id": str(812342 + k), "name": f"calibrate-{k}", "state": "PENDING", "time": "0:00",
               "partition": "debug"} for k in range(3))]},
        "last_run": {"started_at": "2026-11-29T14:55:00Z", "finished_at": "2026-11-29T14:57:10Z", "outcome": "ok",
                     "log": "/data/products/logs/cron/2026-11-29T14-55-00.log", "exit_code": 0},
        "disk": [{"label": "incoming", "path": "/data/incoming", "used_fraction": 0.42, "free_gb": 512.3,
                  "warning": False},
                 {"label": "output", "path": "/data/products", "used_fraction": 0.93, "free_gb": 40.1,
                  "warning": True},
                 {"label": "scratch", "path": "/scratch/dsa110", "used_fraction": 0.071, "free_gb": 1822.0,
                  "warning": False}],
    }


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR", "not a PNG"
    return struct.unpack(">II", data[16:24])


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    """The realistic status, its page and the page's DOM after Chromium loaded it."""
    tmp = tmp_path_factory.mktemp("status_page")
    status = realistic_status(tmp)
    page = tmp / "site" / "status.html"
    render_status_page(status, page)
    return status, page, dump_dom(tmp, page)


def test_every_number_in_the_browser_dom_equals_the_status(tmp_path, rendered):
    status, page, dump = rendered
    dom = Elements(dump)

    for stage, count in status["stages"].items():
        assert int(dom.text(f"count-{stage}")) == count, stage
    assert int(dom.text("count-failures")) == len(status["failures"])
    assert int(dom.text("count-waiting")) == status["stages"]["waiting"]
    assert len(dom.with_class("waiting-row")) == len(status["waiting"])
    assert int(dom.text("slurm-queued")) == status["slurm"]["queued"]
    assert int(dom.text("slurm-running")) == status["slurm"]["running"]
    disks = {e["attrs"]["data-path"]: e["attrs"] for e in dom.elements if "data-used-fraction" in e["attrs"]}
    assert set(disks) == {d["path"] for d in status["disk"]}
    for d in status["disk"]:
        assert float(disks[d["path"]]["data-used-fraction"]) == d["used_fraction"]
        assert disks[d["path"]]["data-warning"] == str(d["warning"]).lower()
        assert ("warning" in disks[d["path"]]["class"].split()) == d["warning"]
    assert dom.by_id("overall")["attrs"]["data-state"] == "attention"
    assert dom.by_id("last-run")["attrs"]["data-outcome"] == "ok"


def test_failures_are_newest_first_and_escaped(tmp_path, rendered):
    status, page, dump = rendered
    dom = Elements(dump)
    rows = ["".join(e["text"]) for e in dom.with_class("failure-row")]
    newest_first = sorted(status["failures"], key=lambda f: f["failed_at"], reverse=True)
    assert [next(f["id"] for f in newest_first if f["id"] in row) for row in rows] == [f["id"] for f in newest_first]
    for failure, row in zip(newest_first, rows):
        assert failure["reason"] in row and failure["log"] in row and failure["step"] in row
    assert not [e for e in dom.elements if e["tag"] == "b" and "freq_array" in "".join(e["text"])]
    assert "&lt;b&gt;freq_array&lt;/b&gt; &amp;" in page.read_text()
    assert "&lt;b&gt;freq_array&lt;/b&gt; &amp;" in dump


def test_the_timeline_has_one_bar_per_calibration_set(tmp_path, rendered):
    status, page, dump = rendered
    dom = Elements(dump)
    bars = [e for e in dom.with_class("cal-bar") if e["tag"] == "rect"]
    assert {b["attrs"]["data-set-id"]: b["attrs"]["data-status"] for b in bars} == {
        s["set_id"]: s["status"] for s in status["calibration_sets"]}
    assert len(bars) == len(status["calibration_sets"])
    assert len(dom.with_class("transit")) == len(status["calibration_sets"])
    axis = " ".join("".join(e["text"]) for e in dom.with_class("axis"))
    assert "2025-06-01" in axis and "UTC" in axis


def test_the_page_is_self_contained_with_embedded_quicklooks(tmp_path, rendered):
    status, page, dump = rendered
    html = page.read_text()
    for text in (html, dump):
        assert not re.search(r"https?://", text, re.IGNORECASE)
        assert not re.search(r"""(?:src|href)\s*=\s*["']?(?!["']|data:|#)""", text, re.IGNORECASE)
        assert not re.search(r"""url\(\s*["']?(?!data:)""", text, re.IGNORECASE)
    images = [e for e in Elements(dump).elements if e["tag"] == "img"]
    products = status["recent_images"] + status["recent_mosaics"]
    assert len(images) == sum(os.path.exists(p["quicklook"]) for p in products)
    assert all(img["attrs"]["src"].startswith("data:image/png;base64,") for img in images)
    sizes = [len(base64.b64decode(img["attrs"]["src"].split(",", 1)[1])) for img in images]
    assert max(sizes) < 300_000
    assert "quick-look missing" in dump
    assert not list(page.parent.glob(".*tmp")), "the atomic write left a temporary file behind"


def test_screenshot_is_a_clean_png_of_the_requested_size(tmp_path, rendered):
    _, page, _ = rendered
    shot = tmp_path / "status-page.png"
    result = chromium(tmp_path, f"--screenshot={shot}", f"--window-size={WINDOW[0]},{WINDOW[1]}", page.as_uri())
    assert result.returncode == 0 and shot.exists(), result.stderr[-2000:]
    assert png_size(shot.read_bytes()) == WINDOW
    pixels = mpimg.imread(shot)[..., :3]
    colours = np.unique((pixels * 255).astype(np.uint8).reshape(-1, 3), axis=0)
    assert len(colours) > 200 and pixels.std() > 0.05, "the screenshot looks blank"
    artefacts = Path(os.environ.get("DSA110_TEST_ARTIFACTS") or Path(__file__).resolve().parents[2] / "test-artifacts")
    artefacts.mkdir(parents=True, exist_ok=True)
    shutil.copy2(shot, artefacts / "status-page.png")


def test_minimal_status_renders_and_says_slurm_is_not_available(tmp_path):
    page = tmp_path / "status.html"
    page.write_text("old page")
    render_status_page({"generated_at": "2026-11-29T15:00:00Z", "output_dir": "/data/products",
                        "stages": {}, "failures": [], "waiting": [], "calibration_sets": [], "disk": []}, page)
    dom = Elements(dump_dom(tmp_path, page))
    assert "SLURM not available" in "".join(dom.by_id("slurm")["text"])
    assert not [e for e in dom.elements if e["attrs"].get("id") in ("slurm-queued", "slurm-running")]
    assert int(dom.text("count-failures")) == 0 and int(dom.text("count-waiting")) == 0
    assert dom.by_id("overall")["attrs"]["data-state"] == "stale"
    assert "No cron run recorded" in "".join(dom.by_id("last-run")["text"])
    render_status_page({}, tmp_path / "empty" / "status.html")
    assert "SLURM not available" in (tmp_path / "empty" / "status.html").read_text()


def test_long_failure_lists_are_cut_with_a_count_of_the_rest(tmp_path):
    failures = [{"step": "convert", "id": f"g{k:03d}", "reason": "BadInputError", "log": f"/logs/g{k:03d}.log",
                 "failed_at": f"2026-11-29T{k // 60:02d}:{k % 60:02d}:00Z"} for k in range(MAX_ROWS + 7)]
    page = tmp_path / "status.html"
    render_status_page({"generated_at": "2026-11-29T15:00:00Z", "output_dir": "/d", "failures": failures}, page)
    dom = Elements(page.read_text())
    rows = dom.with_class("failure-row")
    assert len(rows) == MAX_ROWS and int(dom.text("count-failures")) == MAX_ROWS + 7
    assert f"g{MAX_ROWS + 6:03d}" in "".join(rows[0]["text"])
    assert "7 more failures not shown" in "".join(dom.by_id("failures")["text"])
