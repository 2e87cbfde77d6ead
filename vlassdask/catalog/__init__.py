"""Source catalogs: PyBDSF-style source finding over dask chunks, survey merging, spectral
indices, DRAGNs, cross-matching and catalog comparison (SPEC.md "Catalogs")."""
