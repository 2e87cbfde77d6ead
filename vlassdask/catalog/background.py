"""Background mean and rms maps, PyBDSF style, as lazy dask computations over image chunks.

Sigma-clipped mean and rms (:func:`vlassdask.kernels.box_stats.clipped_box_stats`) are measured
in boxes of ``rms_box = (box, step)`` pixels centred on nodes every ``step`` pixels and
interpolated bilinearly between the nodes (:mod:`vlassdask.imaging.node_grid`). Near bright
sources (pixels above ``bright_snr`` large-box sigma, grown by one small box) the maps from the
smaller ``rms_box_bright`` boxes are used, which follow the raised noise around bright sources
(PyBDSF's ``adaptive_rms_box``); there the rms is the larger of the two maps, so a small box
that happens to sit on clean sky never lowers the threshold next to a bright source.

Peak memory per task: the pixels under one group of node boxes plus one output chunk.
"""

from __future__ import annotations

from dataclasses import dataclass

import dask
import dask.array as da
import numpy as np
from scipy import ndimage

from vlassdask.catalog.config import CatalogConfig
from vlassdask.errors import InputError
from vlassdask.imaging.node_grid import interpolate_nodes, node_count
from vlassdask.kernels.box_stats import clipped_box_stats

#: Nodes along each axis handled by one task.
NODES_PER_TASK = 32


@dataclass(frozen=True)
class Background:
    """Lazy background maps of one image, (nx, ny) each, chunked like the image.

    Attributes
    ----------
    mean, rms
        Background level and noise (image units).
    """

    mean: da.Array
    rms: da.Array


def _node_block(pixels: np.ndarray, xs: np.ndarray, ys: np.ndarray, box: tuple[int, int],
                clip: float) -> np.ndarray:  # fmt: skip
    values = np.asarray(pixels, dtype=np.float64)
    mean, rms = clipped_box_stats(values, xs, ys, box[0], box[1], clip)
    return np.stack([mean, rms])


def box_stat_nodes(image: da.Array, box: int, step: int, clip: float) -> da.Array:
    """Clipped (mean, rms) at the nodes of a 2-D image, lazily: shape (2, nodes_x, nodes_y)."""
    nx, ny = image.shape
    bx, by = min(box, nx), min(box, ny)
    starts = [np.clip(np.arange(node_count(n, step)) * step - b // 2, 0, n - b)
              for n, b in ((nx, bx), (ny, by))]  # fmt: skip
    rows = []
    for i in range(0, starts[0].size, NODES_PER_TASK):
        gx = starts[0][i:i + NODES_PER_TASK]
        row = []
        for j in range(0, starts[1].size, NODES_PER_TASK):
            gy = starts[1][j:j + NODES_PER_TASK]
            cut = image[gx[0]:gx[-1] + bx, gy[0]:gy[-1] + by]
            part = dask.delayed(_node_block)(cut, gx - gx[0], gy - gy[0], (bx, by), clip)
            row.append(da.from_delayed(part, (2, gx.size, gy.size), dtype=np.float64))
        rows.append(row)
    return da.concatenate([da.concatenate(row, axis=2) for row in rows], axis=1)


def _fill_nan_nodes(nodes: np.ndarray) -> np.ndarray:
    """Replace NaN nodes (boxes with no finite pixel) by the nearest finite node."""
    bad = ~np.isfinite(nodes)
    if not bad.any() or bad.all():
        return nodes
    index = ndimage.distance_transform_edt(bad, return_distances=False, return_indices=True)
    return nodes[tuple(index)]


def _grow(mask: np.ndarray, radius: int) -> np.ndarray:
    return ndimage.maximum_filter(mask, size=2 * radius + 1)


def background_maps(image: da.Array, config: CatalogConfig, *, scheduler: str | None = None
                    ) -> Background:  # fmt: skip
    """Mean and rms maps of ``image`` (see the module docstring).

    The node statistics are computed here (small arrays: one value per ``step`` pixels); the
    full-resolution maps stay lazy.

    Parameters
    ----------
    image
        (nx, ny) dask array; NaN pixels (blanked, outside the primary beam) are ignored.
    config
        ``rms_box``, ``rms_box_bright``, ``bright_snr`` and ``clip_sigma`` are used.
    scheduler
        dask scheduler of the node statistics (default: the current one).

    Returns
    -------
    Background
        float32 maps chunked like ``image``.

    Raises
    ------
    InputError
        If the image has no finite pixel.
    """
    box, step = config.rms_box
    sbox, sstep = config.rms_box_bright
    large, small = dask.compute(box_stat_nodes(image, box, step, config.clip_sigma),
                                box_stat_nodes(image, sbox, sstep, config.clip_sigma),
                                scheduler=scheduler)
    if not np.isfinite(large).any():
        raise InputError("image has no finite pixel (all NaN or infinite): nothing to search")
    large = np.stack([_fill_nan_nodes(p) for p in large])
    small = np.stack([_fill_nan_nodes(p) for p in small])
    shape, chunks = image.shape, image.chunks
    mean = interpolate_nodes(large[0], shape, step, chunks=chunks)
    rms = interpolate_nodes(large[1], shape, step, chunks=chunks)
    bright = da.map_overlap(_grow, (image - mean) > config.bright_snr * rms, depth=sbox,
                            boundary="none", radius=sbox, dtype=bool)
    mean_s = interpolate_nodes(small[0], shape, sstep, chunks=chunks)
    rms_s = interpolate_nodes(small[1], shape, sstep, chunks=chunks)
    return Background(mean=da.where(bright, mean_s, mean),
                      rms=da.where(bright, da.maximum(rms_s, rms), rms))
