from dataclasses import asdict

from dsa110_continuum.records import job_step, write_json_atomic
from dsa110_continuum.sky.catalogue import load_calibrator_catalogue

with job_step(snakemake) as log:
    catalogue, *fallback = snakemake.input
    calibrators = load_calibrator_catalogue(catalogue, fallback_path=fallback[0] if fallback else None,
                                            fallback_min_flux_jy=snakemake.params.fallback_min_flux_jy)
    log.info("%d calibrators from %s", len(calibrators), ", ".join(snakemake.input))
    write_json_atomic(snakemake.output[0], {"sources": list(snakemake.input),
                                            "calibrators": [asdict(c) for c in calibrators]})
