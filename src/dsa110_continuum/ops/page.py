"""The operator's status page: one self-contained HTML file (inline CSS and images, no external resources).

Every number shown is also machine-readable: stage counts in ``id="count-<stage>"``, the failure count in
``id="count-failures"``, the waiting count in ``id="count-waiting"``, SLURM counts in ``id="slurm-queued"`` and
``id="slurm-running"``, disk rows with ``data-path`` and ``data-used-fraction``, calibration bars with
``data-set-id`` and ``data-status``.

The overall state is ``attention`` when anything failed (an observation, the last cron run) or a disk is over its
threshold, else ``stale`` when the last cron run is missing or older than ``STALE_AFTER``, else ``ok``.
"""

from __future__ import annotations

import base64
import contextlib
import io
import math
import os
import tempfile
from datetime import datetime, timedelta, timezone
from html import escape
from pathlib import Path

STAGES = ("seen", "converted", "calibrated", "imaged", "in_mosaic", "skipped", "failed", "waiting")
MAX_ROWS = 50
MAX_CAL_SETS = 40
EMBED_LIMIT = 300_000
THUMB_WIDTH = 480
STALE_AFTER = timedelta(hours=1)
DISK_WARNING_FRACTION = 0.9
MJD_EPOCH = datetime(1858, 11, 17, tzinfo=timezone.utc)

CSS = """
:root{--ok:#1a7f37;--ok-bg:#dcfce7;--bad:#b42318;--bad-bg:#fee4e2;--warn:#b54708;--warn-bg:#fef0c7;
 --grey:#8a94a6;--line:#d9dee5;--text:#1d232b;--muted:#5b6573}
*{box-sizing:border-box}
body{margin:0;background:#f3f5f8;color:var(--text);font:14px/1.45 system-ui,"Segoe UI",Roboto,"DejaVu Sans",sans-serif}
main{max-width:1240px;margin:0 auto;padding:20px 24px 40px}
header h1{font-size:21px;margin:0 0 2px}
header p{margin:0;color:var(--muted)}
code,.mono{font-family:"DejaVu Sans Mono",Menlo,Consolas,monospace;font-size:12.5px}
section{background:#fff;border:1px solid var(--line);border-radius:8px;padding:14px 18px;margin-top:16px}
h2{font-size:16px;margin:0 0 10px}
h2 .n{display:inline-block;min-width:24px;padding:0 8px;margin-left:6px;border-radius:11px;background:#e8ebf0;
 font-size:13px;text-align:center}
.state{border-width:2px;display:flex;gap:22px;align-items:center}
.state .label{font-size:30px;font-weight:800;letter-spacing:.04em;padding:6px 18px;border-radius:6px;color:#fff}
.state ul{margin:0;padding-left:18px;font-size:15px}
.state.ok{border-color:var(--ok);background:var(--ok-bg)}.state.ok .label{background:var(--ok)}
.state.attention{border-color:var(--bad);background:var(--bad-bg)}.state.attention .label{background:var(--bad)}
.state.stale{border-color:var(--warn);background:var(--warn-bg)}.state.stale .label{background:var(--warn)}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:5px 8px;border-bottom:1px solid #eceff3;vertical-align:top}
th{font-size:12px;text-transform:uppercase;letter-spacing:.04em;color:var(--muted);font-weight:600}
table.stages th,table.stages td{text-align:center;border:none}
table.stages td{font-size:26px;font-weight:700;font-variant-numeric:tabular-nums}
table.stages td.bad{color:var(--bad)}table.stages td.warn{color:var(--warn)}
td.reason{overflow-wrap:anywhere}
td.nowrap,td.mono{white-space:nowrap}
td.log{white-space:normal;overflow-wrap:anywhere}
.more{color:var(--muted);margin:8px 0 0}
.empty{color:var(--muted);font-style:italic;margin:0}
.ops{display:grid;grid-template-columns:minmax(0,1fr) minmax(0,1.35fr);gap:16px;align-items:start}
dl{display:grid;grid-template-columns:auto 1fr;gap:3px 12px;margin:0}
dt{color:var(--muted)}dd{margin:0;overflow-wrap:anywhere}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;font-weight:700;color:#fff}
.badge.ok{background:var(--ok)}.badge.bad{background:var(--bad)}.badge.warn{background:var(--warn)}
.badge.grey{background:var(--grey)}
.disk{margin:0 0 10px}
.disk .top{display:flex;justify-content:space-between;gap:8px;align-items:baseline}
.disk .top code{color:var(--muted)}
.disk .sub{font-size:12px;color:var(--muted);margin-top:2px}
.disk .bar{height:12px;background:#e8ebf0;border-radius:6px;overflow:hidden;margin-top:3px}
.disk .fill{height:100%;background:var(--ok)}
.disk.warning .fill{background:var(--bad)}.disk.warning b,.disk.warning .sub strong{color:var(--bad)}
svg text{font-family:system-ui,"DejaVu Sans",sans-serif;font-size:12px;fill:var(--text)}
svg .axis{font-size:11px;fill:var(--muted)}
.legend{display:flex;gap:16px;color:var(--muted);font-size:12px;margin-top:4px}
.legend i{display:inline-block;width:12px;height:12px;border-radius:2px;margin-right:5px;vertical-align:-1px}
.cal-notes{margin:8px 0 0;padding-left:18px}
.thumbs{display:grid;grid-template-columns:repeat(auto-fill,minmax(230px,1fr));gap:14px}
figure{margin:0;border:1px solid var(--line);border-radius:6px;overflow:hidden;background:#fafbfc}
figure img{display:block;width:100%;height:auto;background:#000}
figure .missing{aspect-ratio:1/1;display:flex;align-items:center;justify-content:center;text-align:center;padding:12px;
 color:var(--muted);overflow-wrap:anywhere;
 background:repeating-linear-gradient(45deg,#f1f3f6,#f1f3f6 8px,#e9ecf1 8px,#e9ecf1 16px)}
figcaption{padding:6px 9px;font-size:12.5px}
figcaption .id{font-weight:600}
figcaption .why{color:var(--bad)}
@media (max-width:900px){.ops{display:block}}
"""

