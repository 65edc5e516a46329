from dsa110_continuum.convert import convert_group
from dsa110_continuum.records import logged_step, read_json, write_json_atomic

group = snakemake.wildcards.group
with logged_step(snakemake.log[0], failure_record=snakemake.params.failure_record, step="apply", group=group) as log:
    qa = read_json(snakemake.input.qa)
    log.info("calibrating %s with set %s (%s transit)", group, qa["set_id"], qa["calibrator"]["name"])
    record = convert_group(list(snakemake.input.files), snakemake.output.ms, n_subbands=snakemake.params.n_subbands,
                           integrations_per_block=snakemake.params.integrations_per_block, threads=snakemake.threads,
                           calibration=(qa["bandpass_table"], qa["gain_table"]))
    index = read_json(snakemake.input.index)
    write_json_atomic(snakemake.output.record, {
        **record, "group_id": group, "calibration_set": qa["set_id"], "calibrator": qa["calibrator"]["name"],
        "transit_mjd": qa["transit_mjd"], "hours_from_transit": abs(index["mid_mjd"] - qa["transit_mjd"]) * 24.0,
        "bandpass_table": qa["bandpass_table"], "gain_table": qa["gain_table"],
    })
