import os

from snakemake.exceptions import WorkflowError
from snakemake.logging import logger

from dsa110_continuum import ingest
from dsa110_continuum.records import read_json
from dsa110_continuum.registry import load_catalogue

OUT = config["output_dir"]
CALIBRATION = config["calibration"]


def resolve_config_path(path):
    """A config path relative to the working directory, or else to the workflow directory."""
    if path is None or os.path.exists(path):
        return path
    beside_workflow = os.path.join(workflow.basedir, path)
    return beside_workflow if os.path.exists(beside_workflow) else path


for key in ("catalogue", "fallback_catalogue"):
    CALIBRATION[key] = resolve_config_path(CALIBRATION[key])
try:  # a broken catalogue stops the run at start, before any job: nothing is lost, the message says what to fix
    load_catalogue(CALIBRATION)
except ValueError as err:
    raise WorkflowError(f"calibrator catalogue: {err}") from None
LOGS = f"{OUT}/logs"
GROUP_RE = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}"


wildcard_constraints:
    group=GROUP_RE,


def plan_observations():
    """Group the incoming files and decide, per observation, to process, wait or skip."""
    incoming = config["incoming_dir"]
    if not os.path.isdir(incoming):
        raise WorkflowError(f"incoming_dir '{incoming}' does not exist (set it in config/config.yaml or --config)")
    settings = config["ingest"]
    plan = ingest.plan_groups(
        incoming,
        tolerance_s=settings["group_tolerance_s"],
        n_subbands=settings["n_subbands"],
        min_subbands=settings["min_subbands"],
        settle_time_s=settings["settle_time_s"],
        min_file_age_s=settings["min_file_age_s"],
    )
    for group_id, (_, decision) in plan.items():
        if decision.action == "wait":
            logger.info(f"observation {group_id} waits: {decision.reason}")
    return plan


PLAN = plan_observations()
DECIDED = sorted(g for g, (_, d) in PLAN.items() if d.action != "wait")
TO_PROCESS = sorted(g for g, (_, d) in PLAN.items() if d.action == "process")


def group_files(wildcards):
    """The raw files of one observation."""
    if wildcards.group not in PLAN:
        raise WorkflowError(f"no observation {wildcards.group} among the files in {config['incoming_dir']}")
    return [f.path for f in PLAN[wildcards.group][0].files]


def decision(wildcards):
    return PLAN[wildcards.group][1]


def scaled(rule_name, key):
    """A resource from the config, multiplied by the attempt number."""
    base = config["resources"][rule_name][key]
    return lambda wildcards, attempt: base * attempt


def threads_for(rule_name):
    return config["resources"][rule_name].get("threads", 1)


def group_records():
    """All decided observations' index records (after the group_index checkpoint)."""
    checkpoints.group_index.get()
    return [read_json(f"{OUT}/groups/{group}.json") for group in DECIDED]


def calibrator_groups():
    """Calibrator observations that can be solved: a transit inside and raw files that pass the checks.

    One whose files are broken (found by the index, or by a failed extraction) counts as a failed set,
    so it never holds up the others.
    """
    return [r["group_id"] for r in group_records() if r["action"] == "process" and r["calibrator"]
            and not r["problem"] and not os.path.exists(f"{OUT}/failures/extract_calibrator/{r['group_id']}.json")]


def calibration_assignments():
    """Which calibration set (calibrator observation) serves each observation, or None (after the registry)."""
    return read_json(checkpoints.calibration_registry.get().output[0])["assignments"]


def chosen_set_files(wildcards):
    """The QA record and tables of the calibration set serving an observation."""
    group = calibration_assignments().get(wildcards.group)
    if group is None:
        raise WorkflowError(f"observation {wildcards.group} has no valid calibration set yet")
    return {"qa": f"{OUT}/calibration/{group}/qa.json", "tables": f"{OUT}/calibration/{group}/tables"}


def final_targets(wildcards):
    targets = [f"{OUT}/group_index.csv", f"{OUT}/calibration/registry.json"]
    if config["convert"]["keep_ms"]:
        targets += expand(f"{OUT}/ms/{{group}}.json", group=TO_PROCESS)
    assigned = [group for group, cal_set in calibration_assignments().items() if cal_set]
    return targets + expand(f"{OUT}/calibrated/{{group}}.json", group=assigned)
