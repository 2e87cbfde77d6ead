"""Numba kernels for imaging weights: gridded weight density and per-visibility factors.

The density grid has the image's own uv cell (1 / field of view, no padding), as CASA and WSClean
use for uniform and Briggs weighting. Visibilities with w < 0 are counted at (-u, -v), where the
gridder puts them.
"""

from __future__ import annotations

import numba
import numpy as np

from vlassdask.kernels.constants import SPEED_OF_LIGHT

NATURAL, UNIFORM, BRIGGS = 0, 1, 2


@numba.njit(cache=True, nogil=True, inline="always")
def _cell(u, v, w, du, dv, nu, nv):
    if w < 0.0:
        u = -u
        v = -v
    iu = int(np.floor(u / du + 0.5)) + nu // 2
    iv = int(np.floor(v / dv + 0.5)) + nv // 2
    return iu, iv


@numba.njit(cache=True, nogil=True)
def accumulate_density(uvw, freq, wsum, density, du, dv):
    """Add each visibility's weight (wsum (row, chan)) to its cell of ``density`` (nu, nv)."""
    nu, nv = density.shape
    for r in range(uvw.shape[0]):
        for c in range(freq.shape[0]):
            wt = wsum[r, c]
            if wt == 0:
                continue
            f = freq[c] / SPEED_OF_LIGHT
            iu, iv = _cell(uvw[r, 0] * f, uvw[r, 1] * f, uvw[r, 2] * f, du, dv, nu, nv)
            if 0 <= iu < nu and 0 <= iv < nv:
                density[iu, iv] += wt
    return density


@numba.njit(cache=True, nogil=True)
def weight_factors(uvw, freq, wsum, density, du, dv, mode, f2, taper):
    """Imaging-weight factor per visibility (float32 (row, chan)).

    mode 0: natural (1); 1: uniform (1 / D); 2: Briggs (1 / (1 + f2 D)); each times the Gaussian
    taper exp(-taper (u^2 + v^2)) (u, v in wavelengths; taper 0 switches it off).
    """
    nu, nv = density.shape
    out = np.zeros(wsum.shape, dtype=np.float32)
    for r in range(uvw.shape[0]):
        for c in range(freq.shape[0]):
            wt = wsum[r, c]
            if wt == 0:
                continue
            f = freq[c] / SPEED_OF_LIGHT
            u = uvw[r, 0] * f
            v = uvw[r, 1] * f
            fac = 1.0
            if mode != NATURAL:
                iu, iv = _cell(u, v, uvw[r, 2] * f, du, dv, nu, nv)
                d = wt
                if 0 <= iu < nu and 0 <= iv < nv:
                    d = density[iu, iv]
                fac = 1.0 / d if mode == UNIFORM else 1.0 / (1.0 + f2 * d)
            if taper > 0.0:
                fac *= np.exp(-taper * (u * u + v * v))
            out[r, c] = fac
    return out
