from dsa110_continuum.records import logged_step
from dsa110_continuum.summary import write_group_index

with logged_step(snakemake.log[0]):
    write_group_index(list(snakemake.input), snakemake.output[0])
