from dsa110_continuum.records import job_step, read_json
from dsa110_continuum.science.products import measure_image, measure_mosaic
from dsa110_continuum.science.reference import read_reference

settings = snakemake.params.settings
with job_step(snakemake, failure_step=snakemake.rule) as log:
    reference_files = list(snakemake.input.reference)  # the catalogue, or none configured
    reference = (read_reference(reference_files[0], columns=settings["reference_columns"],
                                flux_unit=settings["reference_flux_unit"]) if reference_files else None)
    outputs = dict(snakemake.output.items())
    qa = read_json(snakemake.input.qa)
    if snakemake.rule == "measure_image":
        record = measure_image({key: snakemake.input[key] for key in ("pbcor", "pb", "residual")}, qa, outputs,
                               reference=reference, settings=settings)
    else:
        record = measure_mosaic(snakemake.input.mosaic, snakemake.input.noise, qa, outputs, reference=reference,
                                settings=settings)
    log.info("%d sources; cross-match %s %s", record["n_sources"], record["verdict"], "; ".join(record["reasons"]))
