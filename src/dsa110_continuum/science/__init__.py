"""Stage 7: source catalogues, cross-matches with a reference catalogue, forced photometry, variability."""
