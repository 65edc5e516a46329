from dsa110_continuum.calibrate.apply import BrightSources, write_calibrated_ms
from dsa110_continuum.calibrate.point_sources import PointSources
from dsa110_continuum.flag.rfi import flag_ms
from dsa110_continuum.records import job_step, read_json, write_json_atomic
from dsa110_continuum.science.reference import reference_if_readable
from dsa110_continuum.sky.catalogue import Calibrator

group = snakemake.wildcards.group
with job_step(snakemake, failure_step="apply") as log:
    qa = read_json(snakemake.input.qa)
    log.info("calibrating %s with set %s (%s transit), flagging with %s", group, qa["set_id"],
             qa["calibrator"]["name"], snakemake.params.flagger)
    flagging, known = {}, snakemake.params.known_sources
    reference = None if known["field_min_apparent_jy"] is None else reference_if_readable(
        snakemake.input.reference, columns=known["reference_columns"], flux_unit=known["reference_flux_unit"], log=log,
        without="no drift correction of field sources")
    field = None if reference is None else PointSources(reference.ra_deg, reference.dec_deg, reference.flux_jy,
                                                         known["spectral_index"])
    calibrators = () if known["min_apparent_jy"] is None else tuple(
        Calibrator(**c) for c in read_json(snakemake.input.calibrators)["calibrators"])
    bright = BrightSources(calibrators, known["min_apparent_jy"] or 0.0, field, known["field_min_apparent_jy"] or 0.0,
                           known["image_half_width_deg"])
    record = write_calibrated_ms(
        list(snakemake.input.files), snakemake.output.ms, snakemake.input.bandpass, snakemake.input.gains,
        n_subbands=snakemake.params.n_subbands, integrations_per_block=snakemake.params.integrations_per_block,
        threads=snakemake.threads, bright_sources=bright, before_rename=lambda staged: flagging.update(
            flag_ms(staged, snakemake.params.flagger, processes=snakemake.threads, log_path=snakemake.log[0])))
    for source in record["bright_sources"]:
        log.info("subtracted %s (%.2f deg from the centre, %.3f Jy through the beam)", source["calibrator"]["name"],
                 source["separation_deg"], source["apparent_flux_jy"])
    log.info("took the drift through the beam out of %d field sources on the image and subtracted %d off it",
             record["n_field_sources_steadied"], record["n_field_sources_subtracted"])
    log.info("flagged %.2f%% of the cross-correlations (%.2f%% before %s)", 100 * flagging["flagged_fraction"],
             100 * flagging["flagged_fraction_before"], flagging["flagger"])
    mid_mjd = read_json(snakemake.input.index)["mid_mjd"]
    write_json_atomic(snakemake.output.record, {
        **record, **flagging, "group_id": group, "calibration_set": qa["set_id"], "calibrator": qa["calibrator"]["name"],
        "transit_mjd": qa["transit_mjd"], "hours_from_transit": abs(mid_mjd - qa["transit_mjd"]) * 24.0,
    })
