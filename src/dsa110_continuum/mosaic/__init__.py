"""Stage 6: hourly sliding-window mosaics per declination strip, weighted by the drift beam and the noise."""
