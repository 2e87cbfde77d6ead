"""Smooth images sampled on a coarse grid of nodes, and their bilinear interpolation.

Slowly varying images (the mosaic primary beam, the sliding-box rms) are evaluated only on a
grid of *nodes* at every ``step``-th pixel: node ``(i, j)`` sits on pixel ``(i * step, j *
step)``, and the nodes run one past the last pixel where needed, so every pixel lies inside a
node cell. :func:`interpolate_nodes` turns a node array back into the full-resolution image as a
lazy dask array, chunk by chunk; it is exact on the nodes.
"""

from __future__ import annotations

import math

import dask.array as da
import numpy as np

from vlassdask.kernels.interpolation import bilinear_nodes


def node_count(n: int, step: int) -> int:
    """Nodes along an axis of ``n`` pixels: ``0, step, ...`` up to the first at or beyond
    pixel ``n - 1`` (at least one)."""
    return max(1, math.ceil((n - 1) / step) + 1)


def node_pixels(n: int, step: int) -> np.ndarray:
    """Pixel position of each node along an axis (float64, may pass ``n - 1`` by < step)."""
    return np.arange(node_count(n, step), dtype=np.float64) * step


def box_starts(n: int, box: int, step: int) -> np.ndarray:
    """First pixel of the ``box``-pixel box centred on each node along an axis of ``n`` pixels
    (clipped so that every box lies inside the axis; ``box <= n``)."""
    return np.clip(np.arange(node_count(n, step)) * step - box // 2, 0, n - box)


def _interpolate_block(block: np.ndarray, nodes: np.ndarray, step: int,
                       block_info=None) -> np.ndarray:  # fmt: skip
    (x0, _), (y0, _) = block_info[None]["array-location"]
    out = np.empty(block.shape, dtype=block.dtype)
    bilinear_nodes(np.asarray(nodes, dtype=np.float64), int(x0), int(y0), float(step), out)
    return out


def interpolate_nodes(nodes, shape: tuple[int, int], step: int, *, chunks,
                      dtype=np.float32) -> da.Array:  # fmt: skip
    """Bilinear interpolation of a node grid to every pixel, lazily.

    Parameters
    ----------
    nodes
        (node_count(nx, step), node_count(ny, step)) array, or a ``dask.delayed`` of one; it
        is passed whole to every chunk's task (node grids are small).
    shape
        Full image shape (nx, ny).
    step
        Pixels between nodes.
    chunks
        Chunks of the result.
    dtype
        Result dtype.

    Returns
    -------
    dask.array.Array
        (nx, ny) image; NaN nodes make the pixels next to them NaN.

    Notes
    -----
    Peak memory per task: one output chunk plus the node grid.
    """
    template = da.empty(shape, chunks=chunks, dtype=dtype)
    return template.map_blocks(_interpolate_block, nodes=nodes, step=int(step), dtype=dtype)
