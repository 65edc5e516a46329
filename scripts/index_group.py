from dsa110_continuum.ingest import describe_group
from dsa110_continuum.records import logged_step, write_json_atomic
from dsa110_continuum.registry import calibrator_in_observation, load_catalogue

with logged_step(snakemake.log[0]):
    record = describe_group(snakemake.wildcards.group, list(snakemake.input.files),
                            action=snakemake.params.action, reason=snakemake.params.reason,
                            n_subbands=snakemake.params.n_subbands)
    calibration = snakemake.params.calibration
    record["calibrator"] = calibrator_in_observation(record, load_catalogue(calibration),
                                                     dec_tolerance_deg=calibration["dec_tolerance_deg"])
    write_json_atomic(snakemake.output[0], record)
