from dsa110_continuum.ingest.index import write_day_index
from dsa110_continuum.records import job_step, read_json

with job_step(snakemake):
    write_day_index([read_json(path) for path in snakemake.input], snakemake.output[0])
