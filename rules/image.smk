from dataclasses import asdict

from dsa110_continuum.image.imagers import ImagingSettings

IMAGE = config["image"]
IMAGE_PRODUCTS = ["image", "pbcor", "pb", "residual", *IMAGE["extra_products"]]


rule image:
    """Stokes I image of one calibrated observation with its drift primary beam, PB-corrected image and QA."""
    input:
        ms=PATHS.calibrated_ms("{group}"),
        record=PATHS.calibrated_record("{group}"),
        reference=REFERENCE if IMAGE["clean_mask"] == "reference" else [],
    output:
        **{product: PATHS.image_product("{group}", product) for product in IMAGE_PRODUCTS},
        quicklook=report(PATHS.image_quicklook("{group}"), caption="../report/image.rst", category="Images",
                         subcategory="{group}"),
        qa=PATHS.image_qa("{group}"),
    params:
        settings=asdict(ImagingSettings.from_config(IMAGE)),
        grid={key: IMAGE[key] for key in ("fov_deg", "pixels_per_beam", "pb_cutoff")},
        qa=IMAGE["qa"],
        clean_mask={"radius_beams": IMAGE["clean_mask_radius_beams"]}
        | {key: config["science"][key] for key in ("reference_columns", "reference_flux_unit")},
    log:
        log_for("image"),
    threads: threads_for("image")
    resources:
        mem_mb=scaled("image", "mem_mb"),
        runtime=scaled("image", "runtime_min"),
    conda:
        "../envs/pipeline.yaml"
    script:
        "../scripts/image_observation.py"
