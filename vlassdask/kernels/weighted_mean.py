"""Numba kernels of the RMS-weighted mean of co-registered image planes (combined epochs).

Each epoch adds ``w = 1 / (scale * rms)^2`` times its image to a numerator and ``w`` to a weight
sum where the image is finite and ``0 < w < inf`` (a finite, positive rms), and counts itself in
the coverage there; :func:`finish_weighted_mean` turns the sums into the mean and its rms
(``sum(w)^-1/2``), NaN where no epoch contributes. One pass over each input, no temporaries.
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, nogil=True)
def accumulate_weighted(sky, rms, scale, numerator, weight_sum, coverage):
    """Add one epoch (``sky``, ``rms``: (nx, ny), any layout) to the running sums (in place)."""
    nx, ny = sky.shape
    for i in range(nx):
        for j in range(ny):
            value = sky[i, j]
            noise = rms[i, j] * scale
            if not (np.isfinite(value) and noise > 0.0):
                continue
            weight = 1.0 / (noise * noise)
            if weight > 0.0 and np.isfinite(weight):
                numerator[i, j] += weight * value
                weight_sum[i, j] += weight
                coverage[i, j] += 1


@numba.njit(cache=True, nogil=True)
def finish_weighted_mean(numerator, weight_sum, coverage):
    """Turn the sums into the mean (in ``numerator``) and its rms (in ``weight_sum``), in place."""
    nx, ny = numerator.shape
    for i in range(nx):
        for j in range(ny):
            if coverage[i, j] > 0:
                numerator[i, j] /= weight_sum[i, j]
                weight_sum[i, j] = 1.0 / np.sqrt(weight_sum[i, j])
            else:
                numerator[i, j] = np.nan
                weight_sum[i, j] = np.nan
