from dsa110_continuum.image.imagers import ImagingSettings
from dsa110_continuum.image.observation import image_observation
from dsa110_continuum.records import job_step, read_json, write_json_atomic
from dsa110_continuum.science.reference import reference_if_readable

group = snakemake.wildcards.group
with job_step(snakemake, failure_step="image") as log:
    record = read_json(snakemake.input.record)
    mask = snakemake.params.clean_mask
    reference = reference_if_readable(snakemake.input.reference, columns=mask["reference_columns"],
                                      flux_unit=mask["reference_flux_unit"], log=log, without="CLEAN grows its own mask")
    products = {key: path for key, path in snakemake.output.items() if key != "qa"}
    qa = image_observation(snakemake.input.ms, products, group_id=group,
                           pointing_dec_deg=record["pointing_dec_apparent_deg"],
                           settings=ImagingSettings(**snakemake.params.settings), **snakemake.params.grid,
                           qa_thresholds=snakemake.params.qa, subtracted=record.get("bright_sources", []),
                           known_sources=None if reference is None else (reference.ra_deg, reference.dec_deg),
                           clean_mask_radius_beams=mask["radius_beams"],
                           threads=snakemake.threads,
                           mem_gb=snakemake.resources.mem_mb / 1024, log_path=snakemake.log[0])
    qa["flagged_fraction_by_flagger"] = record.get("flagged_fraction")
    log.info("CLEAN worked %s", "inside its own mask" if qa["clean_mask_sources"] is None else
             f"around {qa['clean_mask_sources']} reference sources")
    for source in qa["restored_sources"]:
        log.info("restored %s, subtracted from the data, at %.4g Jy/beam", source["name"], source["apparent_flux_jy"])
    log.info("image %s: %s, rms %.2f mJy/beam, peak %.3f Jy/beam %s", group, "PASSED" if qa["passed"] else "FAILED",
             qa["rms_jy"] * 1e3, qa["peak_jy"], "; ".join(qa["reasons"]))
    write_json_atomic(snakemake.output.qa, qa)