AGE_SCRIPT = """<script>
(function(){var e=document.getElementById('page-age');if(!e)return;var t=Date.parse(e.dataset.generated);
if(isNaN(t))return;function u(){var m=Math.round((Date.now()-t)/60000);
e.textContent=m<120?' ('+m+' min ago)':' ('+(m/60).toFixed(1)+' h ago)';}u();setInterval(u,30000);})();
</script>"""


def render_status_page(status: dict, path: str | Path) -> None:
    """Write the status page for ``status`` to ``path``, atomically.

    Parameters
    ----------
    status : dict
        Pipeline status (generated_at, output_dir, stages, waiting, failures, calibration_sets, recent_images,
        recent_mosaics, slurm, last_run, disk); every key is optional.
    path : str or Path
        The HTML file to write; its directory is created if needed.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    html = _page(status)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(html)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _e(value) -> str:
    return escape("" if value is None else str(value), quote=True)


def _time(value) -> datetime | None:
    """Parse an ISO time (``Z`` allowed; naive means UTC); None when absent or unreadable."""
    try:
        t = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except (TypeError, ValueError):
        return None
    return t if t.tzinfo else t.replace(tzinfo=timezone.utc)


def _utc(value) -> str:
    t = _time(value)
    return t.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC") if t else (str(value) if value else "—")


def _age(seconds: float) -> str:
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h" if seconds < 172800 else f"{seconds / 86400:.1f} d"


def _now(status: dict) -> datetime:
    return _time(status.get("generated_at")) or datetime.now(timezone.utc)


def _disk_warning(disk: dict) -> bool:
    return bool(disk.get("warning", float(disk.get("used_fraction", 0)) >= DISK_WARNING_FRACTION))


def _assessment(status: dict) -> tuple[str, list[str]]:
    """The overall state (ok, attention or stale) and the reasons for it."""
    problems, stale = [], []
    n_failures = len(status.get("failures") or [])
    if n_failures:
        problems.append(f"{n_failures} failure{'s' if n_failures != 1 else ''}")
    run = status.get("last_run")
    if not run:
        stale.append("no cron run recorded")
    else:
        outcome = str(run.get("outcome", "unknown"))
        if outcome not in ("ok", "running"):
            problems.append(f"last cron run: {outcome} (exit code {run.get('exit_code', '?')})")
        last = _time(run.get("finished_at")) or _time(run.get("started_at"))
        if last is None:
            stale.append("last cron run has no time")
        elif _now(status) - last > STALE_AFTER:
            stale.append(f"last cron run {_age((_now(status) - last).total_seconds())} before this page was made")
    for disk in status.get("disk") or []:
        if _disk_warning(disk):
            fraction = float(disk.get("used_fraction", 0))
            problems.append(f"disk '{disk.get('label', disk.get('path'))}' {fraction:.0%} full")
    return ("attention" if problems else "stale" if stale else "ok"), problems + stale


def _page(status: dict) -> str:
    out_dir, generated = status.get("output_dir", "?"), status.get("generated_at")
    state, reasons = _assessment(status)
    reasons = reasons or ["no failures, last cron run recent, disks below threshold"]
    items = "".join(f"<li>{_e(r)}</li>" for r in reasons)
    incoming = f" · incoming <code>{_e(status['incoming_dir'])}</code>" if status.get("incoming_dir") else ""
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>{_e(state.upper())} · DSA-110 continuum · {_e(out_dir)}</title><style>{CSS}</style></head>
<body><main>
<header><h1>DSA-110 continuum pipeline — <code>{_e(out_dir)}</code></h1>
<p>Generated <span id="generated-at" data-time="{_e(generated)}">{_e(_utc(generated))}</span><span id="page-age"
 data-generated="{_e(generated)}"></span>{incoming}</p></header>
<section id="overall" class="state {state}" data-state="{state}"><div class="label">{_e(state.upper())}</div>
<ul>{items}</ul></section>
{_stages(status)}
{_failures(status.get("failures") or [])}
{_waiting(status)}
<div class="ops"><div>{_last_run(status)}{_disks(status.get("disk") or [])}</div>{_slurm(status.get("slurm"))}</div>
{_calibration(status.get("calibration_sets") or [], _now(status))}
{_quicklooks(status)}
</main>{AGE_SCRIPT}</body></html>
"""


