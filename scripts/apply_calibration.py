from dsa110_continuum.calibrate.apply import write_calibrated_ms
from dsa110_continuum.flag.rfi import flag_ms
from dsa110_continuum.records import job_step, read_json, write_json_atomic

group = snakemake.wildcards.group
with job_step(snakemake, failure_step="apply") as log:
    qa = read_json(snakemake.input.qa)
    log.info("calibrating %s with set %s (%s transit), flagging with %s", group, qa["set_id"],
             qa["calibrator"]["name"], snakemake.params.flagger)
    flagging = {}
    record = write_calibrated_ms(
        list(snakemake.input.files), snakemake.output.ms, snakemake.input.bandpass, snakemake.input.gains,
        n_subbands=snakemake.params.n_subbands, integrations_per_block=snakemake.params.integrations_per_block,
        threads=snakemake.threads, before_rename=lambda staged: flagging.update(
            flag_ms(staged, snakemake.params.flagger, processes=snakemake.threads, log_path=snakemake.log[0])))
    log.info("flagged %.2f%% of the cross-correlations (%.2f%% before %s)", 100 * flagging["flagged_fraction"],
             100 * flagging["flagged_fraction_before"], flagging["flagger"])
    mid_mjd = read_json(snakemake.input.index)["mid_mjd"]
    write_json_atomic(snakemake.output.record, {
        **record, **flagging, "group_id": group, "calibration_set": qa["set_id"], "calibrator": qa["calibrator"]["name"],
        "transit_mjd": qa["transit_mjd"], "hours_from_transit": abs(mid_mjd - qa["transit_mjd"]) * 24.0,
    })
