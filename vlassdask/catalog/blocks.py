"""Regions of dask arrays handed to tasks as whole blocks.

Slicing a lazily derived dask array (``(image - mean)[x0:x1, y0:y1]``) lets dask push the slice
through the element-wise steps and recompute them for every slice; tasks that each need a region
of such an array therefore receive the whole blocks covering it (:meth:`BlockGrid.covering`) and
cut the region themselves (:func:`assemble`), so every block is computed once per computation.
"""

from __future__ import annotations

from dataclasses import dataclass

import dask.array as da
import numpy as np


@dataclass(frozen=True)
class BlockGrid:
    """The delayed blocks of one or more arrays with the same chunks, and the block edges."""

    blocks: list[np.ndarray]
    edges: tuple[np.ndarray, np.ndarray]

    @classmethod
    def of(cls, *arrays: da.Array) -> BlockGrid:
        """The blocks of ``arrays`` (2-D, rechunked like the first)."""
        chunks = arrays[0].chunks
        return cls([a.rechunk(chunks).to_delayed() for a in arrays],
                   tuple(np.cumsum((0,) + c) for c in chunks))  # fmt: skip

    def covering(self, x0: int, x1: int, y0: int, y1: int) -> tuple[list, tuple[int, int]]:
        """Nested lists of the blocks of every array that cover pixels ``[x0, x1) x [y0, y1)``,
        and the pixel of their ``[0, 0]``."""
        ex, ey = self.edges
        bx = slice(np.searchsorted(ex, x0, side="right") - 1, np.searchsorted(ex, x1, side="left"))
        by = slice(np.searchsorted(ey, y0, side="right") - 1, np.searchsorted(ey, y1, side="left"))
        nested = [[list(row) for row in grid[bx, by]] for grid in self.blocks]
        return nested, (int(ex[bx.start]), int(ey[by.start]))


def assemble(blocks: list, origin: tuple[int, int], x0: int, x1: int, y0: int, y1: int,
             dtype: type = np.float64) -> np.ndarray:  # fmt: skip
    """Pixels ``[x0, x1) x [y0, y1)`` of one array from its covering blocks (nested lists)."""
    whole = np.block(blocks)
    return np.asarray(whole[x0 - origin[0]:x1 - origin[0], y0 - origin[1]:y1 - origin[1]],
                      dtype=dtype)
