from dsa110_continuum.records import job_step, write_json_atomic

with job_step(snakemake) as log:
    plan = snakemake.params.plan
    for group, entry in plan.items():
        log.info("observation %s: %s (%s)", group, entry["action"], entry["reason"])
    write_json_atomic(snakemake.output[0], plan)
