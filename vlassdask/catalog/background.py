"""Background mean and rms, PyBDSF style, as node grids computed over regions of the image.

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

Three passes over the image, each a set of independent tasks that read their own region of the
image (no image block is shared between tasks, so none is kept waiting for a neighbour): the
large-box nodes, the bright pixels (per chunk), and the small-box nodes near them. The result,
:class:`Background`, holds only node grids and the bright pixels' positions; the tasks that need
maps interpolate them for their own region (:meth:`Background.maps`).

Peak memory per task: the pixels under one group of node boxes (about
(:data:`TASK_PIXELS` + box)^2 float64, with float32 mean and rms maps of the region in the
small-box pass) or one chunk; the client holds the node grids and the positions of the bright
pixels (16 bytes each).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import dask
import dask.array as da
import numpy as np
from scipy import ndimage

from vlassdask.catalog.config import CatalogConfig
from vlassdask.catalog.regions import RegionReader
from vlassdask.errors import InputError
from vlassdask.imaging.graph import shared
from vlassdask.imaging.node_grid import box_starts, node_count
from vlassdask.kernels.box_stats import clipped_box_stats, clipped_normal_std
from vlassdask.kernels.interpolation import bilinear_nodes

#: Pixels along each axis spanned by the nodes of one task (so that tasks are few and large).
TASK_PIXELS = 1024
#: A map whose node scatter is within this factor of the box statistics' own noise is taken as
#: constant (PyBDSF's threshold for a significant rms variation).
VARIATION_MARGIN = 1.1


@dataclass(frozen=True)
class Background:
    """Background of one image as node grids, from which the mean and rms maps of any region
    are interpolated (:meth:`maps`); a few megabytes whatever the image size.

    Attributes
    ----------
    large
        (2, nodes_x, nodes_y) clipped mean and rms at the ``step``-pixel nodes.
    step
        Pixels between the large-box nodes.
    small_rms
        Small-box rms at the ``small_step``-pixel nodes, or None when no pixel is bright.
    small_step
        Pixels between the small-box nodes.
    bright
        (n, 2) int64 image pixels above ``bright_snr`` large-box sigma.
    radius
        Pixels within this distance (a square) of a bright pixel use the small-box rms.
    """

    large: np.ndarray
    step: int
    small_rms: np.ndarray | None
    small_step: int
    bright: np.ndarray
    radius: int

    def maps(self, x0: int, x1: int, y0: int, y1: int) -> tuple[np.ndarray, np.ndarray]:
        """float32 mean and rms maps of pixels ``[x0, x1) x [y0, y1)``.

        Peak memory: three float32 region-sized arrays and a bool mask grown by ``radius``.
        """
        shape = (x1 - x0, y1 - y0)
        mean = _interpolated(self.large[0], x0, y0, self.step, shape)
        rms = _interpolated(self.large[1], x0, y0, self.step, shape)
        if self.small_rms is None:
            return mean, rms
        near = _near_mask(self.bright, self.radius, (x0, x1, y0, y1))
        if near.any():
            rms_small = _interpolated(self.small_rms, x0, y0, self.small_step, shape)
            rms = np.where(near, np.maximum(rms_small, rms), rms)
        return mean, rms


def _interpolated(nodes: np.ndarray, x0: int, y0: int, step: int, shape: tuple[int, int]
                  ) -> np.ndarray:  # fmt: skip
    out = np.empty(shape, dtype=np.float32)
    bilinear_nodes(np.asarray(nodes, dtype=np.float64), int(x0), int(y0), float(step), out)
    return out


def _node_block(reader: RegionReader, region: tuple[int, int, int, int], xs: np.ndarray,
                ys: np.ndarray, box: tuple[int, int], clip: float, wanted: np.ndarray,
                exclude: tuple[Background, float] | None) -> np.ndarray:  # fmt: skip
    values = reader.read(*region)
    if exclude is not None:
        large, thresh = exclude
        x0, _, y0, _ = region
        mean, rms = large.maps(x0, x0 + values.shape[0], y0, y0 + values.shape[1])
        values = np.where((values - mean) > thresh * rms, np.nan, values)
    mean, rms = clipped_box_stats(values, xs, ys, box[0], box[1], wanted, clip)
    return np.stack([mean, rms / clipped_normal_std(clip)])


def box_stat_nodes(reader: Any, shape: tuple[int, int], box: int, step: int, clip: float,
                   wanted: np.ndarray | None = None,
                   exclude: tuple[Any, float] | None = None) -> da.Array:  # fmt: skip
    """Clipped (mean, rms) at the nodes of a 2-D image, lazily: shape (2, nodes_x, nodes_y).

    The rms is divided by :func:`clipped_normal_std` of ``clip``, so that it is unbiased for
    Gaussian noise (iterated 3-sigma clipping alone gives 0.985 sigma).

    ``wanted`` (bool, nodes_x x nodes_y) limits the work to those nodes; the others are NaN.
    ``exclude = (background, thresh)`` leaves out the pixels above ``thresh`` sigma of that
    :class:`Background` (or a delayed one). ``reader`` is a
    :class:`~vlassdask.catalog.regions.RegionReader` of the image (or a delayed one): each task
    reads its own region.
    """
    nx, ny = shape
    bx, by = min(box, nx), min(box, ny)
    starts = [box_starts(n, b, step) for n, b in ((nx, bx), (ny, by))]
    per_task = max(1, TASK_PIXELS // step)
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
            part = dask.delayed(_node_block)(reader, region, gx - gx[0], gy - gy[0], (bx, by),
                                             clip, mask, exclude)
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


def _near_mask(pixels: np.ndarray, radius: int, region: tuple[int, int, int, int]
               ) -> np.ndarray:  # fmt: skip
    """The pixels of ``region`` (x0, x1, y0, y1) within ``radius`` (a square) of any of the
    bright ``pixels`` ((n, 2) image pixels)."""
    x0, x1, y0, y1 = region
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


def background_maps(image: RegionReader, config: CatalogConfig, *,
                    beam_area_pixels: float | None = None,
                    scheduler: str | None = None) -> Background:  # fmt: skip
    """The background of an image (see the module docstring).

    Parameters
    ----------
    image
        Reader of the (nx, ny) image (tasks read their regions of it); NaN pixels (blanked,
        outside the primary beam) are ignored.
    config
        ``rms_box``, ``rms_box_bright``, ``bright_snr``, ``thresh_isl``, ``clip_sigma`` and
        ``chunk_pixels`` are used.
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
        The node grids and bright pixels; :meth:`Background.maps` gives the maps of a region.

    Raises
    ------
    InputError
        If the image has no finite pixel.
    """
    box, step = config.rms_box
    sbox, sstep = config.rms_box_bright
    reader = shared(image)
    large = box_stat_nodes(reader, image.shape, box, step, config.clip_sigma)
    large = large.compute(scheduler=scheduler)
    if not np.isfinite(large).any():
        raise InputError("image has no finite pixel (all NaN or infinite): nothing to search")
    large = _constant_if_flat(np.stack([_fill_nan_nodes(p) for p in large]), box,
                              beam_area_pixels)
    no_bright = np.empty((0, 2), dtype=np.int64)
    coarse = Background(large, step, None, sstep, no_bright, sbox)
    pixels = _bright_pixels(reader, image.shape, shared(coarse), config, scheduler)
    if pixels.size == 0:
        return coarse
    grid = np.zeros([node_count(n, sstep) for n in image.shape], dtype=bool)
    grid[pixels[:, 0] // sstep, pixels[:, 1] // sstep] = True
    wanted = ndimage.maximum_filter(grid, size=2 * (sbox // sstep + 2) + 1)
    # the small boxes measure the noise around sources: island pixels (above thresh_isl large-box
    # sigma) are left out, else a box lying on an extended source measures the source
    small = box_stat_nodes(reader, image.shape, sbox, sstep, config.clip_sigma, wanted,
                           exclude=(shared(coarse), config.thresh_isl))  # fmt: skip
    small_rms = _fill_nan_nodes(small[1].compute(scheduler=scheduler))
    return Background(large, step, small_rms, sstep, pixels, sbox)


def _bright_in(reader: RegionReader, region: tuple[int, int, int, int], coarse: Background,
               bright_snr: float) -> np.ndarray:  # fmt: skip
    image = reader.read(*region)
    x0, _, y0, _ = region
    mean, rms = coarse.maps(x0, x0 + image.shape[0], y0, y0 + image.shape[1])
    return (np.argwhere((image - mean) > bright_snr * rms) + [x0, y0]).astype(np.int64)


def _bright_pixels(reader: Any, shape: tuple[int, int], coarse: Any, config: CatalogConfig,
                   scheduler: str | None) -> np.ndarray:  # fmt: skip
    """(n, 2) int64 image pixels above ``bright_snr`` sigma of the large-box maps, found chunk
    by chunk."""
    nx, ny = shape
    size = config.chunk_pixels
    parts = [dask.delayed(_bright_in)(reader, (x0, min(x0 + size, nx), y0, min(y0 + size, ny)),
                                      coarse, config.bright_snr)
             for x0 in range(0, nx, size) for y0 in range(0, ny, size)]  # fmt: skip
    return np.concatenate(dask.compute(*parts, scheduler=scheduler))