def _stages(status: dict) -> str:
    counts = dict(status.get("stages") or {})
    counts.setdefault("waiting", len(status.get("waiting") or []))
    names = [s for s in STAGES if s in counts] + [s for s in counts if s not in STAGES]
    style = {"failed": "bad", "waiting": "warn"}
    heads = "".join(f"<th>{_e(n.replace('_', ' '))}</th>" for n in names)
    cells = "".join(f'<td id="count-{_e(n)}" class="{style.get(n, "") if counts[n] else ""}">{int(counts[n])}</td>'
                    for n in names)
    return (f'<section id="stages"><h2>Observations by stage</h2><table class="stages"><tr>{heads}</tr>'
            f"<tr>{cells}</tr></table></section>")


def _limited(rows: list[str], total: int, what: str) -> tuple[str, str]:
    more = f'<p class="more">… and {total - MAX_ROWS} more {what} not shown</p>' if total > MAX_ROWS else ""
    return "".join(rows[:MAX_ROWS]), more


def _failures(failures: list[dict]) -> str:
    never = datetime.min.replace(tzinfo=timezone.utc)
    ordered = sorted(failures, key=lambda f: _time(f.get("failed_at")) or never, reverse=True)
    rows = [f'<tr class="failure-row"><td class="nowrap">{_e(_utc(f.get("failed_at")))}</td>'
            f'<td>{_e(f.get("step"))}</td>'
            f'<td class="mono">{_e(f.get("id"))}</td><td class="reason">{_e(f.get("reason"))}</td>'
            f'<td class="mono log">{_e(f.get("log"))}</td></tr>' for f in ordered[:MAX_ROWS]]
    body, more = _limited(rows, len(failures), "failures")
    table = (f"<table><tr><th>Failed at</th><th>Step</th><th>Observation</th><th>Reason</th><th>Log</th></tr>"
             f"{body}</table>{more}") if failures else '<p class="empty">No failures.</p>'
    return f'<section id="failures"><h2>Failures <span class="n" id="count-failures">{len(failures)}</span> ' \
           f'<small class="more">newest first</small></h2>{table}</section>'


