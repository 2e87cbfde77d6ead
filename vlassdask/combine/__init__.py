"""Combined-epoch images: common beam, convolution to it and the RMS-weighted mean."""
