from dsa110_continuum.convert import convert_group
from dsa110_continuum.records import logged_step, write_json_atomic

group = snakemake.wildcards.group
with logged_step(snakemake.log[0], failure_record=snakemake.params.failure_record, step="convert", group=group) as log:
    log.info("converting %s: %d files", group, len(snakemake.input))
    record = convert_group(list(snakemake.input), snakemake.output.ms, n_subbands=snakemake.params.n_subbands,
                           integrations_per_block=snakemake.params.integrations_per_block, threads=snakemake.threads)
    log.info("wrote %s (%d rows, %d channels)", record["ms"], record["n_rows"], record["n_channels"])
    write_json_atomic(snakemake.output.record, {"group_id": group, **record})
