rule convert:
    """UVH5 subband files of one observation -> one Measurement Set phased to the meridian at mid-time."""
    input:
        group_files,
    output:
        ms=directory(PATHS.ms("{group}")),
        record=PATHS.ms_record("{group}"),
    params:
        n_subbands=config["ingest"]["n_subbands"],
        integrations_per_block=config["convert"]["integrations_per_block"],
    log:
        log_for("convert"),
    threads: threads_for("convert")
    resources:
        mem_mb=scaled("convert", "mem_mb"),
        runtime=scaled("convert", "runtime_min"),
    conda:
        "../envs/pipeline.yaml"
    script:
        "../scripts/convert.py"
