rule calibrator_catalogue:
    """The calibrators to look for: the array's catalogue plus the bright sources of an optional fallback list."""
    input:
        [config_path(path) for path in (CALIBRATION["catalogue"], CALIBRATION["fallback_catalogue"]) if path],
    output:
        PATHS.calibrator_catalogue(),
    params:
        fallback_min_flux_jy=CALIBRATION["fallback_min_flux_jy"],
    log:
        log_for("calibrator_catalogue", "catalogue"),
    localrule: True
    conda:
        "../envs/pipeline.yaml"
    script:
        "../scripts/calibrator_catalogue.py"


rule extract_calibrator:
    """A calibrator observation phased to the calibrator and averaged in time, straight from the raw files."""
    input:
        files=group_files,
        index=PATHS.group_record("{group}"),
        reference=REFERENCE,
    output:
        ms=temp(directory(PATHS.calibrator_ms("{group}"))),
        record=PATHS.calibrator_record("{group}"),
    params:
        n_subbands=config["ingest"]["n_subbands"],
        integrations_per_block=config["convert"]["integrations_per_block"],
        field_model={"min_apparent_flux_jy": CALIBRATION["field_model_min_apparent_jy"],
                     "spectral_index": CALIBRATION["field_model_spectral_index"]}
        | {key: config["science"][key] for key in ("reference_columns", "reference_flux_unit", "match_radius_arcsec")},
    log:
        log_for("extract_calibrator"),
    threads: threads_for("extract_calibrator")
    resources:
        mem_mb=scaled("extract_calibrator", "mem_mb"),
        runtime=scaled("extract_calibrator", "runtime_min"),
    conda:
        "../envs/pipeline.yaml"
    script:
        "../scripts/extract_calibrator.py"


checkpoint solve_calibration:
    """Bandpass and phase-only gains on one calibrator transit, with a QA verdict (failed QA is a record, not an error)."""
    input:
        ms=PATHS.calibrator_ms("{group}"),
        record=PATHS.calibrator_record("{group}"),
        index=PATHS.group_record("{group}"),
    output:
        # The QA record first: the job writes it last, and while a checkpoint's outputs are incomplete Snakemake
        # asks for its first one (tables left by a killed job must not pass for a finished solve).
        qa=PATHS.solve_qa("{group}"),
        bandpass=directory(PATHS.bandpass_table("{group}")),
        gains=directory(PATHS.gain_table("{group}")),
        plot=report(PATHS.solution_plot("{group}"), caption="../report/solutions.rst", category="Calibration"),
    params:
        settings={key: CALIBRATION[key] for key in ("minsnr", "max_flagged_fraction", "min_good_antennas",
                                                    "gain_solint", "rfi_flagging", "bandpass_solver")}
        | {"refant_preference": tuple(CALIBRATION["refant_preference"])},
    log:
        main=log_for("solve_calibration"),
        casa=log_for("solve_calibration", "{group}.casa"),
    threads: threads_for("solve_calibration")
    resources:
        mem_mb=scaled("solve_calibration", "mem_mb"),
        runtime=scaled("solve_calibration", "runtime_min"),
    conda:
        "../envs/pipeline.yaml"
    script:
        "../scripts/solve_calibration.py"


rule calibration_registry:
    """The calibration sets around a day with their validity windows and verdicts, and the set each of its
    observations uses (a report of the choice the DAG makes)."""
    input:
        index=lambda wildcards: [PATHS.day_index(day) for day in days_around(wildcards.day)],
        qa=lambda wildcards: [PATHS.solve_qa(group) for day in days_around(wildcards.day)
                              for group in solvable_calibrators(day)],
    output:
        PATHS.registry("{day}"),
    params:
        validity_hours=CALIBRATION["validity_hours"],
    log:
        log_for("calibration_registry", "{day}"),
    localrule: True
    conda:
        "../envs/pipeline.yaml"
    script:
        "../scripts/calibration_registry.py"


rule apply_calibration:
    """Calibrated MS of one observation, written from its raw files with the nearest valid calibration set."""
    input:
        unpack(chosen_set_tables),
        files=group_files,
        index=PATHS.group_record("{group}"),
        calibrators=PATHS.calibrator_catalogue(),
        reference=REFERENCE,
    output:
        ms=directory(PATHS.calibrated_ms("{group}")),
        record=PATHS.calibrated_record("{group}"),
    params:
        n_subbands=config["ingest"]["n_subbands"],
        integrations_per_block=config["convert"]["integrations_per_block"],
        flagger=config["flag"]["flagger"],
        known_sources={"min_apparent_jy": CALIBRATION["bright_source_min_apparent_jy"],
                       "field_min_apparent_jy": CALIBRATION["drift_correction_min_apparent_jy"],
                       "image_half_width_deg": config["image"]["fov_deg"] / 2,
                       "spectral_index": CALIBRATION["field_model_spectral_index"]}
        | {key: config["science"][key] for key in ("reference_columns", "reference_flux_unit")},
    log:
        log_for("apply_calibration"),
    threads: threads_for("apply_calibration")
    resources:
        mem_mb=scaled("apply_calibration", "mem_mb"),
        runtime=scaled("apply_calibration", "runtime_min"),
    conda:
        "../envs/pipeline.yaml"
    script:
        "../scripts/apply_calibration.py"
