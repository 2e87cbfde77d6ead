"""Deconvolution: CLEAN minor cycles, cycle thresholds, restoring beam and restoration."""
