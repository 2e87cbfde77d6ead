"""Background mean and rms maps, PyBDSF style, as lazy dask computations over image chunks.

Sigma-clipped mean and rms (:func:`vlassdask.kernels.box_stats.clipped_box_stats`) are measured
in boxes of ``rms_box = (box, step)`` pixels centred on nodes every ``step`` pixels and
interpolated bilinearly between the nodes (:mod:`vlassdask.imaging.node_grid`). Near bright
sources (pixels above ``bright_snr`` large-box sigma, grown by one small box) the rms from the
smaller ``rms_box_bright`` boxes is used, which follows the raised noise around bright sources
(PyBDSF's ``adaptive_rms_box``); there the rms is the larger of the two maps, so a small box
that happens to sit on clean sky never lowers the threshold next to a bright source. The small
boxes leave out island pixels (above ``thresh_isl`` large-box sigma) and the mean stays the
large-box mean: a small box lying on an extended source (a 6" source in 0.6" pixels fills a
20-pixel box) would otherwise take the source for noise or background. Clipped rms values are
divided by the clipping's Gaussian consistency factor (0.985 at 3 sigma), and a map that varies
no more than the box statistics' own noise is replaced by a constant (PyBDSF's choice).

Peak memory per task: the pixels under one group of node boxes (about
:data:`TASK_PIXELS` squared) plus one output chunk; the client holds the node grids and the
positions of the bright pixels (16 bytes each), from which each chunk's "near a bright source"
mask is made without its neighbours.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import dask
import dask.array as da
import numpy as np
from scipy import ndimage

from vlassdask.catalog.blocks import BlockGrid, assemble
from vlassdask.catalog.config import CatalogConfig
from vlassdask.errors import InputError
from vlassdask.imaging.node_grid import box_starts, interpolate_nodes, node_count
from vlassdask.kernels.box_stats import clipped_box_stats, clipped_normal_std

#: Pixels along each axis spanned by the nodes of one task (so that tasks are few and large).
TASK_PIXELS = 1024
#: A map whose node scatter is within this factor of the box statistics' own noise is taken as
#: constant (PyBDSF's threshold for a significant rms variation).
VARIATION_MARGIN = 1.1


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


def _node_block(blocks: list, origin: tuple[int, int], region: tuple[int, int, int, int],
                xs: np.ndarray, ys: np.ndarray, box: tuple[int, int], clip: float,
                wanted: np.ndarray) -> np.ndarray:  # fmt: skip
    values = assemble(blocks[0], origin, *region)
    mean, rms = clipped_box_stats(values, xs, ys, box[0], box[1], wanted, clip)
    return np.stack([mean, rms / clipped_normal_std(clip)])


def box_stat_nodes(image: da.Array, box: int, step: int, clip: float,
                   wanted: np.ndarray | None = None) -> da.Array:  # fmt: skip
    """Clipped (mean, rms) at the nodes of a 2-D image, lazily: shape (2, nodes_x, nodes_y).

    The rms is divided by :func:`clipped_normal_std` of ``clip``, so that it is unbiased for
    Gaussian noise (iterated 3-sigma clipping alone gives 0.985 sigma).

    ``wanted`` (bool, nodes_x x nodes_y) limits the work to those nodes; the others are NaN.
    """
    nx, ny = image.shape
    bx, by = min(box, nx), min(box, ny)
    starts = [box_starts(n, b, step) for n, b in ((nx, bx), (ny, by))]
    per_task = max(1, TASK_PIXELS // step)
    grid = BlockGrid.of(image)
    rows = []
    for i in range(0, starts[0].size, per_task):
        gx = starts[0][i:i + per_task]
        row = []
        for j in range(0, starts[1].size, per_task):
            gy = starts[1][j:j + per_task]
            mask = (np.ones((gx.size, gy.size), dtype=bool) if wanted is None
                    else wanted[i:i + gx.size, j:j + gy.size])  # fmt: skip
            if not mask.any():
                row.append(da.full((2, gx.size, gy.size), np.nan, chunks=-1))
                continue
            region = (int(gx[0]), int(gx[-1] + bx), int(gy[0]), int(gy[-1] + by))
            blocks, origin = grid.covering(*region)
            part = dask.delayed(_node_block)(blocks, origin, region, gx - gx[0], gy - gy[0],
                                             (bx, by), clip, mask)
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


def _near_mask(pixels: np.ndarray, radius: int, block_info=None) -> np.ndarray:
    """The pixels of one chunk within ``radius`` (a square) of any of the bright ``pixels``
    ((n, 2) image pixels)."""
    (x0, x1), (y0, y1) = block_info[None]["array-location"]
    mask = np.zeros((x1 - x0 + 2 * radius, y1 - y0 + 2 * radius), dtype=bool)
    local = pixels - [x0 - radius, y0 - radius]
    keep = ((local >= 0) & (local < mask.shape)).all(axis=1)
    if not keep.any():
        return np.zeros((x1 - x0, y1 - y0), dtype=bool)
    mask[local[keep, 0], local[keep, 1]] = True
    grown = ndimage.maximum_filter(mask, size=2 * radius + 1)
    return grown[radius:-radius or None, radius:-radius or None]


def _constant_if_flat(nodes: np.ndarray, box: int, beam_area_pixels: float | None,
                      margin: float = VARIATION_MARGIN) -> np.ndarray:  # fmt: skip
    """The (mean, rms) node grids, each replaced by its median where its scatter over the nodes
    is no more than ``margin`` times what the box statistics' own noise gives on flat Gaussian
    noise correlated over the beam (box rms: ``sqrt(A) / (2 box)`` of the rms, box mean:
    ``sqrt(A) / box`` of the rms, ``A`` the beam area in pixels): PyBDSF's choice between an
    rms (mean) map and a constant."""
    if beam_area_pixels is None:
        return nodes
    level = float(np.median(nodes[1]))
    expected = (math.sqrt(beam_area_pixels) / box * level,
                math.sqrt(beam_area_pixels) / (2 * box) * level)
    out = nodes.copy()
    for k in (0, 1):
        if np.std(nodes[k]) <= margin * expected[k]:
            out[k] = np.median(nodes[k])
    return out


def background_maps(image: da.Array, config: CatalogConfig, *,
                    beam_area_pixels: float | None = None,
                    scheduler: str | None = None) -> Background:  # fmt: skip
    """Mean and rms maps of ``image`` (see the module docstring).

    The node statistics are computed here (small arrays: one value per ``step`` pixels); the
    full-resolution maps stay lazy.

    Parameters
    ----------
    image
        (nx, ny) dask array; NaN pixels (blanked, outside the primary beam) are ignored.
    config
        ``rms_box``, ``rms_box_bright``, ``bright_snr`` and ``clip_sigma`` are used.
    beam_area_pixels
        Beam area (``1.1331 bmaj bmin``, pixels): when given, a mean or rms map that varies no
        more than the box statistics' own noise is replaced by its median (as PyBDSF does), so
        that on flat noise the threshold does not follow the boxes' random errors (which would
        add false detections where a box happens to measure low).
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
    large = box_stat_nodes(image, box, step, config.clip_sigma).compute(scheduler=scheduler)
    if not np.isfinite(large).any():
        raise InputError("image has no finite pixel (all NaN or infinite): nothing to search")
    large = _constant_if_flat(np.stack([_fill_nan_nodes(p) for p in large]), box,
                              beam_area_pixels)
    shape, chunks = image.shape, image.chunks
    mean = interpolate_nodes(large[0], shape, step, chunks=chunks)
    rms = interpolate_nodes(large[1], shape, step, chunks=chunks)
    bright = (image - mean) > config.bright_snr * rms
    found = _near_bright(bright, sbox, sstep, scheduler)
    if found is None:
        return Background(mean=mean, rms=rms)
    wanted, pixels = found
    # the small boxes measure the noise around sources: island pixels (above thresh_isl large-box
    # sigma) are left out, else a box lying on an extended source measures the source
    around = da.where((image - mean) > config.thresh_isl * rms, np.nan, image)
    small = box_stat_nodes(around, sbox, sstep, config.clip_sigma, wanted)
    small = np.stack([_fill_nan_nodes(p) for p in small.compute(scheduler=scheduler)])
    # from the bright pixels' positions, so that a chunk of the map needs no neighbouring chunks
    near = da.map_blocks(_near_mask, dtype=bool, chunks=chunks, pixels=pixels, radius=sbox)
    rms_s = interpolate_nodes(small[1], shape, sstep, chunks=chunks)
    return Background(mean=mean, rms=da.where(near, da.maximum(rms_s, rms), rms))


