from snakemake.utils import min_version

from dsa110_continuum.config import check_output_dir, validate_config

min_version("9.0")


configfile: "config/config.yaml"


validate_config(config, f"{workflow.basedir}/config/schema.yaml")
check_output_dir(config["output_dir"])


report: "report/workflow.rst"


include: "rules/common.smk"
include: "rules/ingest.smk"
include: "rules/convert.smk"
include: "rules/calibrate.smk"
include: "rules/image.smk"
include: "rules/mosaic.smk"
include: "rules/science.smk"


rule all:
    input:
        final_targets,
    default_target: True
