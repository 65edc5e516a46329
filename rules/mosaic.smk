MOSAIC = config["mosaic"]


rule mosaic_plan:
    """The mosaic windows that begin on a day: their observations, and what each still waits for."""
    output:
        PATHS.mosaic_plan("{day}"),
    params:
        windows=lambda wildcards: mosaic_windows(wildcards.day),
    log:
        log_for("mosaic_plan", "{day}"),
    localrule: True
    conda:
        "../envs/pipeline.yaml"
    script:
        "../scripts/mosaic_plan.py"


rule mosaic:
    """Linear mosaic of a window's images, weighted per pixel by their drift beams and noise."""
    input:
        images=lambda wildcards: [PATHS.image_product(g, "image") for g in window(wildcards)["imaged"]],
        qa=lambda wildcards: [PATHS.image_qa(g) for g in window(wildcards)["imaged"]],
    output:
        mosaic=PATHS.mosaic_product("{window}", "mosaic"),
        noise=PATHS.mosaic_product("{window}", "noise"),
        coverage=PATHS.mosaic_product("{window}", "coverage"),
        quicklook=report(PATHS.mosaic_quicklook("{window}"), caption="../report/mosaic.rst", category="Mosaics",
                         subcategory="{window}"),
        qa=PATHS.mosaic_qa("{window}"),
    params:
        members=lambda wildcards: window(wildcards)["members"],
        pb_cutoff=config["image"]["pb_cutoff"],
        dec_tolerance_deg=MOSAIC["dec_tolerance_deg"],
    log:
        log_for("mosaic", "{window}"),
    threads: threads_for("mosaic")
    resources:
        mem_mb=scaled("mosaic", "mem_mb"),
        runtime=scaled("mosaic", "runtime_min"),
    conda:
        "../envs/pipeline.yaml"
    script:
        "../scripts/mosaic.py"
