from dsa110_continuum.calibrate.registry import day_registry
from dsa110_continuum.ingest.index import read_day_index
from dsa110_continuum.naming import Products
from dsa110_continuum.records import failure_reason, job_step, read_json, write_json_atomic

paths = Products(snakemake.config["output_dir"])
with job_step(snakemake) as log:
    result = day_registry(snakemake.wildcards.day, [row for path in snakemake.input.index for row in read_day_index(path)],
                          qa_for=lambda group: read_json(paths.solve_qa(group)),
                          extraction_failure_for=lambda group: failure_reason(paths.failure("extract_calibrator", group)),
                          validity_hours=snakemake.params.validity_hours)
    for group, reason in result["awaiting_reasons"].items():
        log.info("observation %s awaits calibration: %s", group, reason)
    write_json_atomic(snakemake.output[0], result)
