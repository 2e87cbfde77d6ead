"""Image-plane steps of one w-layer: FFT output -> image accumulation, and its adjoint.

After the forward FFT of a layer's grid (gridded with checkerboard-signed taps), the image pixel
(x, y) is found at grid index (G/2 - N/2 + x, G/2 - N/2 + y) times the sign (-1)^(index sum). The
layer's w phase exp(-2 pi i w_layer (n - 1)) is applied exactly per pixel and the real part is
accumulated; nothing image-sized is allocated here.
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, nogil=True, inline="always")
def _n_minus_one(l, m):
    r2 = l * l + m * m
    return -r2 / (1.0 + np.sqrt(max(1.0 - r2, 0.0)))


@numba.njit(cache=True, nogil=True, fastmath=True)
def _accumulate(image, grid, cell, w_layer):
    nx, ny = image.shape
    ngrid = grid.shape[0]
    ox = ngrid // 2 - nx // 2
    oy = ngrid // 2 - ny // 2
    for x in range(nx):
        l = -(x - nx // 2) * cell
        gx = ox + x
        for y in range(ny):
            gy = oy + y
            val = grid[gx, gy]
            sign = 1.0 - 2.0 * ((gx + gy) & 1)
            if w_layer != 0.0:
                m = (y - ny // 2) * cell
                ph = -2.0 * np.pi * w_layer * _n_minus_one(l, m)
                image[x, y] += sign * (val.real * np.cos(ph) - val.imag * np.sin(ph))
            else:
                image[x, y] += sign * val.real


@numba.njit(cache=True, nogil=True)
def _spread(image, grid, cell, w_layer):
    nx, ny = image.shape
    ngrid = grid.shape[0]
    ox = ngrid // 2 - nx // 2
    oy = ngrid // 2 - ny // 2
    for x in range(nx):
        l = -(x - nx // 2) * cell
        gx = ox + x
        for y in range(ny):
            gy = oy + y
            val = image[x, y] + 0j
            if w_layer != 0.0:
                m = (y - ny // 2) * cell
                ph = 2.0 * np.pi * w_layer * _n_minus_one(l, m)
                val = image[x, y] * (np.cos(ph) + 1j * np.sin(ph))
            if (gx + gy) & 1:
                val = -val
            grid[gx, gy] = val


def accumulate_layer(image: np.ndarray, fft_grid: np.ndarray, *, cell: float,
                     w_layer: float) -> np.ndarray:
    """Add Re{layer image x exp(-2 pi i w_layer (n - 1))} to ``image`` (float (nx, ny)) in place.

    ``fft_grid`` is the forward FFT of the layer's (G, G) grid.
    """
    _accumulate(image, fft_grid, cell, w_layer)
    return image


def spread_layer(image: np.ndarray, grid: np.ndarray, *, cell: float, w_layer: float) -> np.ndarray:
    """Adjoint of :func:`accumulate_layer`: write the signed, w-phased image into ``grid``.

    ``grid`` (G, G) must be zero outside the central (nx, ny) region; the caller then applies the
    adjoint (backward, unnormalised) FFT.
    """
    _spread(image, grid, cell, w_layer)
    return grid
