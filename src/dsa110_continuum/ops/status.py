"""The operator's view: observations per stage, what waits and why, failures, calibration sets, SLURM jobs,
the last cron run and disk use; as JSON, a Prometheus textfile and a self-contained HTML page.

Everything is read from the files the workflow writes, so it is right whether or not a run is going on.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from ..ingest.index import read_day_index
from ..naming import Products
from ..records import read_json, utc_now_iso
from .cron import last_run

STAGES = ("seen", "converted", "calibrated", "imaged", "in_mosaic", "skipped", "failed", "waiting")
RECENT = 12


def _json_files(directory: str) -> list[str]:
    return sorted(str(p) for p in Path(directory).glob("*.json")) if os.path.isdir(directory) else []


def slurm_jobs() -> dict:
    """This user's SLURM jobs (squeue), or available: False where SLURM is absent or unreachable."""
    if not shutil.which("squeue"):
        return {"available": False}
    try:
        out = subprocess.run(["squeue", "--noheader", "--user", str(os.getuid()), "--format", "%i|%j|%T|%M|%P"],
                             capture_output=True, text=True, timeout=10)
    except subprocess.TimeoutExpired:
        return {"available": False}
    if out.returncode != 0:
        return {"available": False}
    jobs = [dict(zip(("id", "name", "state", "time", "partition"), line.split("|"))) for line in out.stdout.splitlines()]
    return {"available": True, "running": sum(j["state"] == "RUNNING" for j in jobs),
            "queued": sum(j["state"] == "PENDING" for j in jobs), "jobs": jobs}


def disk_use(areas: dict[str, str], *, warn_used_fraction: float, warn_free_gb: float) -> list[dict]:
    rows = []
    for label, path in areas.items():
        usage = shutil.disk_usage(path if os.path.exists(path) else os.path.dirname(os.path.abspath(path)) or "/")
        used, free_gb = usage.used / usage.total, usage.free / 1e9
        rows.append({"label": label, "path": path, "used_fraction": used, "free_gb": free_gb,
                     "free_bytes": usage.free, "warning": used > warn_used_fraction or free_gb < warn_free_gb})
    return rows


def collect(config: dict) -> dict:
    """The status of everything under the configured output directory."""
    paths = Products(config["output_dir"])
    plans = {Path(p).stem: read_json(p) for p in _json_files(os.path.join(paths.root, "plan"))}
    rows = {row["group_id"]: row for day in paths.indexed_days() for row in read_day_index(paths.day_index(day))}
    registries = [read_json(p) for p in _json_files(os.path.join(paths.root, "calibration", "registry"))]
    failures = [{"step": step, "id": item, **read_json(path), "log": paths.absolute(read_json(path)["log"])}
                for (step, item), path in paths.failures().items()]
    failed = {f["id"] for f in failures}
    mosaic_qa = [read_json(p) for p in sorted(Path(paths.root).glob("mosaics/*/qa.json"))]
    in_mosaic = {g for qa in mosaic_qa for g in qa["used"]}
    groups = sorted(g for plan in plans.values() for g in plan)
    image_qa = {g: read_json(paths.image_qa(g)) for g in groups if os.path.exists(paths.image_qa(g))}
    waiting = [{"group_id": g, "stage": "ingest", "reason": entry["reason"]}
               for plan in plans.values() for g, entry in plan.items() if entry["action"] == "wait"]
    waiting += [{"group_id": g, "stage": "calibration", "reason": reason}
                for registry in registries for g, reason in registry["awaiting_reasons"].items() if g not in failed]
    stages = {
        "seen": len(groups),
        "converted": sum(os.path.exists(paths.ms_record(g)) or os.path.exists(paths.calibrated_record(g))
                         for g in groups),
        "calibrated": sum(os.path.exists(paths.calibrated_record(g)) for g in groups),
        "imaged": sum(qa["passed"] for qa in image_qa.values()),
        "in_mosaic": len(in_mosaic),
        "skipped": sum(row["action"] == "skip" for row in rows.values()),
        "failed": len(failed),
        "waiting": len(waiting),
    }
    settings = config["status"]
    return {
        "generated_at": utc_now_iso(), "output_dir": config["output_dir"], "incoming_dir": config["incoming_dir"],
        "stages": stages, "waiting": waiting, "failures": sorted(failures, key=lambda f: f["failed_at"], reverse=True),
        "calibration_sets": sorted({s["set_id"]: s for r in registries for s in r["sets"]}.values(),
                                   key=lambda s: s["transit_mjd"]),
        "recent_images": [{"group_id": g, "quicklook": paths.image_quicklook(g), "rms_jy": qa["rms_jy"],
                           "passed": qa["passed"], "reasons": qa["reasons"]} for g, qa in sorted(image_qa.items())[-RECENT:]],
        "recent_mosaics": [{"window_id": qa["window_id"], "quicklook": paths.mosaic_quicklook(qa["window_id"]),
                            "noise_median_jy": qa["noise_median_jy"], "n_tiles": qa["n_tiles"]}
                           for qa in sorted(mosaic_qa, key=lambda q: q["window_id"])[-RECENT:]],
        "slurm": slurm_jobs(),
        "last_run": last_run(config["output_dir"]),
        "disk": disk_use({"incoming": config["incoming_dir"], "output": config["output_dir"]},
                         warn_used_fraction=settings["disk_warning_used_fraction"],
                         warn_free_gb=settings["disk_warning_free_gb"]),
    }


