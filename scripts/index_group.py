from dsa110_continuum.ingest import describe_group
from dsa110_continuum.records import logged_step, write_json_atomic

with logged_step(snakemake.log[0]):
    record = describe_group(snakemake.wildcards.group, list(snakemake.input),
                            action=snakemake.params.action, reason=snakemake.params.reason)
    write_json_atomic(snakemake.output[0], record)
