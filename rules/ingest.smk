checkpoint plan_day:
    """Which observations a day holds and what to do with each now (process, wait for late files, skip)."""
    output:
        PATHS.plan("{day}"),
    params:
        plan=lambda wildcards: current_plan(wildcards.day),
    log:
        log_for("plan_day", "{day}"),
    localrule: True
    conda:
        "../envs/pipeline.yaml"
    script:
        "../scripts/plan_day.py"


rule index_group:
    """Record one observation's members, pointing declination, times, calibrator transit and what was decided."""
    input:
        files=group_files,
        calibrators=PATHS.calibrator_catalogue(),
    output:
        PATHS.group_record("{group}"),
    params:
        action=lambda wildcards: planned(wildcards)["action"],
        reason=lambda wildcards: planned(wildcards)["reason"],
        n_subbands=config["ingest"]["n_subbands"],
        dec_tolerance_deg=CALIBRATION["dec_tolerance_deg"],
    log:
        log_for("index_group"),
    threads: threads_for("index_group")
    resources:
        mem_mb=scaled("index_group", "mem_mb"),
        runtime=scaled("index_group", "runtime_min"),
    conda:
        "../envs/pipeline.yaml"
    script:
        "../scripts/index_group.py"


checkpoint day_index:
    """One CSV row per decided observation of a day: the index operators and later stages read."""
    input:
        lambda wildcards: [PATHS.group_record(group) for group, entry in current_plan(wildcards.day).items()
                           if entry["action"] != "wait"],
    output:
        PATHS.day_index("{day}"),
    log:
        log_for("day_index", "{day}"),
    localrule: True
    conda:
        "../envs/pipeline.yaml"
    script:
        "../scripts/day_index.py"


rule day_status:
    """Whether everything a day can produce exists (a closed day is left out of later runs), and what it waits for."""
    input:
        lambda wildcards: day_targets(wildcards.day),
    output:
        PATHS.day_status("{day}"),
    params:
        state=lambda wildcards: day_state(wildcards.day),
    log:
        log_for("day_status", "{day}"),
    localrule: True
    conda:
        "../envs/pipeline.yaml"
    script:
        "../scripts/day_status.py"
