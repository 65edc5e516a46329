"""File formats: the correlator's UVH5 subband files, Measurement Sets and CASA calibration tables."""
