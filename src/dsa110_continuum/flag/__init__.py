"""Stage 4: RFI flagging of calibrated target observations (AOFlagger, or CASA tfcrop/rflag)."""
