from pathlib import Path

from dsa110_continuum.records import logged_step, read_json, write_json_atomic
from dsa110_continuum.registry import registry

with logged_step(snakemake.log[0]) as log:
    groups = [r for r in map(read_json, snakemake.input.index) if r["action"] == "process"]
    qa = {Path(p).parent.name: read_json(p) for p in snakemake.input.qa}
    result = registry(groups, qa, validity_hours=snakemake.params.validity_hours)
    for group, reason in result["awaiting_reasons"].items():
        log.info("observation %s awaits calibration: %s", group, reason)
    write_json_atomic(snakemake.output[0], result)
