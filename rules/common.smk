import os

from snakemake.exceptions import WorkflowError
from snakemake.logging import logger

from dsa110_continuum import ingest

OUT = config["output_dir"]
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


def final_targets():
    return [
        f"{OUT}/group_index.csv",
        *expand(f"{OUT}/ms/{{group}}.json", group=TO_PROCESS),
    ]
