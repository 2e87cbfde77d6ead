"""Islands of emission in a region of the image, and which of them the region may fit.

A pixel belongs to an island when it lies ``thresh_isl`` sigma above the background mean; islands
are 8-connected groups of at least ``minpix`` such pixels (``minpix_isl``) that hold at least one
pixel above ``thresh_pix`` sigma.

The finder works chunk by chunk without joining labels across chunks: each chunk is labelled
together with a halo around it (:func:`region_islands`). A chunk *owns* the islands whose
brightest pixel lies in it (the chunks partition the image, so every island has one owner). An
owned island whose bounding box, grown by the cut-out pad, lies inside the region (or reaches
only the image's own edges) is *complete*: no pixel of it lies beyond the region, so its
labelled pixels are exactly the global island, and it is fitted in the same task. An owned
island that reaches the region's edge is handed back and labelled again in a larger region
around it (islands larger than the halo are rare). The brightest pixel of an island is the first
in row-major order on ties, which is the same pixel in every region that holds the island.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from vlassdask.kernels.label_stats import label_stats

#: 8-connectivity (PyBDSF's island connectivity).
CONNECTIVITY = np.ones((3, 3), dtype=bool)


@dataclass(frozen=True)
class RegionIslands:
    """The islands a region owns.

    Attributes
    ----------
    labels
        (nx, ny) int32 labels of the region (0: no island).
    label
        (n,) label of each owned island.
    boxes
        (n, 4) ``x0, x1, y0, y1`` bounding boxes in image pixels (end exclusive).
    peaks
        (n, 2) image pixel of each island's brightest pixel.
    complete
        (n,) bool: the island (grown by the pad) lies inside the region.
    """

    labels: np.ndarray
    label: np.ndarray
    boxes: np.ndarray
    peaks: np.ndarray
    complete: np.ndarray


def signal_to_noise(image: np.ndarray, mean: np.ndarray, rms: np.ndarray) -> np.ndarray:
    """``(image - mean) / rms`` (float64) with NaN where the image or rms is not finite or
    rms <= 0."""
    valid = np.isfinite(image) & (rms > 0)
    return np.where(valid, (image - mean) / np.where(valid, rms, 1.0), np.nan)


def region_islands(snr: np.ndarray, origin: tuple[int, int], core: tuple[int, int, int, int],
                   image_shape: tuple[int, int], pad: int, *, thresh_isl: float,
                   thresh_pix: float, minpix: int) -> RegionIslands:  # fmt: skip
    """Label one region and list the islands it owns (see the module docstring).

    Parameters
    ----------
    snr
        (nx, ny) signal-to-noise of the region (NaN is below any threshold).
    origin
        Image pixel of the region's ``[0, 0]``.
    core
        ``x0, x1, y0, y1`` image pixels whose islands the region owns.
    image_shape
        Shape of the whole image.
    pad
        Pixels around an island's bounding box that its fit needs.
    thresh_isl, thresh_pix
        Island and seed thresholds (sigma).
    minpix
        Fewest pixels of an island.

    Returns
    -------
    RegionIslands
        Islands of at least ``minpix`` pixels with a pixel at or above ``thresh_pix`` whose peak
        lies in ``core``, in row-major order of their peaks.
    """
    labels, n = ndimage.label(snr > thresh_isl, structure=CONNECTIVITY)
    boxes, sizes, peak_snr, where = label_stats(labels, snr, n)
    boxes = boxes + np.repeat(origin, 2)
    peaks = where + origin
    owned = ((peak_snr >= thresh_pix) & (sizes >= minpix)
             & (peaks[:, 0] >= core[0]) & (peaks[:, 0] < core[1])
             & (peaks[:, 1] >= core[2]) & (peaks[:, 1] < core[3]))  # fmt: skip
    rx = (origin[0], origin[0] + snr.shape[0])
    ry = (origin[1], origin[1] + snr.shape[1])
    inside = np.ones(n, dtype=bool)
    for axis, (lo, hi) in enumerate((rx, ry)):
        start = np.maximum(boxes[:, 2 * axis] - pad, 0)
        stop = np.minimum(boxes[:, 2 * axis + 1] + pad, image_shape[axis])
        inside &= (start >= lo) & (stop <= hi)
    index = np.flatnonzero(owned)
    index = index[np.lexsort((peaks[index, 1], peaks[index, 0]))]
    return RegionIslands(labels, index + 1, boxes[index], peaks[index], inside[index])
