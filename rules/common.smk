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
from dsa110_continuum.naming import DAY_PATTERN, GROUP_ID_PATTERN, Products, day_of
from dsa110_continuum.records import failure_reason, read_json

PATHS = Products(config["output_dir"])
CALIBRATION = config["calibration"]
NOW = datetime.now(timezone.utc)


wildcard_constraints:
    group=GROUP_ID_PATTERN,
    day=DAY_PATTERN,


def config_path(path):
    """A path from the config: relative to the working directory, or else to the workflow directory."""
    if path is None or os.path.exists(path):
        return path
    beside_workflow = os.path.join(workflow.basedir, path)
    return beside_workflow if os.path.exists(beside_workflow) else path


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


def extraction_failure(group):
    """Why extracting a calibrator observation failed (its raw files are unusable), or None."""
    return failure_reason(PATHS.failure("extract_calibrator", group))


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


def day_targets(day):
    """Everything a day's observations should have produced by now."""
    targets = [PATHS.day_index(day), PATHS.registry(day)]
    if config["convert"]["keep_ms"]:
        targets += [PATHS.ms_record(group) for group in groups_with(day, "process")]
    assigned = calibration_registry(day)["assignments"]
    return targets + [PATHS.calibrated_record(group) for group, cal_set in assigned.items() if cal_set]


def final_targets(wildcards):
    return [target for day in incoming().days() for target in day_targets(day)]
