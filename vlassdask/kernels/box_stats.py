"""Numba kernel of sigma-clipped box statistics (PyBDSF-style background mean and rms).

For every node the kernel takes the ``box x box`` pixels starting at ``(xs[i], ys[j])``, ignores
non-finite pixels and iterates: mean and standard deviation of the kept pixels, then drop the
pixels more than ``nsigma`` standard deviations from the mean, until nothing more is dropped or
``max_iter`` iterations have run (PyBDSF's ``_cstat`` clipping). One pass per iteration, no
temporaries beyond a box-sized buffer.
"""

from __future__ import annotations

import math

import numba
import numpy as np


@numba.njit(cache=True, nogil=True)
def _clipped(values, count, nsigma, max_iter):
    lo, hi = -np.inf, np.inf
    mean, std = np.nan, np.nan
    kept_before = -1
    for _ in range(max_iter):
        total, total2, kept = 0.0, 0.0, 0
        for k in range(count):
            v = values[k]
            if lo <= v <= hi:
                total += v
                total2 += v * v
                kept += 1
        if kept < 2:
            break
        mean = total / kept
        std = np.sqrt(max(total2 / kept - mean * mean, 0.0))
        if kept == kept_before:
            break
        kept_before = kept
        lo, hi = mean - nsigma * std, mean + nsigma * std
    return mean, std


@numba.njit(cache=True, nogil=True)
def clipped_box_stats(pixels, xs, ys, box_x, box_y, wanted, nsigma=3.0, max_iter=10):
    """Sigma-clipped mean and rms in boxes.

    Parameters
    ----------
    pixels
        (nx, ny) float image block.
    xs, ys
        Start pixels of the boxes along x and y (boxes lie inside ``pixels``).
    box_x, box_y
        Box sides in pixels.
    wanted
        (xs.size, ys.size) bool: the boxes to measure (the others stay NaN).
    nsigma, max_iter
        Clipping threshold and iteration limit.

    Returns
    -------
    mean, rms
        (xs.size, ys.size) float64 arrays; NaN where a box has fewer than 2 finite pixels.
    """
    mean = np.full((xs.size, ys.size), np.nan)
    rms = np.full((xs.size, ys.size), np.nan)
    values = np.empty(box_x * box_y)
    for i in range(xs.size):
        for j in range(ys.size):
            if not wanted[i, j]:
                continue
            count = 0
            for a in range(xs[i], xs[i] + box_x):
                for b in range(ys[j], ys[j] + box_y):
                    v = pixels[a, b]
                    if np.isfinite(v):
                        values[count] = v
                        count += 1
            mean[i, j], rms[i, j] = _clipped(values, count, nsigma, max_iter)
    return mean, rms


def clipped_normal_std(nsigma: float, iterations: int = 100) -> float:
    """Standard deviation, in units of sigma, that iterated ``nsigma`` clipping converges to on
    Gaussian noise (the fixed point ``s = std(N(0, 1) truncated at +- nsigma s)``): 0.985 at 3.

    The std of a standard normal truncated at ``+- c`` is ``sqrt(1 - 2 c phi(c) / erf(c /
    sqrt 2))``.
    """
    s = 1.0
    for _ in range(iterations):
        c = nsigma * s
        phi = math.exp(-0.5 * c * c) / math.sqrt(2.0 * math.pi)
        s = math.sqrt(1.0 - 2.0 * c * phi / math.erf(c / math.sqrt(2.0)))
    return s
