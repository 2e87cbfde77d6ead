"""Image-plane steps of one w-layer: FFT output -> image accumulation, and its adjoint.

After the forward FFT of a layer's grids (gridded with checkerboard-signed taps), image pixel
(x, y) is found at grid index (G/2 - N/2 + x, G/2 - N/2 + y) times the sign (-1)^(index sum).
With the first-order Fresnel grid F1 (values times the residual w), the layer image is

    Re{ exp(-2 pi i w_layer (n - 1)) (F0 - 2 pi i q F1) },  q = (n - 1) + alpha (l^2 + m^2),

q being what the separable kernels' quadratic phase leaves out. Nothing image-sized is allocated.
"""

from __future__ import annotations

import numba
import numpy as np

from vlassdask.kernels.threads import numba_pool


@numba.njit(cache=True, nogil=True, inline="always")
def _n_minus_one(l, m):
    r2 = l * l + m * m
    return -r2 / (1.0 + np.sqrt(max(1.0 - r2, 0.0)))


@numba.njit(cache=True, nogil=True, inline="always")
def _phases(l, m, w_layer, alpha):
    """(w phase of the layer, 2 pi q) at (l, m): exp(-i phase) is the layer's exp(-2 pi i w
    (n - 1)) and q = n - 1 + alpha r^2 what the separable kernels leave out."""
    nm1 = _n_minus_one(l, m)
    return 2.0 * np.pi * w_layer * nm1, 2.0 * np.pi * (nm1 + alpha * (l * l + m * m))


@numba.njit(cache=True, nogil=True, inline="always")
def _origin(image, grids):
    """Grid index of image pixel (0, 0) along both axes, and whether there is a companion grid."""
    ngrid = grids.shape[1]
    return ngrid // 2 - image.shape[0] // 2, ngrid // 2 - image.shape[1] // 2, grids.shape[0] > 1


@numba.njit(cache=True, nogil=True, fastmath=True, inline="always")
def _layer_row(image, grids, x, cell, w_layer, alpha, spread):
    """Row ``x`` of a layer's image pass: accumulate the FFT'd grids into ``image``, or (with
    ``spread``) write the signed, w-phased image into the grids."""
    nx, ny = image.shape
    ox, oy, first_order = _origin(image, grids)
    l = -(x - nx // 2) * cell
    gx = ox + x
    for y in range(ny):
        gy = oy + y
        sign = 1.0 - 2.0 * ((gx + gy) & 1)
        if not spread and w_layer == 0.0 and not first_order:
            image[x, y] += sign * grids[0, gx, gy].real
            continue
        ph, q = _phases(l, (y - ny // 2) * cell, w_layer, alpha)
        if spread:
            val = sign * image[x, y] * (np.cos(ph) + 1j * np.sin(ph))
            grids[0, gx, gy] = val
            if first_order:
                grids[1, gx, gy] = 1j * q * val
            continue
        val = grids[0, gx, gy]
        re = val.real
        im = val.imag
        if first_order:
            val1 = grids[1, gx, gy]
            re += q * val1.imag
            im -= q * val1.real
        image[x, y] += sign * (re * np.cos(ph) + im * np.sin(ph))


@numba.njit(cache=True, nogil=True, fastmath=True)
def _layer_pass(image, grids, cell, w_layer, alpha, spread):
    for x in range(image.shape[0]):
        _layer_row(image, grids, x, cell, w_layer, alpha, spread)


@numba.njit(cache=True, nogil=True, fastmath=True, parallel=True)
def _layer_pass_parallel(image, grids, cell, w_layer, alpha, spread):
    for x in numba.prange(image.shape[0]):
        _layer_row(image, grids, x, cell, w_layer, alpha, spread)


def _run_layer_pass(image, grids, cell, w_layer, alpha, spread, nthreads):
    """One image pass (spread or accumulate), on numba's pool when it is free."""
    with numba_pool(nthreads) as parallel:
        kernel = _layer_pass_parallel if parallel else _layer_pass
        kernel(image, grids, cell, w_layer, alpha, spread)


def accumulate_layer(image: np.ndarray, fft_grids: np.ndarray, *, cell: float, w_layer: float,
                     alpha: float = 0.5, nthreads: int = 1) -> np.ndarray:
    """Add the layer's real, w-phased image to ``image`` (float (nx, ny)) in place.

    ``fft_grids`` is the forward FFT of the layer's (1, G, G) grid, or (2, G, G) with the
    first-order Fresnel grid; ``alpha`` is the plan's fitted Fresnel coefficient. Rows are
    shared among ``nthreads`` of numba's threads when its pool is free
    (:func:`vlassdask.kernels.threads.numba_pool`); the result is the same either way.
    """
    _run_layer_pass(image, fft_grids, cell, w_layer, alpha, False, nthreads)
    return image


def spread_layer(image: np.ndarray, grids: np.ndarray, *, cell: float, w_layer: float,
                 alpha: float = 0.5, nthreads: int = 1) -> np.ndarray:
    """Adjoint of :func:`accumulate_layer`: write the signed, w-phased image into ``grids``.

    ``grids`` ((1 or 2), G, G) must be zero outside the central (nx, ny) region; the caller then
    applies the adjoint (backward, unnormalised) FFT to each. ``nthreads`` as for
    :func:`accumulate_layer`.
    """
    _run_layer_pass(image, grids, cell, w_layer, alpha, True, nthreads)
    return grids
