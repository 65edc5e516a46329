from dsa110_continuum.convert import convert_group
from dsa110_continuum.records import logged_step, read_json, write_json_atomic

group = snakemake.wildcards.group
with logged_step(snakemake.log[0], failure_record=snakemake.params.failure_record, step="extract_calibrator",
                 group=group) as log:
    calibrator = read_json(snakemake.input.index)["calibrator"]["calibrator"]
    log.info("phasing %s to %s and averaging in time", group, calibrator["name"])
    record = convert_group(list(snakemake.input.files), snakemake.output.ms, n_subbands=snakemake.params.n_subbands,
                           integrations_per_block=snakemake.params.integrations_per_block, threads=snakemake.threads,
                           phase_centre=(calibrator["name"], calibrator["ra_deg"], calibrator["dec_deg"]),
                           average_in_time=True)
    write_json_atomic(snakemake.output.record, {"group_id": group, **record})
