from snakemake.utils import min_version

from dsa110_continuum.config import validate_config

min_version("9.0")


configfile: "config/config.yaml"


validate_config(config, f"{workflow.basedir}/config/schema.yaml")


include: "rules/common.smk"
include: "rules/ingest.smk"
include: "rules/convert.smk"
include: "rules/calibrate.smk"


rule all:
    input:
        final_targets,
    default_target: True