def _waiting(status: dict) -> str:
    waiting = status.get("waiting") or []
    counted = (status.get("stages") or {}).get("waiting", len(waiting))
    rows = [f'<tr class="waiting-row"><td class="mono">{_e(w.get("group_id"))}</td><td>{_e(w.get("stage"))}</td>'
            f'<td class="reason">{_e(w.get("reason"))}</td></tr>' for w in waiting[:MAX_ROWS]]
    body, more = _limited(rows, len(waiting), "waiting")
    table = (f"<table><tr><th>Observation</th><th>Waits for</th><th>Why</th></tr>{body}</table>{more}"
             if waiting else '<p class="empty">Nothing waits.</p>')
    return f'<section id="waiting"><h2>Waiting <span class="n">{int(counted)}</span></h2>{table}</section>'


def _last_run(status: dict) -> str:
    run = status.get("last_run")
    if not run:
        return '<section id="last-run"><h2>Last cron run</h2><p class="empty">No cron run recorded.</p></section>'
    outcome = str(run.get("outcome", "unknown"))
    badge = {"ok": "ok", "running": "grey"}.get(outcome, "bad")
    start, end = _time(run.get("started_at")), _time(run.get("finished_at"))
    took = f"{_age((end - start).total_seconds())}" if start and end else "—"
    return f"""<section id="last-run" data-outcome="{_e(outcome)}" data-exit-code="{_e(run.get('exit_code'))}">
<h2>Last cron run <span class="badge {badge}">{_e(outcome.upper())}</span></h2><dl>
<dt>Started</dt><dd>{_e(_utc(run.get("started_at")))}</dd><dt>Finished</dt><dd>{_e(_utc(run.get("finished_at")))}</dd>
<dt>Took</dt><dd>{_e(took)}</dd><dt>Exit code</dt><dd>{_e(run.get("exit_code", "—"))}</dd>
<dt>Log</dt><dd class="mono">{_e(run.get("log", "—"))}</dd></dl></section>"""


def _slurm(slurm: dict | None) -> str:
    if not slurm or not slurm.get("available"):
        return '<section id="slurm"><h2>SLURM</h2><p class="empty">SLURM not available</p></section>'
    jobs = slurm.get("jobs") or []
    state = {"RUNNING": "ok", "PENDING": "grey", "FAILED": "bad", "TIMEOUT": "bad", "OUT_OF_MEMORY": "bad"}
    rows = "".join(f'<tr><td class="mono">{_e(j.get("id"))}</td><td class="nowrap">{_e(j.get("name"))}</td>'
                   f'<td><span class="badge {state.get(str(j.get("state")), "warn")}">{_e(j.get("state"))}</span></td>'
                   f'<td>{_e(j.get("time"))}</td><td>{_e(j.get("partition"))}</td></tr>' for j in jobs[:MAX_ROWS])
    table = (f"<table><tr><th>Job</th><th>Name</th><th>State</th><th>Time</th><th>Partition</th></tr>{rows}</table>"
             if jobs else '<p class="empty">No jobs.</p>')
    return (f'<section id="slurm"><h2>SLURM: <span id="slurm-running">{int(slurm.get("running", 0))}</span> running, '
            f'<span id="slurm-queued">{int(slurm.get("queued", 0))}</span> queued</h2>{table}</section>')


def _disks(disks: list[dict]) -> str:
    rows = []
    for d in disks:
        fraction = float(d.get("used_fraction", 0))
        warning = _disk_warning(d)
        free = f"{float(d['free_gb']):.1f} GB free" if d.get("free_gb") is not None else ""
        rows.append(f'<div class="disk{" warning" if warning else ""}" data-path="{_e(d.get("path"))}" '
                    f'data-used-fraction="{fraction!r}" data-warning="{str(warning).lower()}">'
                    f'<div class="top"><span><b>{_e(d.get("label", ""))}</b> <code>{_e(d.get("path"))}</code></span>'
                    f'<b>{fraction:.0%}</b></div>'
                    f'<div class="bar"><div class="fill" style="width:{min(max(fraction, 0), 1) * 100:.1f}%">'
                    f'</div></div><div class="sub">{_e(free)}{" · <strong>over threshold</strong>" if warning else ""}'
                    f"</div></div>")
    body = "".join(rows) or '<p class="empty">No disk figures.</p>'
    return f'<section id="disk"><h2>Disk use</h2>{body}</section>'


