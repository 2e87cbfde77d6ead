"""Convolution of image planes with a Gaussian difference kernel: normalised, chunked, lazy.

The kernel is a discrete Gaussian defined through its transfer function (:func:`periodic_gaussian`):
``exp(-2 pi^2 f^T C f)`` with ``pi f`` replaced by periodic series in ``sin(pi f)`` (``C`` the
kernel covariance in pixel units). It equals the Gaussian's to < 1e-5 below 0.2 cycles per pixel
(where a well-sampled image has its power) and is smooth and periodic, so the kernel is compact
(less than 1e-4 of its weight lies beyond ``max(6 sigma, MIN_HALO)`` pixels, far less for kernels
wider than a pixel) and has exactly the Gaussian's second moments: convolving a beam of
covariance ``C_b`` gives exactly ``C_b + C``.
Unlike a sampled Gaussian it stays right for kernels narrower than a pixel or of zero width along
one axis (two orthogonal equal ellipses and their common circle); for wide kernels the two agree.
A sub-pixel shift (grids offset by a fraction of a pixel) is folded in as a separable
Kaiser-windowed sinc of :data:`SHIFT_HALF_WIDTH` taps (interpolation error ~3e-5 for beams of
7 pixels FWHM, ~2e-4 at 2.5). The kernel is normalised to unit sum (the total flux is kept) and
cut to a square of half-width ``halo``: blocks with that halo are convolved exactly, so the result
is the same chunked or not. Images stay in Jy/beam: the result is multiplied by the beam-area
ratio ``A_common / A_input`` so that a point source keeps a peak equal to its flux density.

Blank pixels (NaN: primary-beam-masked edges, blanked regions, the outside of the image) are
handled by normalised convolution: ``scale * conv(data * valid) / conv(valid)``. A pixel keeps a
value only if it was valid and at least ``min_support`` of the kernel weight falls on valid
pixels, so NaNs never spread beyond the blank regions (at most a sub-pixel rim at their edges).

:func:`convolve_image` does this lazily with :func:`dask.array.map_overlap` (NaN beyond the image
edges); every block is transformed on its own with ``scipy.fft`` (``workers=1``: dask runs blocks
in parallel) in the input precision, with the kernel spectrum cached per block shape.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict

import dask.array as da
import numpy as np
import scipy.fft
import scipy.signal
from dask.array.overlap import ensure_minimum_chunksize

#: Smallest half-width of the Gaussian part (pixels): its tails are below 1e-4 there even for
#: kernels narrower than a pixel.
MIN_HALO = 8
#: Half-width (taps) of the windowed-sinc sub-pixel shift and its Kaiser window parameter.
SHIFT_HALF_WIDTH = 8
KAISER_BETA = 8.0
_NO_SHIFT = (0.0, 0.0)


def shift_taps(fraction: float) -> np.ndarray:
    """Convolution taps ``k[d + a]`` (``d = -a ... a``) that shift by ``fraction`` pixels
    (``|fraction| <= 0.5``).

    ``out[p] = sum_d k[d] in[p - d] ~ in(p + fraction)``: a Kaiser-windowed sinc
    (``a = SHIFT_HALF_WIDTH``, ``beta = KAISER_BETA``) normalised to unit sum.
    """
    a = SHIFT_HALF_WIDTH
    taps = math.floor(fraction) + np.arange(1 - a, a + 1)  # in[p + j], 2a taps around it
    s = fraction - taps
    weights = np.sinc(s) * np.i0(KAISER_BETA * np.sqrt(np.clip(1.0 - (s / a) ** 2, 0.0, None)))
    kernel = np.zeros(2 * a + 1)
    kernel[a - taps] = weights / weights.sum()
    return kernel


#: Terms of the series (pi f)^2 = sum a_n sin^(2n)(pi f) and pi f = sin cos sum c_n sin^(2n).
_SERIES_TERMS = 8
_A = np.array([0.5 * 4.0**n * math.factorial(n) ** 2 / (n * n * math.factorial(2 * n))
               for n in range(1, _SERIES_TERMS + 1)])  # fmt: skip
_C = np.array([4.0**n * math.factorial(n) ** 2 / math.factorial(2 * n + 1)
               for n in range(_SERIES_TERMS)])  # fmt: skip


def periodic_gaussian(fx: np.ndarray, fy: np.ndarray, cov: tuple[float, float, float]
                      ) -> np.ndarray:  # fmt: skip
    """Transfer function of the discrete Gaussian kernel of covariance ``cov`` (pixels^2).

    ``exp(-2 [c_xx A(fx) + 2 c_xy B(fx) B(fy) + c_yy A(fy)])`` with ``A(f)`` the series of
    ``(pi f)^2 = arcsin^2(sin pi f)`` in powers of ``sin^2(pi f)`` and ``B(f) = sin(pi f)
    cos(pi f)`` times the series of ``arcsin(s) / (s sqrt(1 - s^2))``, both cut after
    :data:`_SERIES_TERMS` terms: periodic with period 1 and smooth (so its kernel is compact),
    equal to ``exp(-2 pi^2 f^T C f)`` to high order at ``f = 0`` (so its moments are the
    Gaussian's), and ``A >= B^2`` keeps it within ``(0, 1]`` for any positive semi-definite ``C``.
    """
    def series_a(f: np.ndarray) -> np.ndarray:
        s2 = np.sin(math.pi * f) ** 2
        return np.polynomial.polynomial.polyval(s2, np.concatenate([[0.0], _A]))

    def series_b(f: np.ndarray) -> np.ndarray:
        s = np.sin(math.pi * f)
        return s * np.cos(math.pi * f) * np.polynomial.polynomial.polyval(s * s, _C)

    cxx, cxy, cyy = cov
    exponent = cxx * series_a(fx) + 2.0 * cxy * series_b(fx) * series_b(fy) + cyy * series_a(fy)
    return np.exp(-2.0 * np.maximum(exponent, 0.0))


def difference_kernel(
    cov: tuple[float, float, float], shift: tuple[float, float], halo: int
) -> np.ndarray:
    """The discrete Gaussian kernel (with a shift), ``(2 halo + 1)^2``, unit sum.

    Parameters
    ----------
    cov
        Kernel covariance in pixels^2: ``(c_xx, c_xy, c_yy)`` on the image's ``(x, y)`` axes.
    shift
        ``(sx, sy)``, ``|s| <= 0.5``: the output at pixel ``p`` takes the input at
        ``p + shift`` (pixels).
    halo
        Half-width, as :func:`kernel_halo` gives it (the shift taps included when shifted);
        element ``[halo, halo]`` is the kernel centre (offset 0).

    Returns
    -------
    numpy.ndarray
        float64, indexed ``[dx + halo, dy + halo]``; ``out = sum k[d] * in[p - d]``.
    """
    half = halo - (SHIFT_HALF_WIDTH if shift != _NO_SHIFT else 0)
    size = scipy.fft.next_fast_len(max(8 * half, 64))
    f = np.fft.fftfreq(size)
    transfer = periodic_gaussian(f[:, None], f[None, :], cov)
    kernel = np.fft.fftshift(np.fft.ifft2(transfer).real)
    centre = size // 2
    kernel = kernel[centre - half: centre + half + 1, centre - half: centre + half + 1]
    if shift != _NO_SHIFT:
        kernel = scipy.signal.convolve2d(kernel, np.outer(shift_taps(shift[0]),
                                                          shift_taps(shift[1])))  # fmt: skip
    return kernel / kernel.sum()


#: Memory budget of the kernel-spectrum cache (shared by the threads of a process).
SPECTRUM_CACHE_BYTES = 128 * 2**20
_spectra: OrderedDict[tuple, np.ndarray] = OrderedDict()
_spectra_lock = threading.Lock()


def kernel_spectrum(
    shape: tuple[int, int], cov: tuple[float, float, float], shift: tuple[float, float],
    halo: int, scale: float, dtype_name: str,
) -> np.ndarray:  # fmt: skip
    """``rfft2`` of ``scale`` times :func:`difference_kernel` wrapped onto an FFT grid of ``shape``.

    Evaluated as matrix products of the small kernel with the DFT phase factors of its offsets
    (``E_x K E_y^T``; for the point-symmetric unshifted kernel the real ``C_x K C_y^T - S_x K
    S_y^T`` with cosines and sines), several times cheaper than transforming a zero-padded grid.
    Real when ``shift`` is zero, complex otherwise; in the precision of ``dtype_name``. Read-only
    and cached (least recently used first out, :data:`SPECTRUM_CACHE_BYTES` in all): the same
    block shapes recur across a mosaic of chunks.
    """
    key = (shape, cov, shift, halo, scale, dtype_name)
    with _spectra_lock:
        if key in _spectra:
            _spectra.move_to_end(key)
            return _spectra[key]
    real = np.dtype(dtype_name)
    kernel = (scale * difference_kernel(cov, shift, halo)).astype(real)
    offsets = np.arange(-halo, halo + 1)
    angle_x = 2.0 * math.pi * np.outer(np.fft.fftfreq(shape[0]), offsets)
    angle_y = 2.0 * math.pi * np.outer(np.fft.rfftfreq(shape[1]), offsets)
    if shift == _NO_SHIFT:
        cos_x, sin_x = np.cos(angle_x).astype(real), np.sin(angle_x).astype(real)
        cos_y, sin_y = np.cos(angle_y).astype(real), np.sin(angle_y).astype(real)
        spectrum = (cos_x @ kernel) @ cos_y.T - (sin_x @ kernel) @ sin_y.T
    else:
        complex_type = np.result_type(real, np.complex64)
        spectrum = ((np.exp(-1j * angle_x).astype(complex_type) @ kernel)
                    @ np.exp(-1j * angle_y).astype(complex_type).T)  # fmt: skip
    spectrum.setflags(write=False)
    with _spectra_lock:
        _spectra[key] = spectrum
        while sum(v.nbytes for v in _spectra.values()) > SPECTRUM_CACHE_BYTES and len(_spectra) > 1:
            _spectra.popitem(last=False)
    return spectrum


def _convolve(data: np.ndarray, cov: tuple, shift: tuple, halo: int, scale: float = 1.0
              ) -> np.ndarray:  # fmt: skip
    """Linear convolution of ``data`` (zero beyond it); exact ``halo`` pixels from its edges."""
    shape = tuple(scipy.fft.next_fast_len(n, real=True) for n in data.shape)
    spectrum = scipy.fft.rfft2(data, s=shape, workers=1)
    spectrum *= kernel_spectrum(shape, cov, shift, halo, scale, data.dtype.name)
    return scipy.fft.irfft2(spectrum, s=shape, workers=1)[: data.shape[0], : data.shape[1]]


def _normalise_frame(smoothed: np.ndarray, invalid: np.ndarray, cov: tuple, shift: tuple,
                     halo: int, min_support: float) -> None:  # fmt: skip
    """Divide ``smoothed`` (the core) by ``conv(valid)`` when every invalid pixel lies in the
    outer ``halo`` frame of the padded plane, in place.

    ``conv(valid) = 1 - conv(invalid)`` differs from 1 only within ``halo`` of the frame, so it is
    computed on strips ``3 * halo`` wide along each side that has invalid pixels (a few percent of
    the cost of a full-block transform); each strip gives exact values in its band of the core.
    The core must be at least ``2 * halo`` wide so that opposite bands do not overlap.
    """
    width, band, inner = 3 * halo, slice(halo, 2 * halo), slice(halo, -halo)
    rows = [0, smoothed.shape[0]]  # rows not yet normalised by an x band

    def apply(target: tuple, strip: np.ndarray, part: tuple) -> None:
        support = 1.0 - _convolve(strip, cov, shift, halo)[part]
        with np.errstate(divide="ignore", invalid="ignore"):
            smoothed[target] = np.where(support >= min_support, smoothed[target] / support,
                                        np.nan)  # fmt: skip

    if invalid[:halo].any():
        apply((slice(None, halo), slice(None)), invalid[:width], (band, inner))
        rows[0] = halo
    if invalid[-halo:].any():
        apply((slice(-halo, None), slice(None)), invalid[-width:], (band, inner))
        rows[1] -= halo
    todo = slice(rows[0], rows[1] + 2 * halo)  # those rows and a halo, padded coordinates
    if invalid[:, :halo].any():
        apply((slice(*rows), slice(None, halo)), invalid[todo, :width], (inner, band))
    if invalid[:, -halo:].any():
        apply((slice(*rows), slice(-halo, None)), invalid[todo, -width:], (inner, band))


def convolve_plane(
    plane: np.ndarray,
    *,
    cov: tuple[float, float, float],
    shift: tuple[float, float] = (0.0, 0.0),
    scale: float = 1.0,
    halo: int,
    min_support: float,
) -> np.ndarray:
    """Normalised convolution of one padded plane; returns its core (the halo removed).

    Parameters
    ----------
    plane
        ``(nx + 2 halo, ny + 2 halo)`` floating array indexed ``[x, y]``: the core and a halo
        of ``halo`` pixels on every side (NaN outside the image). NaN marks invalid pixels.
    cov, shift, halo
        Kernel covariance ``(c_xx, c_xy, c_yy)`` in pixels^2 (zeros: a pure shift), sub-pixel
        shift and kernel half-width, as in :func:`difference_kernel`.
    scale
        Factor applied to the result (the beam-area ratio).
    min_support
        Minimum ``conv(valid)`` for a valid pixel to keep a value.

    Returns
    -------
    numpy.ndarray
        ``(nx, ny)``, the dtype of ``plane``; NaN where invalid.

    Notes
    -----
    Peak memory: about 5 arrays of the padded plane's size (input, validity, zero-filled copy,
    spectrum, result); two more (the support) only when invalid pixels lie inside the core.
    """
    valid = np.isfinite(plane)
    core = (slice(halo, plane.shape[0] - halo), slice(halo, plane.shape[1] - halo))
    if valid.all():
        return _convolve(plane, cov, shift, halo, scale)[core]
    core_valid = valid[core]
    if not core_valid.any():
        return np.full(core_valid.shape, np.nan, dtype=plane.dtype)
    data = np.where(valid, plane, plane.dtype.type(0))
    smoothed = _convolve(data, cov, shift, halo, scale)[core]
    if core_valid.all() and min(core_valid.shape) >= 2 * halo:
        _normalise_frame(smoothed, (~valid).astype(plane.dtype), cov, shift, halo, min_support)
        return smoothed
    support = _convolve(valid.astype(plane.dtype), cov, shift, halo)[core]
    keep = core_valid & (support >= min_support)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(keep, smoothed / support, np.nan).astype(plane.dtype, copy=False)


def _convolve_block(block: np.ndarray, *, halo: int, **kwargs) -> np.ndarray:
    """:func:`convolve_plane` over the leading (plane) axes of a block."""
    if block.ndim == 2 or all(n == 1 for n in block.shape[:-2]):
        plane = convolve_plane(block.reshape(block.shape[-2:]), halo=halo, **kwargs)
        return plane.reshape(block.shape[:-2] + plane.shape)
    shape = block.shape[:-2] + (block.shape[-2] - 2 * halo, block.shape[-1] - 2 * halo)
    out = np.empty(shape, dtype=block.dtype)
    for index in np.ndindex(block.shape[:-2]):
        out[index] = convolve_plane(block[index], halo=halo, **kwargs)
    return out


def kernel_halo(cov: tuple[float, float, float], shift: tuple[float, float],
                truncate_sigma: float) -> int:  # fmt: skip
    """Kernel half-width (pixels): ``truncate_sigma`` sigmas of its major axis (at least
    :data:`MIN_HALO`), plus :data:`SHIFT_HALF_WIDTH` when it carries a sub-pixel shift."""
    cxx, cxy, cyy = cov
    largest = 0.5 * (cxx + cyy) + math.hypot(0.5 * (cxx - cyy), cxy)
    half = max(MIN_HALO, math.ceil(truncate_sigma * math.sqrt(max(largest, 0.0))))
    return half + (SHIFT_HALF_WIDTH if tuple(shift) != _NO_SHIFT else 0)


def convolve_image(
    image: da.Array,
    *,
    cov: tuple[float, float, float],
    shift: tuple[float, float] = (0.0, 0.0),
    scale: float = 1.0,
    truncate_sigma: float,
    min_support: float,
) -> da.Array:
    """Lazily convolve every plane of an image (dims ``(..., x, y)``) with a Gaussian kernel.

    Parameters
    ----------
    image
        Dask array whose last two axes are x and y (NaN = blank), chunked in x and y.
    cov, shift, scale, min_support
        As in :func:`convolve_plane`.
    truncate_sigma
        Sets the halo (:func:`kernel_halo`).

    Returns
    -------
    dask.array.Array
        Same shape and dtype; the same chunks unless some were narrower than the halo (those
        are merged with a neighbour).

    Notes
    -----
    Peak memory per task: about 6 padded chunks (``(c + 2 halo)^2`` pixels each, ``c`` the chunk
    size) plus the neighbouring chunks that :func:`dask.array.map_overlap` holds while it
    assembles halos; independent of the image size and of the number of images combined.
    """
    cov = tuple(float(c) for c in cov)
    shift = (float(shift[0]), float(shift[1]))
    halo = kernel_halo(cov, shift, truncate_sigma)
    shape = image.shape
    short = [max(0, halo - n) for n in shape[-2:]]  # an image smaller than the halo: pad it
    if any(short):
        image = da.pad(image, [(0, 0)] * (image.ndim - 2) + [(0, p) for p in short],
                       constant_values=np.nan)  # fmt: skip
    axes = {image.ndim - 2: halo, image.ndim - 1: halo}
    chunks = tuple(ensure_minimum_chunksize(halo, c) if axis in axes else c
                   for axis, c in enumerate(image.chunks))  # fmt: skip
    image = image.rechunk(chunks)
    out = da.map_overlap(
        _convolve_block, image, depth=axes, boundary={k: np.nan for k in axes}, trim=False,
        dtype=image.dtype, meta=np.empty((0,) * image.ndim, dtype=image.dtype),
        chunks=chunks, cov=cov, shift=shift, scale=float(scale), halo=halo,
        min_support=float(min_support),
    )  # fmt: skip
    return out[..., : shape[-2], : shape[-1]] if any(short) else out
