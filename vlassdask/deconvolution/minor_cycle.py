"""CLEAN minor cycles as CASA tclean runs them: ``hogbom``, ``clark`` and ``multiscale``.

Each function takes the image-plane residual (Jy/beam, float (nx, ny), ``[x, y]``) and the PSF
(same shape, peak 1 at ``(nx // 2, ny // 2)``), runs at most ``niter`` components (tclean's
``cycleniter``) down to ``threshold`` (the cycle threshold, Jy/beam, on the masked ``|peak|``)
and returns the model *delta* of this cycle (Jy/pixel) and the updated residual. Inputs are not
modified. Peak memory: a few image-sized float64 buffers for Hogbom and Clark (plus Clark's
padded FFT of twice the image on each axis); multiscale holds ``ntrack`` scaled residuals and
``ntrack^2`` cross-scale PSFs, ``ntrack = len(scales | {0})`` (16 images for 4 tracks).

Clark (CASA's ClarkCleanLatModel): a PSF patch (by default out to the first sidelobe, at most
51 x 51 as in CASA), the active set of pixels with ``|R| > max(threshold, sidelobe * peak)``
where ``sidelobe`` is the largest ``|PSF|`` outside the patch (at most 32768 pixels, the
brightest, as CASA's ``maxNumPix``), Hogbom on that set with the patch until its peak falls to
the limit, then one FFT subtraction of all that pass's components with the full PSF. A pass
also ends when its peak falls below ``sidelobe * (flux cleaned in the pass)``, the bound on the
error of the patch-only updates: past it the active values are not to be trusted, and on a
residual whose active set is spread over many pixels Clark would otherwise diverge.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from vlassdask.deconvolution.scales import (
    CentredConvolver,
    scale_function,
    scale_mask,
    validate_scales,
)
from vlassdask.errors import ConfigError, InputError
from vlassdask.kernels.clean import (
    clark_active_clean,
    hogbom_clean,
    masked_peak,
    multiscale_clean,
)
from vlassdask.kernels.threads import numba_pool

DECONVOLVERS = ("hogbom", "clark", "multiscale")
#: CASA's ClarkCleanLatModel default PSF patch (51 x 51) and active-set size (maxNumPix).
CLARK_MAX_PATCH_HALF_WIDTH = 25
CLARK_MAX_ACTIVE_PIXELS = 32 * 1024
#: Relative margin by which a larger scale must win (a point scores equally on all scales).
MULTISCALE_TIE_RTOL = 1e-6


@dataclass
class MinorCycleResult:
    """The outcome of one minor cycle.

    Attributes
    ----------
    model : float64 (nx, ny)
        Components found in this cycle (Jy/pixel), a delta to add to the running model.
    residual : float64 (nx, ny)
        The image-plane residual (Jy/beam) after subtracting them.
    iterations : int
        Components subtracted.
    peak_residual : float
        Max ``|residual|`` inside the mask at the end.
    stopped : str
        ``"niter"``, ``"threshold"``, or ``"zero"`` (nothing above the threshold at the start).
    """

    model: np.ndarray
    residual: np.ndarray
    iterations: int
    peak_residual: float
    stopped: str


def run_minor_cycle(deconvolver: str, residual: np.ndarray, psf: np.ndarray, *,
                    mask: np.ndarray | None = None, gain: float = 0.1, niter: int = 100,
                    threshold: float = 0.0, scales: Sequence[float] = (0,),
                    small_scale_bias: float = 0.0, psf_patch: int | None = None,
                    fft_threads: int = 1) -> MinorCycleResult:
    """Run one minor cycle of ``deconvolver`` (``"hogbom"``, ``"clark"`` or ``"multiscale"``).

    ``scales`` and ``small_scale_bias`` apply to multiscale, ``psf_patch`` to Clark,
    ``fft_threads`` to the FFTs of both and to Hogbom's PSF subtraction; see :func:`hogbom`,
    :func:`clark` and :func:`multiscale`.

    Raises
    ------
    ConfigError
        For an unknown deconvolver or an option out of range.
    InputError
        For residual, PSF and mask arrays that do not fit together.
    """
    common = {"mask": mask, "gain": gain, "niter": niter, "threshold": threshold}
    if deconvolver == "hogbom":
        return hogbom(residual, psf, **common, threads=fft_threads)
    if deconvolver == "clark":
        return clark(residual, psf, **common, psf_patch=psf_patch, fft_threads=fft_threads)
    if deconvolver == "multiscale":
        return multiscale(residual, psf, **common, scales=scales,
                          small_scale_bias=small_scale_bias, fft_threads=fft_threads)  # fmt: skip
    raise ConfigError(f"unknown deconvolver {deconvolver!r} (known: {', '.join(DECONVOLVERS)})")


def hogbom(residual: np.ndarray, psf: np.ndarray, *, mask: np.ndarray | None = None,
           gain: float = 0.1, niter: int = 100, threshold: float = 0.0,
           threads: int = 1) -> MinorCycleResult:
    """Hogbom CLEAN: subtract ``gain * peak * PSF`` at the masked peak of ``|R|``, repeat.

    Parameters
    ----------
    residual, psf : float (nx, ny)
        Residual (Jy/beam) and PSF (peak 1 at the centre).
    mask : bool (nx, ny) or None
        True where components may go; None for everywhere.
    gain, niter, threshold
        tclean ``gain`` (0 < gain < 2), the most components, and the cycle threshold (Jy/beam).
    threads
        numba threads sharing each PSF subtraction (same result for any number). One caller at
        a time uses them; a concurrent call runs on its own thread.
    """
    _check_threads(threads)
    residual, psf, mask = _check_inputs(residual, psf, mask, gain, niter, threshold)
    model = np.zeros_like(residual)
    options = {"gain": float(gain), "niter": int(niter), "threshold": float(threshold)}
    with numba_pool(threads) as parallel:
        iterations, peak = hogbom_clean(residual, psf, model, mask, **options, parallel=parallel)
    return _result(model, residual, iterations, peak, threshold)


def clark(residual: np.ndarray, psf: np.ndarray, *, mask: np.ndarray | None = None,
          gain: float = 0.1, niter: int = 100, threshold: float = 0.0,
          psf_patch: int | None = None, fft_threads: int = 1) -> MinorCycleResult:
    """Clark CLEAN (CASA's ``clark``): Hogbom on an active set with a PSF patch, FFT subtraction.

    Parameters
    ----------
    residual, psf, mask, gain, niter, threshold
        As :func:`hogbom`.
    psf_patch : int or None
        Full width (pixels, made odd) of the PSF patch; None: out to the first sidelobe
        (twice the distance of the first null or minimum along each axis), at most 51 pixels.
    fft_threads : int
        Threads of the FFT subtraction.
    """
    residual, psf, mask = _check_inputs(residual, psf, mask, gain, niter, threshold)
    _check_threads(fft_threads)
    hx, hy = _clark_patch_half_widths(psf, psf_patch)
    cx, cy = psf.shape[0] // 2, psf.shape[1] // 2
    patch = np.ascontiguousarray(psf[cx - hx:cx + hx + 1, cy - hy:cy + hy + 1])
    outside = np.abs(psf).copy()
    outside[cx - hx:cx + hx + 1, cy - hy:cy + hy + 1] = 0.0
    sidelobe = float(outside.max())
    convolver = CentredConvolver(psf, psf.shape, fft_threads=fft_threads)
    model = np.zeros_like(residual)
    iterations = 0
    peak = masked_peak(residual, mask)
    while iterations < niter and peak > threshold:
        limit = max(threshold, sidelobe * peak)
        xs, ys = np.nonzero(mask & (np.abs(residual) > limit))
        values = residual[xs, ys]
        if values.size > CLARK_MAX_ACTIVE_PIXELS:
            keep = np.argpartition(-np.abs(values), CLARK_MAX_ACTIVE_PIXELS)[
                :CLARK_MAX_ACTIVE_PIXELS]
            limit = max(limit, float(np.abs(values[keep]).min()))
            xs, ys, values = xs[keep], ys[keep], values[keep]
        components = np.zeros_like(values)
        iterations += clark_active_clean(values, xs, ys, patch, components, gain=float(gain),
                                         niter=int(niter) - iterations, limit=limit,
                                         sidelobe=sidelobe)  # fmt: skip
        delta = np.zeros_like(residual)
        delta[xs, ys] = components
        model += delta
        residual -= convolver(delta)
        peak = masked_peak(residual, mask)
    return _result(model, residual, iterations, peak, threshold)


def multiscale(residual: np.ndarray, psf: np.ndarray, *, mask: np.ndarray | None = None,
               gain: float = 0.1, niter: int = 100, threshold: float = 0.0,
               scales: Sequence[float] = (0,), small_scale_bias: float = 0.0,
               fft_threads: int = 1) -> MinorCycleResult:
    """Multiscale CLEAN (CASA's ``multiscale``, Cornwell 2008) with CASA's scale functions.

    The residual is convolved once with each scale function ``s_k``
    (:func:`~vlassdask.deconvolution.scales.scale_function`) and the PSF with each pair
    ``s_j * s_k``. Each component goes to the scale and pixel maximising
    ``b_k * |R * s_k| / peak(PSF * s_k)`` (the PSF-normalised scaled residual, so a point source
    scores the same on every scale; near-ties go to the smaller scale), with tclean's (>= 6.x)
    small-scale bias ``b_k = 1 - small_scale_bias * scale_k / max(scales)``. As in CASA's
    MatrixCleaner the amplitude is ``gain`` times that (biased, normalised) strength; it is
    subtracted from every scaled residual with the cross-scale PSF and added to the model as
    ``amplitude * s_k`` (Jy, the scale functions having unit sum).
    A scale's components are centred only where its whole support lies inside ``mask``. The
    ``threshold`` is compared with the unconvolved residual's masked peak.

    Parameters
    ----------
    residual, psf, mask, gain, niter, threshold
        As :func:`hogbom`.
    scales : sequence of float
        Scale sizes in pixels (0 = delta), tclean's ``scales``; the support radius of each.
    small_scale_bias : float
        tclean ``smallscalebias`` in [-1, 1] (default 0: no bias).
    fft_threads : int
        Threads of the set-up FFTs.
    """
    residual, psf, mask = _check_inputs(residual, psf, mask, gain, niter, threshold)
    _check_threads(fft_threads)
    scales = validate_scales(scales, residual.shape)
    if not -1.0 <= small_scale_bias <= 1.0:
        raise ConfigError(f"small_scale_bias must be in [-1, 1], got {small_scale_bias:g}")
    tracks = (0.0,) + tuple(s for s in scales if s > 0)
    functions = [scale_function(s) for s in tracks]
    support = max(f.shape[0] for f in functions)
    padded = np.zeros((len(tracks), support, support))
    for t, f in enumerate(functions):
        off = (support - f.shape[0]) // 2
        padded[t, off:off + f.shape[0], off:off + f.shape[0]] = f

    def convolve(kernel: np.ndarray, image: np.ndarray) -> np.ndarray:
        return CentredConvolver(kernel, image.shape, fft_threads=fft_threads)(image)

    scaled = np.stack([residual] + [convolve(f, residual) for f in functions[1:]])
    # cross[j, k] = s_j * (s_k * PSF), each product cut to the image: the same truncation as
    # the residual's own update, so every track stays the scale-convolved residual (a symmetric
    # PSF * s_j * s_k would differ near the PSF window's edge and let the tracks drift apart).
    responses = [psf] + [convolve(f, psf) for f in functions[1:]]
    cross_psfs = np.stack([
        np.stack([response if j == 0 else convolve(functions[j], response)
                  for response in responses])
        for j in range(len(tracks))
    ])  # fmt: skip
    cx, cy = psf.shape[0] // 2, psf.shape[1] // 2
    largest = max(scales)
    weights = np.ones(len(tracks))
    for t in range(1, len(tracks)):
        weights[t] = (1.0 - small_scale_bias * tracks[t] / largest) / responses[t][cx, cy]
    candidate = np.array([0.0 in scales] + [True] * (len(tracks) - 1))
    masks = np.stack([scale_mask(mask, s) for s in tracks])
    model = np.zeros_like(residual)
    iterations, peak = multiscale_clean(scaled, cross_psfs, padded, model, masks,
                                        weights, candidate, gain=float(gain), niter=int(niter),
                                        threshold=float(threshold),
                                        tie_rtol=MULTISCALE_TIE_RTOL)  # fmt: skip
    return _result(model, scaled[0].copy(), iterations, peak, threshold)


def _result(model: np.ndarray, residual: np.ndarray, iterations: int, peak: float,
            threshold: float) -> MinorCycleResult:
    if peak <= threshold:
        stopped = "zero" if iterations == 0 else "threshold"
    else:
        stopped = "niter"
    return MinorCycleResult(model, residual, int(iterations), float(peak), stopped)


def _check_inputs(residual: np.ndarray, psf: np.ndarray, mask: np.ndarray | None, gain: float,
                  niter: int, threshold: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validate the options and return C-contiguous float64 copies and a bool mask."""
    if not 0.0 < gain < 2.0:
        raise ConfigError(f"gain must be in (0, 2), got {gain:g}")
    if isinstance(niter, bool) or int(niter) != niter or niter < 0:
        raise ConfigError(f"niter must be a non-negative integer, got {niter!r}")
    if not (np.isfinite(threshold) and threshold >= 0):
        raise ConfigError(f"threshold must be a finite value >= 0 Jy/beam, got {threshold:g}")
    residual = np.array(residual, dtype=np.float64, order="C")
    psf = np.ascontiguousarray(psf, dtype=np.float64)
    if residual.ndim != 2 or psf.shape != residual.shape:
        raise InputError(f"residual {residual.shape} and PSF {psf.shape} must be 2-d images of "
                         "the same shape")  # fmt: skip
    if not (np.isfinite(residual).all() and np.isfinite(psf).all()):
        raise InputError("residual and PSF must be finite (no NaN or inf pixels)")
    centre = psf[psf.shape[0] // 2, psf.shape[1] // 2]
    off_centre = np.abs(psf).copy()
    off_centre[psf.shape[0] // 2, psf.shape[1] // 2] = 0.0
    if not (abs(centre - 1.0) < 1e-3 and off_centre.max() < centre):
        raise InputError(f"the PSF must peak at 1 at pixel (nx//2, ny//2) with all other "
                         f"|PSF| < 1 (centre {centre:.4g}, largest other {off_centre.max():.4g})")
    if mask is None:
        mask = np.ones(residual.shape, dtype=np.bool_)
    else:
        mask = np.ascontiguousarray(mask, dtype=np.bool_)
        if mask.shape != residual.shape:
            raise InputError(f"mask {mask.shape} must have the residual's shape "
                             f"{residual.shape}")  # fmt: skip
    return residual, psf, mask


def _check_threads(fft_threads: int) -> None:
    if isinstance(fft_threads, bool) or int(fft_threads) != fft_threads or fft_threads < 1:
        raise ConfigError(f"fft_threads must be a positive integer, got {fft_threads!r}")


def _clark_patch_half_widths(psf: np.ndarray, psf_patch: int | None) -> tuple[int, int]:
    """Half-widths (x, y) of Clark's PSF patch, cut to fit in the PSF."""
    limits = ((psf.shape[0] - 1) // 2, (psf.shape[1] - 1) // 2)
    if psf_patch is None:
        cx, cy = psf.shape[0] // 2, psf.shape[1] // 2
        cuts = ((psf[cx:, cy], psf[cx::-1, cy]), (psf[cx, cy:], psf[cx, cy::-1]))
        half = [min(CLARK_MAX_PATCH_HALF_WIDTH, 2 * max(_first_null(c) for c in pair))
                for pair in cuts]  # fmt: skip
    else:
        if isinstance(psf_patch, bool) or int(psf_patch) != psf_patch or psf_patch < 1:
            raise ConfigError(f"psf_patch must be a positive pixel width, got {psf_patch!r}")
        half = [int(psf_patch) // 2] * 2
    return min(half[0], limits[0]), min(half[1], limits[1])


def _first_null(profile: np.ndarray) -> int:
    """Offset of the first null or minimum of a PSF cut starting at its peak (at least 1)."""
    rising = np.nonzero((profile[1:] <= 0.0) | (np.diff(profile) >= 0.0))[0]
    return max(int(rising[0]) + 1 if rising.size else profile.size - 1, 1)
