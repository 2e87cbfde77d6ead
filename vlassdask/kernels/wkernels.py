"""Oversampled convolution-function tables for w-projection.

A visibility with residual w (relative to its w-layer centre ``w_c``) carries the image-plane
phase exp(-2 pi i w_r (n - 1)). Within one layer the residual is small, so the phase is taken in
its separable Fresnel form exp(i a (x^2 + y^2)) with a = 2 pi alpha w_r L^2 (x, y the image
position as a fraction of the padded field L = G * cell, alpha ~ 1/2 fitted over the image disc);
the remaining non-separable error is bounded by the planner (:mod:`vlassdask.imaging.wplan`).
The 1-D convolution function for chirp rate ``a`` is the Fourier transform of the anti-aliasing
correction times the chirp,

    K(t; a) = int psi(x) exp(i a x^2) exp(2 pi i t x) dx,

tabulated on ``oversample`` points per cell over ``support`` cells for ``n_planes`` chirp rates
spanning [-a_max, a_max]; gridders interpolate linearly in t and in a. With ``a = 0`` the table
is the anti-aliasing kernel itself, i.e. plain 2-D gridding.

The machinery is written around an image-plane *screen* (here psi times the chirp): an aperture
(A-term / primary-beam) factor per field would enter as a further factor of the screen; a
non-separable screen needs 2-D tables and is not implemented yet.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from vlassdask.kernels.antialias import ESKernel

_X_EXTENT = 2.5  # psi(x) beyond |x| = 2.5 is below exp(-beta) and is neglected


@dataclass(frozen=True)
class KernelTable:
    """Tabulated 1-D w-projection convolution functions.

    Attributes
    ----------
    values
        array (n_planes, support * oversample + 2): K(t; a_k) at t = -support/2 + j / oversample;
        real for 2-D (one plane, a = 0), complex otherwise.
    support
        Full kernel support in grid cells (taps per axis).
    oversample
        Table samples per grid cell.
    a_min, a_step
        Chirp rate of plane 0 and the spacing between planes (0 when there is one plane).
    """

    values: np.ndarray
    support: int
    oversample: int
    a_min: float
    a_step: float
    _tap_major: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def n_planes(self) -> int:
        return self.values.shape[0]

    def tap_major(self, dtype: np.dtype) -> np.ndarray:
        """Signed tap-major copy (plane, oversample + 1, support) for the gridders (cached).

        Row j holds K(j / oversample + i - support / 2) * (-1)^i for taps i; real when the
        kernels are real (2-D), complex otherwise, in the precision of ``dtype`` (the grid's).
        """
        key = np.dtype(dtype).str
        if key not in self._tap_major:
            values = self.values
            if np.iscomplexobj(values) and not np.any(values.imag):
                values = values.real
            real = np.float64 if np.dtype(dtype) == np.complex128 else np.float32
            out_type = dtype if np.iscomplexobj(values) else real
            o, s = self.oversample, self.support
            index = np.arange(o + 1)[:, None] + o * np.arange(s)[None, :]
            signs = np.where(np.arange(s) % 2, -1.0, 1.0)
            self._tap_major[key] = np.ascontiguousarray(values[:, index] * signs,
                                                        dtype=out_type)
        return self._tap_major[key]

    def tap_major_on(self, to_device: Callable, dtype: np.dtype):
        """:meth:`tap_major` copied to a device by ``to_device`` (e.g. ``numba.cuda.to_device``
        or ``cupy.asarray``), once per device function and precision (cached with the table, so
        a table shared with a dask worker is copied to that worker's device once)."""
        key = (getattr(to_device, "__qualname__", repr(to_device)), np.dtype(dtype).str)
        if key not in self._tap_major:
            self._tap_major[key] = to_device(self.tap_major(dtype))
        return self._tap_major[key]


def _screen_samples(kernel: ESKernel, support: int) -> tuple[np.ndarray, np.ndarray]:
    dx = 1.0 / (4.0 * max(support, kernel.width))
    x = np.arange(-_X_EXTENT, _X_EXTENT + 0.5 * dx, dx)
    return x, kernel.correction(x) * dx


def chirp_kernels(
    kernel: ESKernel, a_values: np.ndarray, *, support: int, oversample: int
) -> np.ndarray:
    """K(t; a) for each chirp rate in ``a_values`` on the oversampled tap grid.

    Returns
    -------
    numpy.ndarray
        complex128 (len(a_values), support * oversample + 2).
    """
    x, psi_dx = _screen_samples(kernel, support)
    t = -0.5 * support + np.arange(support * oversample + 2) / oversample
    out = np.empty((len(a_values), t.size), dtype=np.complex128)
    step = 512
    for s in range(0, t.size, step):
        basis = np.exp(2j * np.pi * np.outer(t[s : s + step], x))
        screens = psi_dx[None, :] * np.exp(1j * np.outer(a_values, x * x))
        out[:, s : s + step] = screens @ basis.T
    return out


def required_support(kernel: ESKernel, a_max: float, *, epsilon: float, sigma: float) -> int:
    """Smallest even support whose truncated tail is below ``epsilon`` for chirp rate ``a_max``.

    The tail criterion is sum_{|t| > S/2} |K(t; a)| dt <= epsilon * psi(1/(2 sigma)) / psi(0),
    i.e. the relative image error at the edge of the image stays below ``epsilon``.
    """
    if a_max == 0.0:
        return kernel.width
    big = int(2 * np.ceil(0.5 * (kernel.width + 2.0 * abs(a_max) / np.pi * 1.5))) + 8
    oversample = 16
    k = chirp_kernels(kernel, np.array([a_max]), support=big, oversample=oversample)[0]
    t = -0.5 * big + np.arange(k.size) / oversample
    edge = kernel.correction(np.array([0.5 / sigma, 0.0]))
    limit = epsilon * edge[0] / edge[1] * abs(k).sum() / oversample
    for s in range(kernel.width, big + 1, 2):
        tail = abs(k[np.abs(t) > 0.5 * s]).sum() / oversample
        if tail <= limit:
            return s
    return big


def make_kernel_table(
    kernel: ESKernel,
    *,
    a_max: float,
    n_planes: int,
    support: int,
    oversample: int,
    dtype: np.dtype | type = np.complex64,
) -> KernelTable:
    """Build the table for chirp rates spanning [-a_max, a_max] in ``n_planes`` planes.

    With ``n_planes == 1`` (or ``a_max == 0``) the single plane is the exact anti-aliasing
    kernel phi(t) padded to ``support`` cells: plain 2-D gridding.
    """
    if n_planes == 1 or a_max == 0.0:
        t = -0.5 * support + np.arange(support * oversample + 2) / oversample
        real = np.float64 if np.dtype(dtype) == np.complex128 else np.float32
        values = kernel.evaluate(t)[None, :].astype(real)
        return KernelTable(values, support, oversample, 0.0, 0.0)
    a = np.linspace(-a_max, a_max, n_planes)
    values = chirp_kernels(kernel, a, support=support, oversample=oversample).astype(dtype)
    return KernelTable(values, support, oversample, float(a[0]), float(a[1] - a[0]))
