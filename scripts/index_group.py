from dsa110_continuum.calibrate.transits import calibrator_in_observation
from dsa110_continuum.ingest.index import describe_group
from dsa110_continuum.records import job_step, read_json, write_json_atomic
from dsa110_continuum.sky.catalogue import Calibrator

with job_step(snakemake):
    record = describe_group(snakemake.wildcards.group, list(snakemake.input.files), action=snakemake.params.action,
                            reason=snakemake.params.reason, n_subbands=snakemake.params.n_subbands)
    calibrators = [Calibrator(**c) for c in read_json(snakemake.input.calibrators)["calibrators"]]
    record["calibrator"] = calibrator_in_observation(record, calibrators,
                                                     dec_tolerance_deg=snakemake.params.dec_tolerance_deg)
    write_json_atomic(snakemake.output[0], record)
