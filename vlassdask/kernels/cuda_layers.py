"""CUDA (numba-cuda) image-plane steps of one w-layer: FFT output -> image, and its adjoint.

Device twins of :func:`vlassdask.kernels.layers.accumulate_layer` and
:func:`vlassdask.kernels.layers.spread_layer` (same arguments and conventions: the
checkerboard sign of the FFT centring, the layer's exact w phase and the first-order Fresnel
companion grid). One thread per image pixel, 16 x 16 pixels per block; nothing is allocated
(device memory: the (nx, ny) float64 image and the (n_grids, G, G) grids the caller holds).
Launched on cupy arrays on a device, on numpy arrays under the CUDA simulator.
"""

from __future__ import annotations

import math

from numba import cuda

#: Pixels per thread block along each image axis.
PIXEL_BLOCK = 16


@cuda.jit(device=True, inline=True)
def layer_phases(l, m, w_layer, alpha):
    """(w phase of the layer, 2 pi q) at (l, m), as the CPU ``_phases``: exp(-i phase) is the
    layer's exp(-2 pi i w (n - 1)) and q = n - 1 + alpha r^2 what the separable kernels leave
    out."""
    r2 = l * l + m * m
    nm1 = -r2 / (1.0 + math.sqrt(max(1.0 - r2, 0.0)))
    return 2.0 * math.pi * w_layer * nm1, 2.0 * math.pi * (nm1 + alpha * r2)


@cuda.jit(device=True, inline=True)
def pixel(image, grids, cell, w_layer, alpha):
    """This thread's pixel (x, y), its grid cell (gx, gy), the FFT-centring sign and the
    pixel's (phase, 2 pi q) (:func:`layer_phases`); x = -1 for a thread beyond the image."""
    x, y = cuda.grid(2)
    nx, ny = image.shape
    ngrid = grids.shape[1]
    if x >= nx or y >= ny:
        return -1, 0, 0, 0, 0.0, 0.0, 0.0
    gx = ngrid // 2 - nx // 2 + x
    gy = ngrid // 2 - ny // 2 + y
    ph, q = layer_phases(-(x - nx // 2) * cell, (y - ny // 2) * cell, w_layer, alpha)
    return x, y, gx, gy, 1.0 - 2.0 * ((gx + gy) & 1), ph, q


@cuda.jit
def _accumulate(image, grids, cell, w_layer, alpha):
    x, y, gx, gy, sign, ph, q = pixel(image, grids, cell, w_layer, alpha)
    if x < 0:
        return
    val = grids[0, gx, gy]
    re = val.real
    im = val.imag
    if grids.shape[0] > 1:
        val1 = grids[1, gx, gy]
        re += q * val1.imag
        im -= q * val1.real
    image[x, y] += sign * (re * math.cos(ph) + im * math.sin(ph))


@cuda.jit
def _spread(image, grids, cell, w_layer, alpha):
    x, y, gx, gy, sign, ph, q = pixel(image, grids, cell, w_layer, alpha)
    if x < 0:
        return
    val = sign * image[x, y] * complex(math.cos(ph), math.sin(ph))
    grids[0, gx, gy] = val
    if grids.shape[0] > 1:
        grids[1, gx, gy] = 1j * q * val


def _blocks(image) -> tuple[tuple[int, int], tuple[int, int]]:
    nx, ny = image.shape
    return ((nx + PIXEL_BLOCK - 1) // PIXEL_BLOCK, (ny + PIXEL_BLOCK - 1) // PIXEL_BLOCK), \
        (PIXEL_BLOCK, PIXEL_BLOCK)


def accumulate_layer(image, fft_grids, *, cell: float, w_layer: float, alpha: float = 0.5,
                     nthreads: int = 1):
    """Device twin of :func:`vlassdask.kernels.layers.accumulate_layer`: add the layer's real,
    w-phased image to ``image`` (float64 (nx, ny)) in place (``nthreads``, the host's thread
    count, does not apply on the device)."""
    blocks, threads = _blocks(image)
    _accumulate[blocks, threads](image, fft_grids, float(cell), float(w_layer), float(alpha))
    return image


def spread_layer(image, grids, *, cell: float, w_layer: float, alpha: float = 0.5,
                 nthreads: int = 1):
    """Device twin of :func:`vlassdask.kernels.layers.spread_layer`: write the signed,
    w-phased image into ``grids`` (zero outside the central (nx, ny) region; ``nthreads`` does
    not apply on the device)."""
    blocks, threads = _blocks(image)
    _spread[blocks, threads](image, grids, float(cell), float(w_layer), float(alpha))
    return grids
