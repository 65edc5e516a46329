from dsa110_continuum.calibrate.extract import extract_calibrator, field_sources_around
from dsa110_continuum.records import job_step, read_json, write_json_atomic
from dsa110_continuum.science.reference import reference_if_readable
from dsa110_continuum.sky.catalogue import Calibrator

group = snakemake.wildcards.group
model = snakemake.params.field_model
with job_step(snakemake, failure_step="extract_calibrator") as log:
    calibrator = Calibrator(**read_json(snakemake.input.index)["calibrator"]["calibrator"])
    reference = None if model["min_apparent_flux_jy"] is None else reference_if_readable(
        snakemake.input.reference, columns=model["reference_columns"], flux_unit=model["reference_flux_unit"], log=log,
        without=f"modelling {calibrator.name} alone")
    field = None if reference is None else field_sources_around(
        calibrator, reference.ra_deg, reference.dec_deg, reference.flux_jy,
        match_radius_arcsec=model["match_radius_arcsec"], spectral_index=model["spectral_index"],
        min_apparent_flux_jy=model["min_apparent_flux_jy"])
    log.info("phasing %s to %s and averaging in time%s", group, calibrator.name,
             "" if field is None else f"; modelling the field from {snakemake.input.reference[0]}")
    record = extract_calibrator(list(snakemake.input.files), snakemake.output.ms, calibrator,
                                n_subbands=snakemake.params.n_subbands,
                                integrations_per_block=snakemake.params.integrations_per_block,
                                threads=snakemake.threads, field_sources=field)
    if field is not None:
        log.info("%d field sources modelled beside %s", record.get("n_field_sources_modelled", 0), calibrator.name)
    write_json_atomic(snakemake.output.record, {"group_id": group, **record})
