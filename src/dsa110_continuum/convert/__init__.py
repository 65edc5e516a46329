"""Stage 2: stream an observation's subband files into one Measurement Set at one phase centre."""
