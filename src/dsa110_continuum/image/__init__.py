"""Stage 5: images of each calibrated observation, corrected by the beam the sky drifted through, with QA."""
