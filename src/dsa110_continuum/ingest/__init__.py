"""Stage 1: find raw files, group them into observations, decide what is ready, index them."""
