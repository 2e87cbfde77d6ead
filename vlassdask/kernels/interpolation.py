"""Numba kernel of the bilinear interpolation of a coarse node grid onto a block of pixels.

Node ``(i, j)`` sits on pixel ``(i * step, j * step)``; pixel ``(x, y)`` takes the bilinear mix
of the four nodes around ``(x / step, y / step)`` (the last node cell is used beyond the last
node; one node along an axis is constant along it). One pass over the output, no temporaries.
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, nogil=True)
def _lower(p, step, n_nodes):
    """Lower node index and fractional position of pixel ``p``."""
    if n_nodes == 1:
        return 0, 0.0
    u = p / step
    i = min(max(int(np.floor(u)), 0), n_nodes - 2)
    return i, u - i


@numba.njit(cache=True, nogil=True)
def bilinear_nodes(nodes: np.ndarray, x0: int, y0: int, step: float, out: np.ndarray) -> None:
    """Fill ``out`` (nx, ny) with the node grid interpolated at pixels ``x0 + i, y0 + j``.

    NaN nodes make the pixels of their cells NaN.
    """
    nnx, nny = nodes.shape
    ny = out.shape[1]
    iy = np.empty(ny, dtype=np.int64)
    ty = np.empty(ny, dtype=np.float64)
    for j in range(ny):
        iy[j], ty[j] = _lower(y0 + j, step, nny)
    for i in range(out.shape[0]):
        ix, tx = _lower(x0 + i, step, nnx)
        jx = min(ix + 1, nnx - 1)
        for j in range(ny):
            a, t = iy[j], ty[j]
            b = min(a + 1, nny - 1)
            low = (1.0 - t) * nodes[ix, a] + t * nodes[ix, b]
            high = (1.0 - t) * nodes[jx, a] + t * nodes[jx, b]
            out[i, j] = (1.0 - tx) * low + tx * high
