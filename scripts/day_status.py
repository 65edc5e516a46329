from dsa110_continuum.records import job_step, write_json_atomic

with job_step(snakemake) as log:
    state = snakemake.params.state
    log.info("day %s: %s", state["day"], "closed" if state["closed"] else f"{state['n_waiting']} things still wait")
    write_json_atomic(snakemake.output[0], state)