def _bright_pixels(block: np.ndarray, block_info=None) -> np.ndarray:
    (x0, _), (y0, _) = block_info[0]["array-location"]
    return (np.argwhere(block) + [x0, y0]).astype(np.int64)


def _near_bright(bright: da.Array, box: int, step: int, scheduler: str | None
                 ) -> tuple[np.ndarray, np.ndarray] | None:  # fmt: skip
    """Small-box nodes whose boxes reach within one box of a bright pixel (bool grid) and the
    bright pixels ((n, 2) int64), or None when no pixel is bright."""
    parts = [dask.delayed(_bright_pixels)(b, block_info={0: {"array-location": loc}})
             for b, loc in zip(bright.to_delayed().ravel(), _locations(bright), strict=True)]
    pixels = np.concatenate(dask.compute(*parts, scheduler=scheduler))
    if pixels.size == 0:
        return None
    grid = np.zeros([node_count(n, step) for n in bright.shape], dtype=bool)
    grid[pixels[:, 0] // step, pixels[:, 1] // step] = True
    return ndimage.maximum_filter(grid, size=2 * (box // step + 2) + 1), pixels


def _locations(array: da.Array) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """``block_info``-style ``array-location`` of every block, in ``to_delayed().ravel()``
    order."""
    edges = [np.cumsum((0,) + c) for c in array.chunks]
    return [((int(edges[0][i]), int(edges[0][i + 1])), (int(edges[1][j]), int(edges[1][j + 1])))
            for i in range(len(array.chunks[0])) for j in range(len(array.chunks[1]))]
