# Helpers shared by the rules. Nothing here reads the incoming data at parse time: the incoming directory is
# listed on first use (by rule all's targets, on the submitting node), and each day's plan is frozen into
# a checkpoint file that every other job reads.
#
# Three checkpoints make the DAG a deterministic function of the files: a day's plan (which observations
# exist, what to do with each), a day's index (pointing, times, calibrator transits, from the headers) and
# each calibrator's solve (whether its set passed QA). A checkpoint's own inputs never come from another
# checkpoint (Snakemake 9 decides whether such a checkpoint must rerun before it knows its real inputs, and
# would keep a stale one), so the day index takes its inputs from the same in-memory plan its plan
# checkpoint writes.
import os
from datetime import datetime, timedelta, timezone
from functools import cache

from snakemake.exceptions import WorkflowError

from dsa110_continuum.calibrate.registry import day_registry
from dsa110_continuum.ingest.index import read_day_index
from dsa110_continuum.ingest.scan import list_incoming, plan_day
from dsa110_continuum.mosaic.windows import day_windows
from dsa110_continuum.products.db import database_url, day_signatures
from dsa110_continuum.naming import DAY_PATTERN, GROUP_ID_PATTERN, Products, day_of, timestamp_mjd
from dsa110_continuum.records import failed_permanently, failure_reason, read_json

PATHS = Products(config["output_dir"])
CALIBRATION = config["calibration"]
DATABASE_URL = database_url(config)
NOW = datetime.now(timezone.utc)


wildcard_constraints:
    group=GROUP_ID_PATTERN,
    window=GROUP_ID_PATTERN,
    day=DAY_PATTERN,


def config_path(path):
    """A path from the config: relative to the working directory, or else to the workflow directory."""
    if path is None or os.path.exists(path):
        return path
    beside_workflow = os.path.join(workflow.basedir, path)
    return beside_workflow if os.path.exists(beside_workflow) else path


#: The reference catalogue (science.reference_catalogue) as a list of input files: itself, or none configured.
REFERENCE = [config_path(config["science"]["reference_catalogue"])] if config["science"]["reference_catalogue"] else []


def log_for(rule_name, name="{group}"):
    return PATHS.log(rule_name, name)


def scaled(rule_name, key):
    """A resource from the config, multiplied by the attempt number."""
    base = config["resources"][rule_name][key]
    return lambda wildcards, attempt: base * attempt


def threads_for(rule_name):
    return config["resources"][rule_name]["threads"]


@cache
def incoming():
    """The incoming directory's subband files, by name only; listed once per run."""
    directory = config["incoming_dir"]
    if not os.path.isdir(directory):
        raise WorkflowError(f"incoming_dir '{directory}' does not exist (set it in config/config.yaml or --config)")
    return list_incoming(directory)


@cache
def current_plan(day):
    """What to do now with each observation of a day: the content of its plan checkpoint."""
    settings = config["ingest"]
    return plan_day(incoming(), day, tolerance_s=settings["group_tolerance_s"], n_subbands=settings["n_subbands"],
                    min_subbands=settings["min_subbands"], settle_time_s=settings["settle_time_s"],
                    min_file_age_s=settings["min_file_age_s"], now=NOW)


@cache
def _read_version(reader, path, mtime_ns):
    return reader(path)


def read_checkpoint(reader, path):
    """A checkpoint's output, parsed once per version (input functions ask for it once per job)."""
    return _read_version(reader, path, os.stat(path).st_mtime_ns)


def plan(day):
    """A day's frozen plan (after its checkpoint)."""
    return read_checkpoint(read_json, checkpoints.plan_day.get(day=day).output[0])


def planned(wildcards):
    """The plan entry of one observation."""
    entry = plan(day_of(wildcards.group)).get(wildcards.group)
    if entry is None:
        raise WorkflowError(f"no observation {wildcards.group} among the files in {config['incoming_dir']}")
    return entry


def group_files(wildcards):
    return planned(wildcards)["files"]


def groups_with(day, *actions):
    return sorted(group for group, entry in plan(day).items() if entry["action"] in actions)


def index_rows(day):
    """A day's index rows (after its checkpoint)."""
    return read_checkpoint(read_day_index, checkpoints.day_index.get(day=day).output[0])


def days_around(day):
    """The day and its neighbours that have files: calibration sets serve observations up to 24 h away."""
    present = set(incoming().days())
    centre = datetime.strptime(day, "%Y-%m-%d")
    around = [(centre + timedelta(days=k)).strftime("%Y-%m-%d") for k in (-1, 0, 1)]
    return [d for d in around if d in present]


def failed(step, item, inputs=()):
    """Whether a step failed on bad input for this observation (or window) since its inputs last changed.

    Such a failure is not retried: the failure record says why, and deleting it (or new inputs) retries it.
    """
    return failed_permanently(PATHS.failure(step, item), inputs)


def extraction_failure(group):
    """Why extracting a calibrator observation failed on bad input (its raw files are unusable), or None; a
    failure of the machine (a full disk) is retried."""
    return failure_reason(PATHS.failure("extract_calibrator", group)) if failed("extract_calibrator", group) else None


def solvable_calibrators(day):
    return [row["group_id"] for row in index_rows(day) if row["action"] == "process" and row["calibrator"]
            and not row["problem"] and not extraction_failure(row["group_id"])]


@cache
def calibration_registry(day):
    """The calibration sets around a day and the one each of its observations uses (after their solves)."""
    return day_registry(day, [row for d in days_around(day) for row in index_rows(d)],
                        qa_for=lambda group: read_json(checkpoints.solve_calibration.get(group=group).output.qa),
                        extraction_failure_for=extraction_failure, validity_hours=CALIBRATION["validity_hours"])


