from dsa110_continuum.records import job_step, write_json_atomic

with job_step(snakemake) as log:
    for window in snakemake.params.windows:
        log.info("window %s: %d observations, %s", window["window_id"], len(window["members"]),
                 window["waiting"] or "ready")
    write_json_atomic(snakemake.output[0], {"day": snakemake.wildcards.day, "windows": snakemake.params.windows})