def _mjd_time(mjd: float) -> datetime:
    return MJD_EPOCH + timedelta(days=mjd)


def _calibration(sets: list[dict], now: datetime) -> str:
    """The calibration registry as an SVG timeline: one bar per set over its validity window."""
    if not sets:
        return '<section id="calibration"><h2>Calibration sets</h2><p class="empty">No calibration sets.</p></section>'
    shown = sorted(sets, key=lambda s: s.get("transit_mjd", s.get("valid_from_mjd", 0)))[-MAX_CAL_SETS:]
    t0 = min(s.get("valid_from_mjd", s.get("transit_mjd", 0)) for s in shown)
    t1 = max(s.get("valid_to_mjd", s.get("transit_mjd", 0)) for s in shown)
    pad = max((t1 - t0) * 0.03, 1 / 24)
    t0, t1 = t0 - pad, t1 + pad
    width, left, right, row, top = 1180, 250, 16, 26, 8

    def x(mjd: float) -> float:
        return left + (mjd - t0) / (t1 - t0) * (width - left - right)

    height = top + row * len(shown) + 40
    colours = {"passed": "#1a7f37", "failed": "#b42318"}
    parts = []
    step = next((h for h in (1, 2, 3, 6, 12, 24, 48, 96, 168, 336) if (t1 - t0) * 24 / h <= 9), 720) / 24
    tick, last_day = math.ceil(t0 / step) * step, None
    while tick <= t1:
        t = _mjd_time(tick)
        label = t.strftime("%H:%M") if t.date() == last_day else t.strftime("%Y-%m-%d %H:%M")
        last_day = t.date()
        parts.append(f'<line x1="{x(tick):.1f}" x2="{x(tick):.1f}" y1="{top - 4}" y2="{height - 30}" stroke="#eceff3"/>'
                     f'<text class="axis" x="{x(tick):.1f}" y="{height - 16}" text-anchor="middle">{_e(label)}</text>')
        tick += step
    for i, s in enumerate(shown):
        y = top + i * row
        status = str(s.get("status", "not solved"))
        colour = colours.get(status, "#8a94a6")
        lo, hi = s.get("valid_from_mjd", s.get("transit_mjd", t0)), s.get("valid_to_mjd", s.get("transit_mjd", t1))
        tip = (f"{s.get('set_id')} {s.get('calibrator', '')}: {status}; valid {_mjd_time(lo):%Y-%m-%d %H:%M} to "
               f"{_mjd_time(hi):%Y-%m-%d %H:%M} UTC" + "".join(f"; {r}" for r in s.get("reasons") or []))
        parts.append(f'<text x="{left - 10}" y="{y + 16}" text-anchor="end">{_e(s.get("set_id"))} '
                     f'<tspan font-weight="600">{_e(s.get("calibrator", ""))}</tspan></text>'
                     f'<rect class="cal-bar" data-set-id="{_e(s.get("set_id"))}" data-status="{_e(status)}" '
                     f'x="{x(lo):.1f}" y="{y + 4}" width="{max(x(hi) - x(lo), 2):.1f}" height="{row - 8}" rx="3" '
                     f'fill="{colour}" fill-opacity="0.8"><title>{_e(tip)}</title></rect>')
        if s.get("transit_mjd") is not None:
            xt = x(s["transit_mjd"])
            parts.append(f'<path class="transit" d="M{xt:.1f} {y + 1} l5 {row / 2 - 1} l-5 {row / 2 - 1} '
                         f'l-5 {-(row / 2 - 1)} z" fill="#fff" stroke="#1d232b" stroke-width="1.5"/>')
    now_mjd = (now - MJD_EPOCH).total_seconds() / 86400
    if t0 <= now_mjd <= t1:
        parts.append(f'<line x1="{x(now_mjd):.1f}" x2="{x(now_mjd):.1f}" y1="0" y2="{height - 30}" stroke="#2563eb" '
                     f'stroke-dasharray="4 3"/><text x="{x(now_mjd) + 4:.1f}" y="10" fill="#2563eb">now</text>')
    parts.append(f'<text class="axis" x="{left - 10}" y="{height - 16}" text-anchor="end">UTC</text>')
    hidden = f'<p class="more">{len(sets) - len(shown)} older sets not shown</p>' if len(sets) > len(shown) else ""
    notes = "".join(f'<li><code>{_e(s.get("set_id"))}</code> {_e(s.get("calibrator", ""))} '
                    f'{_e(s.get("status", "not solved"))}: {_e("; ".join(map(str, s["reasons"])))}</li>'
                    for s in reversed(shown) if s.get("reasons"))
    notes = f'<ul class="cal-notes">{notes}</ul>' if notes else ""
    legend = ('<div class="legend"><span><i style="background:#1a7f37"></i>passed</span><span><i style="background:'
              '#b42318"></i>failed</span><span><i style="background:#8a94a6"></i>not solved</span><span>◇ transit'
              "</span><span>bar: validity window</span></div>")
    return (f'<section id="calibration"><h2>Calibration sets <span class="n">{len(sets)}</span></h2>'
            f'<svg id="cal-timeline" viewBox="0 0 {width} {height}" width="100%" role="img" '
            f'aria-label="calibration validity timeline">{"".join(parts)}</svg>{legend}{notes}{hidden}</section>')