def chosen_set_tables(wildcards):
    """The tables and QA record of the calibration set serving an observation."""
    cal_set = calibration_registry(day_of(wildcards.group))["assignments"].get(wildcards.group)
    if cal_set is None:
        raise WorkflowError(f"observation {wildcards.group} has no valid calibration set yet")
    return {"bandpass": PATHS.bandpass_table(cal_set), "gains": PATHS.gain_table(cal_set),
            "qa": PATHS.solve_qa(cal_set)}


def imaged_groups(day):
    """Observations of a day that have (or will have, in this run) calibrated MSs and images."""
    assigned = calibration_registry(day)["assignments"]
    return [group for group, cal_set in sorted(assigned.items()) if cal_set
            and not failed("apply", group, plan(day_of(group))[group]["files"])
            and not failed("image", group, [PATHS.calibrated_record(group)])]


def data_end_mjd():
    """When the latest observation in the incoming directory started (MJD)."""
    latest = incoming().latest()
    return timestamp_mjd(latest) if latest else 0.0


def never_calibrated(day):
    """Observations of a day no calibration set can serve any more: the data have moved past their window."""
    rows = {row["group_id"]: row for row in index_rows(day)}
    horizon_d = CALIBRATION["validity_hours"] / 24
    return {g for g, cal_set in calibration_registry(day)["assignments"].items()
            if cal_set is None and rows[g]["mid_mjd"] + horizon_d < data_end_mjd()}


@cache
def mosaic_windows(day):
    """The mosaic windows that begin on a day, each with the observations it can use, or why it waits."""
    days = [d for d in days_around(day) if d >= day]
    rows = [row for d in days for row in index_rows(d)]
    imaged = {g for d in days for g in imaged_groups(d)}
    awaiting = {g for d in days for g, cal_set in calibration_registry(d)["assignments"].items()
                if cal_set is None and g not in never_calibrated(d)}
    settings = config["mosaic"]
    windows = []
    for window in day_windows(day, rows, size=settings["window_size"], overlap=settings["window_overlap"],
                              max_gap_s=settings["max_gap_s"], dec_tolerance_deg=settings["dec_tolerance_deg"]):
        waiting = [g for g in window.members if g in awaiting]
        reason = ("waits for later observations" if not window.complete
                  else f"waits for calibration of {', '.join(waiting)}" if waiting else None)
        windows.append({"window_id": window.window_id, "members": list(window.members), "dec_deg": window.dec_deg,
                        "imaged": [g for g in window.members if g in imaged], "waiting": reason})
    return windows


def window(wildcards):
    """A mosaic window by its id (its first observation)."""
    found = [w for w in mosaic_windows(day_of(wildcards.window)) if w["window_id"] == wildcards.window]
    if not found:
        raise WorkflowError(f"no mosaic window begins with observation {wildcards.window}")
    return found[0]


def ready_windows(day):
    return [w["window_id"] for w in mosaic_windows(day) if w["waiting"] is None and w["imaged"]
            and not failed("mosaic", w["window_id"], [PATHS.image_qa(g) for g in w["imaged"]])]


def day_targets(day):
    """Everything a day's observations should have produced by now."""
    targets = [PATHS.plan(day), PATHS.day_index(day), PATHS.registry(day), PATHS.mosaic_plan(day)]
    if config["convert"]["keep_ms"]:
        targets += [PATHS.ms_record(group) for group in groups_with(day, "process")
                    if not failed("convert", group, plan(day)[group]["files"])]
    for group in imaged_groups(day):
        targets += [PATHS.image_qa(group)]
        if not failed("measure_image", group, [PATHS.image_qa(group)]):
            targets += [PATHS.sources("image", group), PATHS.photometry(group)]
    for window_id in ready_windows(day):
        targets += [PATHS.mosaic_qa(window_id)]
        if not failed("measure_mosaic", window_id, [PATHS.mosaic_qa(window_id)]):
            targets += [PATHS.sources("mosaic", window_id)]
    return targets


def day_state(day):
    """What a day still waits for, from the files alone; a day waiting for nothing is closed."""
    waiting = [f"{group}: {entry['reason']}" for group, entry in plan(day).items() if entry["action"] == "wait"]
    given_up = never_calibrated(day)
    waiting += [f"{group}: {reason}" for group, reason in calibration_registry(day)["awaiting_reasons"].items()
                if group not in given_up]
    waiting += [f"mosaic {w['window_id']}: {w['waiting']}" for w in mosaic_windows(day) if w["waiting"]]
    waiting += [f"{PATHS.relative(target)} is not made yet" for target in day_targets(day) if not os.path.exists(target)]
    return {"day": day, "n_raw_files": incoming().files_per_day()[day], "closed": not waiting,
            "n_waiting": len(waiting), "waiting": waiting[:50], "never_calibrated": sorted(given_up)}


def open_days():
    """Days that can still change: a closed day stays closed until files are added to it or removed."""
    days = []
    for day, n_files in sorted(incoming().files_per_day().items()):
        marker = PATHS.day_status(day)
        state = read_json(marker) if os.path.exists(marker) else {}
        if not (state.get("closed") and state.get("n_raw_files") == n_files):
            days.append(day)
    return days


def final_targets(wildcards):
    days = open_days()
    for day in days:
        plan(day)  # day_status's params read the plan: resolve the checkpoint here, where the DAG is first built
    return [target for day in days for target in [*day_targets(day), PATHS.day_status(day)]] + [
        PATHS.database_synced()]
