"""Regions of an image read inside the tasks that use them.

A task given ``plane[x0:x1, y0:y1]`` as a dask argument depends on the read, and dask's local
schedulers start such reads (root tasks) ahead of the tasks that consume them, so the pixels of
many regions may wait in memory at once. A :class:`RegionReader` is not a dask collection: the
task itself reads its region when it runs, so only the running tasks hold image pixels.
"""

from __future__ import annotations

import dask.array as da
import numpy as np


class RegionReader:
    """Reads float64 regions of a 2-D (lazy) image.

    Parameters
    ----------
    plane
        (nx, ny) dask array (e.g. a FITS or Zarr image plane: each read touches only the
        storage chunks under the region).
    """

    def __init__(self, plane: da.Array) -> None:
        self._plane = plane
        self.shape = plane.shape

    def read(self, x0: int, x1: int, y0: int, y1: int) -> np.ndarray:
        """Pixels ``[x0, x1) x [y0, y1)`` as a float64 array."""
        region = self._plane[x0:x1, y0:y1].compute(scheduler="synchronous")
        return np.asarray(region, dtype=np.float64)