def _data_uri(path) -> str | None:
    """The quick-look as a data URI (scaled down when large); None when it cannot be read."""
    if not path:
        return None
    path = Path(path)
    try:
        data = path.read_bytes()
        mime = "image/jpeg" if path.suffix.lower() in (".jpg", ".jpeg") else "image/png"
        if len(data) > EMBED_LIMIT:
            from matplotlib import image as mpimg

            pixels = mpimg.imread(path)
            stride = max(1, math.ceil(pixels.shape[1] / THUMB_WIDTH))
            while len(data) > EMBED_LIMIT:
                buffer = io.BytesIO()
                mpimg.imsave(buffer, pixels[::stride, ::stride], format="png")
                data, mime, stride = buffer.getvalue(), "image/png", stride + 1
    except (OSError, ValueError, SyntaxError):
        return None
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def _figure(kind: str, ident, quicklook, caption: str, attrs: str) -> str:
    uri = _data_uri(quicklook)
    img = (f'<img src="{uri}" alt="{_e(kind)} {_e(ident)} quick-look">' if uri else
           f'<div class="missing">quick-look missing<br>{_e(quicklook or "(none recorded)")}</div>')
    return f'<figure class="{kind}" {attrs}>{img}<figcaption><div class="id mono">{_e(ident)}</div>{caption}' \
           f"</figcaption></figure>"


def _quicklooks(status: dict) -> str:
    figures = []
    for im in status.get("recent_images") or []:
        passed = im.get("passed")
        badge = '<span class="badge ok">QA PASS</span>' if passed else '<span class="badge bad">QA FAIL</span>'
        rms = f"rms {float(im['rms_jy']) * 1e3:.2f} mJy/beam " if im.get("rms_jy") is not None else ""
        why = "".join(f'<div class="why">{_e(r)}</div>' for r in im.get("reasons") or [])
        figures.append(_figure("image", im.get("group_id"), im.get("quicklook"), f"image · {rms}{badge}{why}",
                               f'data-group-id="{_e(im.get("group_id"))}" data-rms-jy="{_e(im.get("rms_jy"))}" '
                               f'data-passed="{str(bool(passed)).lower()}"'))
    for mo in status.get("recent_mosaics") or []:
        noise = mo.get("noise_median_jy")
        text = (f"mosaic · {_e(mo.get('n_tiles', '?'))} tiles"
                + (f" · noise {float(noise) * 1e3:.2f} mJy/beam" if noise is not None else ""))
        figures.append(_figure("mosaic", mo.get("window_id"), mo.get("quicklook"), text,
                               f'data-window-id="{_e(mo.get("window_id"))}" data-noise-median-jy="{_e(noise)}" '
                               f'data-n-tiles="{_e(mo.get("n_tiles"))}"'))
    body = f'<div class="thumbs">{"".join(figures)}</div>' if figures else '<p class="empty">No recent products.</p>'
    return f'<section id="quicklooks"><h2>Recent images and mosaics</h2>{body}</section>'
