"""Product recipes: typed config + inputs in, finished (Zarr, FITS, PNG) products out."""
