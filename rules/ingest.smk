rule index_group:
    """Record one observation's members, pointing declination, times, calibrator transit and what was decided."""
    input:
        files=group_files,
        catalogue=[p for p in (CALIBRATION["catalogue"], CALIBRATION["fallback_catalogue"]) if p],
    output:
        f"{OUT}/groups/{{group}}.json",
    params:
        action=lambda wildcards: decision(wildcards).action,
        reason=lambda wildcards: decision(wildcards).reason,
        calibration=CALIBRATION,
        n_subbands=config["ingest"]["n_subbands"],
    log:
        f"{LOGS}/index_group/{{group}}.log",
    threads: threads_for("index_group")
    resources:
        mem_mb=scaled("index_group", "mem_mb"),
        runtime=scaled("index_group", "runtime_min"),
    conda:
        "../envs/pipeline.yaml"
    script:
        "../scripts/index_group.py"


checkpoint group_index:
    """One CSV row per observation seen: the index other stages and operators read."""
    input:
        expand(f"{OUT}/groups/{{group}}.json", group=DECIDED),
    output:
        f"{OUT}/group_index.csv",
    log:
        f"{LOGS}/group_index.log",
    localrule: True
    conda:
        "../envs/pipeline.yaml"
    script:
        "../scripts/group_index.py"
