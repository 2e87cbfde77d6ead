"""A Zarr cache of prepared visibility blocks, for when they exceed the cluster's memory.

:class:`ZarrBlockCache` implements :class:`vlassdask.imaging.imaging_operator.BlockCache`: the
task that prepares a block writes it as one Zarr group (its arrays uncompressed, so a major
cycle reads them back at disk speed) and hands on only the group's name; every later task
reads the group it needs. Workers must see the same directory (a local disk for a
LocalCluster, a shared file system for dask-jobqueue clusters).

The cache lives in a temporary directory beside the product (``.<out>.blocks-<random>``),
removed by :meth:`ZarrBlockCache.close` (also on errors and Ctrl-C, by using it as a context
manager). Peak memory: one block per task, as without the cache.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from types import TracebackType

import numpy as np
import zarr

from vlassdask.imaging.first_pass import Weighted
from vlassdask.kernels.ordering import SortedVisibilities

_SORTED = ("pu", "pv", "w", "index", "bounds")
_ROWS = ("uvw", "freq", "field_id")


class ZarrBlockCache:
    """Prepared blocks kept as Zarr groups in a directory.

    Parameters
    ----------
    directory
        Parent directory; the cache is a new temporary directory inside it.
    prefix
        Name prefix of that temporary directory.
    """

    def __init__(self, directory: str | os.PathLike, *, prefix: str = ".blocks-"):
        self.path = Path(tempfile.mkdtemp(prefix=prefix, dir=directory))

    def put(self, key: str, block: Weighted) -> str:
        """Write ``block`` as the group ``key``; return the handle (the group's name)."""
        group = zarr.open_group(str(self.path / key), mode="w")
        sorted_ = block.sorted
        for name in _SORTED:
            _write(group, name, getattr(sorted_, name))
        for i, values in enumerate(sorted_.values):
            _write(group, f"values{i}", values)
        for name in _ROWS:
            _write(group, name, getattr(block, name))
        if block.w_field is not None:
            _write(group, "w_field", block.w_field)
        group.attrs.update(sumwt=float(block.sumwt), n_off_grid=int(block.n_off_grid),
                           n_values=len(sorted_.values), n_groups=int(sorted_.n_groups))
        return key

    def get(self, handle: str) -> Weighted:
        """Read the block written under ``handle``."""
        group = zarr.open_group(str(self.path / handle), mode="r")
        arrays = {name: group[name][...] for name in (*_SORTED, *_ROWS)}
        values = tuple(group[f"values{i}"][...] for i in range(int(group.attrs["n_values"])))
        sorted_ = SortedVisibilities(arrays["pu"], arrays["pv"], arrays["w"], values,
                                     arrays["index"], arrays["bounds"],
                                     int(group.attrs["n_groups"]))
        w_field = group["w_field"][...] if "w_field" in group else None
        return Weighted(sorted_, float(group.attrs["sumwt"]), int(group.attrs["n_off_grid"]),
                        arrays["uvw"], arrays["freq"], arrays["field_id"], w_field)

    def nbytes(self) -> int:
        """Bytes on disk."""
        return sum(f.stat().st_size for f in self.path.rglob("*") if f.is_file())

    def close(self) -> None:
        """Remove the cache directory."""
        shutil.rmtree(self.path, ignore_errors=True)

    def __enter__(self) -> ZarrBlockCache:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def _write(group: zarr.Group, name: str, array: np.ndarray) -> None:
    array = np.ascontiguousarray(array)
    out = group.create_array(name, shape=array.shape, dtype=array.dtype,
                             chunks=tuple(max(1, n) for n in array.shape), compressors=None,
                             overwrite=True)
    if array.size:
        out[...] = array
