"""Multiscale scale functions and the FFT convolutions of the minor cycle and restoration.

Scale functions are CASA's (``MatrixCleaner::makeScale``): a paraboloid tapered by the
prolate spheroidal function, ``(1 - r^2) * sph(r)`` with ``r = distance / scale``, truncated at
``r = 1`` (so a scale of ``s`` pixels has a support radius of ``s`` pixels and a FWHM of about
``0.9 s``) and normalised to unit sum, so a component's amplitude is its flux in Jy. Scale 0 is
the delta function. The compact support (unlike a Gaussian's) keeps components inside the mask
and the scale convolutions cheap, and matches CASA so that ``scales`` mean the same in both.

:class:`CentredConvolver` does the linear (zero-padded, wrap-free) convolution with a kernel
whose centre is at ``(kx // 2, ky // 2)``, with the kernel's transform computed once; it uses
``scipy.fft`` with ``workers=fft_threads``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.fft
from scipy import ndimage

from vlassdask.errors import ConfigError

# Schwab's rational approximation of the prolate spheroidal function (m = 6, alpha = 1), the
# coefficients CASA's MatrixCleaner::spheroidal uses: numerator p and denominator q for
# 0 <= nu < 0.75 (row 0, expanded about nu = 0.75) and 0.75 <= nu <= 1 (row 1, about nu = 1).
_SPH_P = np.array([
    [8.203343e-2, -3.644705e-1, 6.278660e-1, -5.335581e-1, 2.312756e-1],
    [4.028559e-3, -3.697768e-2, 1.021332e-1, -1.201436e-1, 6.412774e-2],
])
_SPH_Q = np.array([[1.0, 8.212018e-1, 2.078043e-1], [1.0, 9.599102e-1, 2.918724e-1]])
_SPH_END = np.array([0.75, 1.0])


def spheroidal(nu: np.ndarray) -> np.ndarray:
    """The prolate spheroidal function (m = 6, alpha = 1) at ``nu`` (any shape); 0 for nu >= 1."""
    nu = np.abs(np.asarray(nu, dtype=np.float64))
    part = (nu >= 0.75).astype(np.int64)
    d = nu**2 - _SPH_END[part] ** 2
    top = sum(_SPH_P[part, k] * d**k for k in range(_SPH_P.shape[1]))
    bottom = sum(_SPH_Q[part, k] * d**k for k in range(_SPH_Q.shape[1]))
    return np.where(nu < 1.0, top / bottom, 0.0)


def scale_function(scale: float) -> np.ndarray:
    """The unit-sum scale function of ``scale`` pixels.

    Returns
    -------
    float64 (2 h + 1, 2 h + 1)
        ``h = floor(scale)``, centre at ``(h, h)``; ``[[1.0]]`` for scale 0.
    """
    half = int(np.floor(scale))
    if scale <= 0.0 or half == 0:
        return np.ones((1, 1))
    offsets = np.arange(-half, half + 1) / scale
    r2 = offsets[:, None] ** 2 + offsets[None, :] ** 2
    values = np.where(r2 < 1.0, (1.0 - r2) * spheroidal(np.sqrt(np.minimum(r2, 1.0))), 0.0)
    return values / values.sum()


def validate_scales(scales: Sequence[float], shape: tuple[int, int]) -> tuple[float, ...]:
    """The sorted, distinct scales (pixels), checked against an image of ``shape``.

    Raises
    ------
    ConfigError
        If there is no scale, a scale is negative or not finite, or a scale's support
        (``2 floor(scale) + 1`` pixels) does not fit in the image.
    """
    values = sorted({float(s) for s in scales})
    if not values:
        raise ConfigError("multiscale needs at least one scale (e.g. scales=[0, 5, 15])")
    for scale in values:
        if not np.isfinite(scale) or scale < 0:
            raise ConfigError(f"scales must be non-negative pixel sizes, got {scale:g}")
        if 2 * int(np.floor(scale)) + 1 > min(shape):
            largest = (min(shape) - 1) // 2
            raise ConfigError(f"scale {scale:g} pixels does not fit in the {shape[0]} x "
                              f"{shape[1]} image (largest allowed {largest})")  # fmt: skip
    return tuple(values)


def scale_mask(mask: np.ndarray, scale: float) -> np.ndarray:
    """Where a component of ``scale`` may be centred: its whole support inside ``mask``.

    ``mask`` (bool (nx, ny)) is eroded by the scale function's footprint, beyond the image edge
    counting as outside: within a scale's radius of the edge the scale-convolved residual is
    not known (the residual beyond the image is), so no component of that scale goes there.
    """
    footprint = scale_function(scale) > 0.0
    if footprint.size == 1:
        return mask.copy()
    return ndimage.binary_erosion(mask, structure=footprint, border_value=0)


class CentredConvolver:
    """Linear convolution of (nx, ny) images with a fixed kernel centred at ``(kx//2, ky//2)``.

    ``convolver(image)[p] = sum_q image[q] * kernel[p - q + centre]``: a unit point at pixel
    ``p`` gives the kernel shifted so its centre lies on ``p``, cut to the image. The images and
    kernel are zero-padded to a fast length >= ``n + k - 1`` on each axis, so nothing wraps.

    Parameters
    ----------
    kernel : float64 (kx, ky)
    shape : (nx, ny)
        Shape of the images to convolve.
    fft_threads : int
        ``workers`` of ``scipy.fft``.

    Notes
    -----
    Holds one complex (Px, Py // 2 + 1) transform; each call uses two more of that size.
    """

    def __init__(self, kernel: np.ndarray, shape: tuple[int, int], *, fft_threads: int = 1):
        self.shape = (int(shape[0]), int(shape[1]))
        self.centre = (kernel.shape[0] // 2, kernel.shape[1] // 2)
        self.padded = tuple(scipy.fft.next_fast_len(n + k - 1, real=True)
                            for n, k in zip(self.shape, kernel.shape, strict=True))  # fmt: skip
        self.workers = int(fft_threads)
        self.kernel_ft = scipy.fft.rfft2(kernel, s=self.padded, workers=self.workers)

    def __call__(self, image: np.ndarray) -> np.ndarray:
        """The convolved image (float64 (nx, ny))."""
        image_ft = scipy.fft.rfft2(image, s=self.padded, workers=self.workers)
        image_ft *= self.kernel_ft
        full = scipy.fft.irfft2(image_ft, s=self.padded, workers=self.workers)
        (cx, cy), (nx, ny) = self.centre, self.shape
        return np.ascontiguousarray(full[cx:cx + nx, cy:cy + ny])
