"""Numba kernel of per-label statistics of a labelled image, in one pass.

For labels ``1..n`` of an integer label image (0: background) it returns each label's bounding
box, pixel count, and the maximum of a value image over the label with its first position in C
order: what ``scipy.ndimage.find_objects``, ``maximum``, ``maximum_position`` and a
``bincount`` give, without their per-call sorting.
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, nogil=True)
def label_stats(labels: np.ndarray, values: np.ndarray, n: int):
    """Per-label ``(boxes, counts, peaks, where)`` of an (nx, ny) label image.

    Returns
    -------
    boxes : int64 (n, 4)
        ``x0, x1, y0, y1`` (end exclusive).
    counts : int64 (n,)
        Pixels.
    peaks : float64 (n,)
        Largest value.
    where : int64 (n, 2)
        Its pixel (the first in C order).
    """
    boxes = np.empty((n, 4), dtype=np.int64)
    boxes[:, 0] = labels.shape[0]
    boxes[:, 1] = -1
    boxes[:, 2] = labels.shape[1]
    boxes[:, 3] = -1
    counts = np.zeros(n, dtype=np.int64)
    peaks = np.full(n, -np.inf)
    where = np.zeros((n, 2), dtype=np.int64)
    for i in range(labels.shape[0]):
        for j in range(labels.shape[1]):
            k = labels[i, j] - 1
            if k < 0:
                continue
            counts[k] += 1
            boxes[k, 0] = min(boxes[k, 0], i)
            boxes[k, 1] = max(boxes[k, 1], i + 1)
            boxes[k, 2] = min(boxes[k, 2], j)
            boxes[k, 3] = max(boxes[k, 3], j + 1)
            if values[i, j] > peaks[k]:
                peaks[k] = values[i, j]
                where[k, 0] = i
                where[k, 1] = j
    return boxes, counts, peaks, where
