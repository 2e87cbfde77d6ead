"""I/O layer: the only place that touches casacore/dask-ms, Zarr, FITS and the file system."""
