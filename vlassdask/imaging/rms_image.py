"""Sliding-box robust rms images (SPEC.md "Images": 60" box, scaled MAD = 1.4826 x MAD).

The rms is measured in boxes of ``box`` pixels centred on a grid of nodes every ``step`` pixels
(boxes at the image edge are moved inwards so that each holds ``box^2`` pixels), and
interpolated bilinearly between the nodes (:mod:`vlassdask.imaging.node_grid`). With ``step =
box / 3`` neighbouring boxes overlap by two thirds, which samples the local noise as finely as a
box of that size can measure it. Everything is a lazy dask graph: one task per group of node
rows and columns reads only the image chunks its boxes touch; no loop runs over pixels.

Peak memory per task: the pixels of its boxes' footprint (float64) plus, while the medians are
taken, ``8 x box^2`` bytes per node of the group (:data:`NODES_PER_TASK` per axis).
"""

from __future__ import annotations

import warnings

import dask
import dask.array as da
import numpy as np

from vlassdask.errors import ConfigError
from vlassdask.imaging.node_grid import box_starts, interpolate_nodes

#: Scaled MAD: the rms of Gaussian noise.
MAD_TO_RMS = 1.4826
#: Nodes along each axis handled by one task.
NODES_PER_TASK = 16


def _robust_rms(values: np.ndarray) -> np.ndarray:
    """1.4826 x MAD along the last axis, ignoring NaN (NaN where a box has no finite pixel)."""
    if np.isnan(values).any():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN boxes give NaN
            median = np.nanmedian(values, axis=-1, keepdims=True)
            return MAD_TO_RMS * np.nanmedian(np.abs(values - median), axis=-1)
    median = np.median(values, axis=-1, keepdims=True)
    return MAD_TO_RMS * np.median(np.abs(values - median), axis=-1)


def _node_block(pixels: np.ndarray, xs: np.ndarray, ys: np.ndarray,
                box: tuple[int, int]) -> np.ndarray:  # fmt: skip
    """Rms at the nodes whose boxes start at ``xs`` x ``ys`` (relative to ``pixels``)."""
    pixels = np.asarray(pixels, dtype=np.float64)
    windows = np.lib.stride_tricks.sliding_window_view(pixels, box)
    values = windows[np.ix_(xs, ys)].reshape(xs.size, ys.size, box[0] * box[1])
    return _robust_rms(values)


def box_rms_nodes(image: da.Array, *, box: int, step: int) -> da.Array:
    """The robust rms at the nodes (every ``step`` pixels) of a 2-D image, lazily.

    Parameters
    ----------
    image
        (nx, ny) dask array (NaN pixels are ignored).
    box
        Box side in pixels (clipped to the image size).
    step
        Pixels between nodes.

    Returns
    -------
    dask.array.Array
        (node_count(nx, step), node_count(ny, step)) float64.
    """
    if box < 2 or step < 1:
        raise ConfigError(f"the rms box must be >= 2 pixels and its step >= 1, got box {box}, "
                          f"step {step}")
    nx, ny = image.shape
    bx, by = min(box, nx), min(box, ny)
    sx, sy = box_starts(nx, bx, step), box_starts(ny, by, step)
    rows = []
    for i in range(0, sx.size, NODES_PER_TASK):
        gx = sx[i:i + NODES_PER_TASK]
        row = []
        for j in range(0, sy.size, NODES_PER_TASK):
            gy = sy[j:j + NODES_PER_TASK]
            x0, x1, y0, y1 = gx[0], gx[-1] + bx, gy[0], gy[-1] + by
            part = dask.delayed(_node_block)(image[x0:x1, y0:y1], gx - x0, gy - y0, (bx, by))
            row.append(da.from_delayed(part, (gx.size, gy.size), dtype=np.float64))
        rows.append(row)
    return da.block(rows)


def sliding_rms(image: da.Array, *, box: int, step: int, chunks=None) -> da.Array:
    """Sliding-box robust rms image of ``image`` (see the module docstring).

    Parameters
    ----------
    image
        (nx, ny) dask array, e.g. a residual image.
    box, step
        Box side and node spacing in pixels (SPEC.md: 60" boxes; ``step = box / 3`` is the
        usual choice).
    chunks
        Chunks of the result (default: those of ``image``).

    Returns
    -------
    dask.array.Array
        (nx, ny) float32 rms image.
    """
    nodes = box_rms_nodes(image, box=box, step=step)
    return interpolate_nodes(nodes.rechunk(-1), image.shape, step,
                             chunks=chunks or image.chunks, dtype=np.float32)
