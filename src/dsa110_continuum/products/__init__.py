"""Stage 8: the products database, derived from the files the other stages write."""
