from dsa110_continuum.image.imagers import ImagingSettings
from dsa110_continuum.image.observation import image_observation
from dsa110_continuum.records import job_step, read_json, write_json_atomic

group = snakemake.wildcards.group
with job_step(snakemake, failure_step="image") as log:
    record = read_json(snakemake.input.record)
    products = {key: path for key, path in snakemake.output.items() if key != "qa"}
    qa = image_observation(snakemake.input.ms, products, group_id=group,
                           pointing_dec_deg=record["pointing_dec_apparent_deg"],
                           settings=ImagingSettings(**snakemake.params.settings), **snakemake.params.grid,
                           qa_thresholds=snakemake.params.qa, subtracted=record.get("bright_sources", []),
                           threads=snakemake.threads,
                           mem_gb=snakemake.resources.mem_mb / 1024, log_path=snakemake.log[0])
    qa["flagged_fraction_by_flagger"] = record.get("flagged_fraction")
    for source in qa["restored_sources"]:
        log.info("restored %s, subtracted from the data, at %.4g Jy/beam", source["name"], source["apparent_flux_jy"])
    log.info("image %s: %s, rms %.2f mJy/beam, peak %.3f Jy/beam %s", group, "PASSED" if qa["passed"] else "FAILED",
             qa["rms_jy"] * 1e3, qa["peak_jy"], "; ".join(qa["reasons"]))
    write_json_atomic(snakemake.output.qa, qa)
