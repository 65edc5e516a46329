from dsa110_continuum.mosaic.products import make_mosaic
from dsa110_continuum.records import job_step, read_json, write_json_atomic

window = snakemake.wildcards.window
with job_step(snakemake, failure_step="mosaic") as log:
    image_qa = {qa["group_id"]: qa for qa in map(read_json, snakemake.input.qa)}
    images = dict(zip(image_qa, snakemake.input.images))
    products = {key: path for key, path in snakemake.output.items() if key != "qa"}
    qa = make_mosaic(window, snakemake.params.members, image_qa, images, products, pb_cutoff=snakemake.params.pb_cutoff,
                     dec_tolerance_deg=snakemake.params.dec_tolerance_deg, threads=snakemake.threads)
    log.info("mosaic %s: %d of %d observations, noise %.2f mJy/beam", window, len(qa["used"]), len(qa["members"]),
             qa["noise_median_jy"] * 1e3)
    write_json_atomic(snakemake.output.qa, qa)
