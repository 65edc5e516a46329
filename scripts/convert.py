from dsa110_continuum.convert.stream import convert_observation
from dsa110_continuum.records import job_step, write_json_atomic

group = snakemake.wildcards.group
with job_step(snakemake, failure_step="convert") as log:
    log.info("converting %s: %d files", group, len(snakemake.input))
    record = convert_observation(list(snakemake.input), snakemake.output.ms, n_subbands=snakemake.params.n_subbands,
                                 integrations_per_block=snakemake.params.integrations_per_block,
                                 threads=snakemake.threads)
    log.info("wrote %s (%d channels)", snakemake.output.ms, record["n_channels"])
    write_json_atomic(snakemake.output.record, {"group_id": group, **record})
