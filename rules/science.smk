SCIENCE = config["science"]
SCIENCE_SETTINGS = {key: SCIENCE[key] for key in ("reference_columns", "reference_flux_unit", "match_radius_arcsec",
                                                   "detection_sigma", "noise_box_beams", "photometry_cluster_beams",
                                                   "source_finding", "validation")}


rule measure_image:
    """Source catalogue, cross-match with the reference catalogue and forced photometry of one image."""
    input:
        pbcor=PATHS.image_product("{group}", "pbcor"),
        pb=PATHS.image_product("{group}", "pb"),
        residual=PATHS.image_product("{group}", "residual"),
        qa=PATHS.image_qa("{group}"),
        reference=REFERENCE,
    output:
        sources=PATHS.sources("image", "{group}"),
        crossmatch=PATHS.crossmatch("image", "{group}"),
        photometry=PATHS.photometry("{group}"),
    params:
        settings=SCIENCE_SETTINGS,
    log:
        log_for("measure_image"),
    threads: threads_for("measure_image")
    resources:
        mem_mb=scaled("measure_image", "mem_mb"),
        runtime=scaled("measure_image", "runtime_min"),
    conda:
        "../envs/pipeline.yaml"
    script:
        "../scripts/measure.py"


rule measure_mosaic:
    """Source catalogue of one mosaic (against its noise map) and its cross-match with the reference catalogue."""
    input:
        mosaic=PATHS.mosaic_product("{window}", "mosaic"),
        noise=PATHS.mosaic_product("{window}", "noise"),
        qa=PATHS.mosaic_qa("{window}"),
        reference=REFERENCE,
    output:
        sources=PATHS.sources("mosaic", "{window}"),
        crossmatch=PATHS.crossmatch("mosaic", "{window}"),
    params:
        settings=SCIENCE_SETTINGS,
    log:
        log_for("measure_mosaic", "{window}"),
    threads: threads_for("measure_mosaic")
    resources:
        mem_mb=scaled("measure_mosaic", "mem_mb"),
        runtime=scaled("measure_mosaic", "runtime_min"),
    conda:
        "../envs/pipeline.yaml"
    script:
        "../scripts/measure.py"


rule products_database:
    """The products database brought up to date with the files (only the days whose files changed), then every
    light curve's variability and the candidates' light-curve plots."""
    input:
        lambda wildcards: [target for day in open_days() for target in day_targets(day)],
    output:
        PATHS.database_synced(),
        variability=PATHS.variability(),
    params:
        url=DATABASE_URL,
        signatures=lambda wildcards: day_signatures(PATHS),
        thresholds=SCIENCE["variability"],
    log:
        log_for("products_database", "sync"),
    localrule: True
    conda:
        "../envs/pipeline.yaml"
    script:
        "../scripts/products_database.py"
