from dsa110_continuum.calibrate.extract import extract_calibrator
from dsa110_continuum.records import job_step, read_json, write_json_atomic
from dsa110_continuum.sky.catalogue import Calibrator

group = snakemake.wildcards.group
with job_step(snakemake, failure_step="extract_calibrator") as log:
    calibrator = Calibrator(**read_json(snakemake.input.index)["calibrator"]["calibrator"])
    log.info("phasing %s to %s and averaging in time", group, calibrator.name)
    record = extract_calibrator(list(snakemake.input.files), snakemake.output.ms, calibrator,
                                n_subbands=snakemake.params.n_subbands,
                                integrations_per_block=snakemake.params.integrations_per_block,
                                threads=snakemake.threads)
    write_json_atomic(snakemake.output.record, {"group_id": group, **record})
