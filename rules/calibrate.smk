rule extract_calibrator:
    """A calibrator observation phased to the calibrator and averaged in time, straight from the raw files."""
    input:
        files=group_files,
        index=f"{OUT}/groups/{{group}}.json",
    output:
        ms=temp(directory(f"{OUT}/calibration/{{group}}/calibrator.ms")),
        record=f"{OUT}/calibration/{{group}}/calibrator.json",
    params:
        n_subbands=config["ingest"]["n_subbands"],
        integrations_per_block=config["convert"]["integrations_per_block"],
        failure_record=f"{OUT}/failures/extract_calibrator/{{group}}.json",
    log:
        f"{LOGS}/extract_calibrator/{{group}}.log",
    threads: threads_for("extract_calibrator")
    resources:
        mem_mb=scaled("extract_calibrator", "mem_mb"),
        runtime=scaled("extract_calibrator", "runtime_min"),
    conda:
        "../envs/pipeline.yaml"
    script:
        "../scripts/extract_calibrator.py"


rule solve_calibration:
    """Bandpass and phase-only gains on one calibrator transit, with a QA verdict (failed QA is a record, not an error)."""
    input:
        ms=f"{OUT}/calibration/{{group}}/calibrator.ms",
        record=f"{OUT}/calibration/{{group}}/calibrator.json",
        index=f"{OUT}/groups/{{group}}.json",
    output:
        tables=directory(f"{OUT}/calibration/{{group}}/tables"),
        qa=f"{OUT}/calibration/{{group}}/qa.json",
    params:
        settings={key: CALIBRATION[key] for key in ("minsnr", "max_flagged_fraction", "min_good_antennas",
                                                    "gain_solint", "rfi_flagging", "bandpass_solver")}
        | {"refant_preference": tuple(CALIBRATION["refant_preference"])},
    log:
        main=f"{LOGS}/solve_calibration/{{group}}.log",
        casa=f"{LOGS}/solve_calibration/{{group}}.casa.log",
    threads: threads_for("solve_calibration")
    resources:
        mem_mb=scaled("solve_calibration", "mem_mb"),
        runtime=scaled("solve_calibration", "runtime_min"),
    conda:
        "../envs/pipeline.yaml"
    script:
        "../scripts/solve_calibration.py"


rule apply_calibration:
    """Calibrated MS of one observation, written from its raw files with the nearest valid calibration set."""
    input:
        unpack(chosen_set_files),
        files=group_files,
        index=f"{OUT}/groups/{{group}}.json",
    output:
        ms=directory(f"{OUT}/calibrated/{{group}}.ms"),
        record=f"{OUT}/calibrated/{{group}}.json",
    params:
        n_subbands=config["ingest"]["n_subbands"],
        integrations_per_block=config["convert"]["integrations_per_block"],
        failure_record=f"{OUT}/failures/apply/{{group}}.json",
    log:
        f"{LOGS}/apply_calibration/{{group}}.log",
    threads: threads_for("apply_calibration")
    resources:
        mem_mb=scaled("apply_calibration", "mem_mb"),
        runtime=scaled("apply_calibration", "runtime_min"),
    conda:
        "../envs/pipeline.yaml"
    script:
        "../scripts/apply_calibration.py"


checkpoint calibration_registry:
    """Every calibration set with its validity window and verdict, and which set each observation uses."""
    input:
        index=expand(f"{OUT}/groups/{{group}}.json", group=DECIDED),
        qa=lambda wildcards: expand(f"{OUT}/calibration/{{group}}/qa.json", group=calibrator_groups()),
        group_index=f"{OUT}/group_index.csv",
    output:
        f"{OUT}/calibration/registry.json",
    params:
        validity_hours=CALIBRATION["validity_hours"],
    log:
        f"{LOGS}/calibration_registry.log",
    localrule: True
    conda:
        "../envs/pipeline.yaml"
    script:
        "../scripts/calibration_registry.py"