def write_metrics(status: dict, path: str) -> None:
    """The status as a Prometheus textfile (for node_exporter's textfile collector), written atomically."""
    from prometheus_client import CollectorRegistry, Gauge, write_to_textfile

    registry = CollectorRegistry()
    stages = Gauge("dsa110_observations", "Observations per pipeline stage.", ["stage"], registry=registry)
    for stage, count in status["stages"].items():
        stages.labels(stage).set(count)
    failures = Gauge("dsa110_failures", "Failure records (bad input, not retried) per step.", ["step"],
                     registry=registry)
    for step in sorted({f["step"] for f in status["failures"]}):
        failures.labels(step).set(sum(f["step"] == step for f in status["failures"]))
    run = status["last_run"] or {}
    if run.get("started_at"):
        from datetime import datetime

        start = datetime.fromisoformat(run["started_at"].replace("Z", "+00:00"))
        Gauge("dsa110_last_run_start_timestamp_seconds", "When the last cron run started (Unix time).",
              registry=registry).set(start.timestamp())
        Gauge("dsa110_last_run_success", "1 if the last finished cron run succeeded, else 0.",
              registry=registry).set(1 if run.get("outcome") == "ok" else 0)
        if run.get("finished_at"):
            end = datetime.fromisoformat(run["finished_at"].replace("Z", "+00:00"))
            Gauge("dsa110_last_run_duration_seconds", "How long the last cron run took.",
                  registry=registry).set((end - start).total_seconds())
    used = Gauge("dsa110_disk_used_ratio", "Used fraction of the filesystem holding each area.", ["area"],
                 registry=registry)
    free = Gauge("dsa110_disk_free_bytes", "Free space on the filesystem holding each area.", ["area"],
                 registry=registry)
    for row in status["disk"]:
        used.labels(row["label"]).set(row["used_fraction"])
        free.labels(row["label"]).set(row["free_bytes"])
    if status["slurm"].get("available"):
        jobs = Gauge("dsa110_slurm_jobs", "This user's SLURM jobs per state.", ["state"], registry=registry)
        jobs.labels("running").set(status["slurm"]["running"])
        jobs.labels("pending").set(status["slurm"]["queued"])
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    write_to_textfile(path, registry)


def format_text(status: dict) -> str:
    """The status for a terminal."""
    lines = [f"DSA-110 continuum pipeline: {status['output_dir']} ({status['generated_at']})", "",
             "  ".join(f"{stage} {count}" for stage, count in status["stages"].items())]
    run = status["last_run"]
    lines.append(f"last run: {run['outcome']} (started {run['started_at']}, log {run['log']})" if run
                 else "last run: none recorded")
    if status["slurm"].get("available"):
        lines.append(f"SLURM: {status['slurm']['running']} running, {status['slurm']['queued']} queued")
    for row in status["disk"]:
        lines.append(f"disk {row['label']:<9} {row['used_fraction']:6.1%} used, {row['free_gb']:.0f} GB free"
                     f"{'  WARNING' if row['warning'] else ''}  ({row['path']})")
    if status["failures"]:
        lines += ["", f"Failures ({len(status['failures'])}):"]
        lines += [f"  {f['step']:<18} {f['id']}  {f['reason']}  (log: {f['log']})" for f in status["failures"]]
    if status["waiting"]:
        lines += ["", f"Waiting ({len(status['waiting'])}):"]
        lines += [f"  {w['group_id']}  {w['stage']}: {w['reason']}" for w in status["waiting"]]
    return "\n".join(lines)
