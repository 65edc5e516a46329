"""DSA-110 continuum imaging pipeline: the science code behind the Snakemake workflow."""

__version__ = "0.1.0"
