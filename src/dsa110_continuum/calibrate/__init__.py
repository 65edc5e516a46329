"""Stage 3: calibrator transits, solves with QA, the choice of a set per observation, and applying it."""
