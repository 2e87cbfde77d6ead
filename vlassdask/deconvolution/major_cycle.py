"""Cotton-Schwab CLEAN: minor cycles in the image plane, residuals recomputed from the visibilities.

:func:`cotton_schwab` drives an :class:`~vlassdask.imaging.imaging_operator.ImagingOperator`:

1. the dirty image and the PSF from the operator; the restoring beam fitted to the PSF main
   lobe and the PSF's largest outer sidelobe (for the minor-cycle threshold);
2. per major cycle: the peak residual and the robust rms (1.4826 x MAD, inside the mask), the
   stopping tests below, the minor-cycle threshold (:func:`~vlassdask.deconvolution.thresholds.
   cycle_threshold`), one minor cycle (Hogbom, Clark or multiscale), and the residual
   recomputed exactly with ``operator.residual(model)`` (degrid, subtract, grid inside each
   block task; the model reaches the workers once per cycle);
3. restoration: model convolved with the restoring beam, plus the residual.

Stopping follows tclean, with its stop codes (:data:`STOP_CODES`), tested after every residual
in this order: divergence (5: peak residual above ``divergence_factor`` x that of the previous
major cycle; 6: above ``divergence_factor`` x the lowest reached), global threshold (2), n-sigma
threshold (8), total iterations ``niter`` (1), major cycles ``nmajor`` (9), and a minor cycle
that found nothing to subtract (4: no change). An empty mask (7) is refused before the run.

Peak memory: that of the operator's image graphs on the workers, plus on the client about
ten float64 ``nx x ny`` images (model, residual, PSF, mask and the minor cycle's work arrays;
multiscale adds ``2 x n_scales + n_scales^2 / 2`` images for the scale-convolved PSFs and
residuals).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import dask
import numpy as np

from vlassdask.deconvolution.beam import Beam, fit_restoring_beam
from vlassdask.deconvolution.config import CleanConfig
from vlassdask.deconvolution.minor_cycle import run_minor_cycle
from vlassdask.deconvolution.restore import restore
from vlassdask.deconvolution.scales import validate_scales
from vlassdask.deconvolution.thresholds import cycle_threshold, max_outer_sidelobe
from vlassdask.errors import InputError
from vlassdask.imaging.imaging_operator import ImagingOperator
from vlassdask.qa.robust import summarise_numpy

#: tclean's stop codes (``iterdone``/``stopcode`` of its return dictionary) and their meanings.
STOP_CODES = {
    1: "iteration limit (niter) reached",
    2: "global threshold reached",
    4: "no change in the peak residual across two major cycles",
    5: "peak residual increased by more than divergence_factor x from the previous major cycle",
    6: "peak residual increased by more than divergence_factor x from the minimum reached",
    7: "zero mask",
    8: "n-sigma threshold reached",
    9: "major-cycle limit (nmajor) reached",
}
DIVERGED = (5, 6)


@dataclass(frozen=True)
class CycleRecord:
    """The state after one major cycle (major 0: the dirty image).

    Attributes
    ----------
    major
        Major cycles done (residuals recomputed from the visibilities).
    iterations
        Minor-cycle iterations so far, over all cycles.
    peak_residual, rms
        Peak ``|residual|`` and robust rms (1.4826 x MAD), inside the mask, Jy/beam.
    model_flux
        Sum of the model, Jy.
    cycle_threshold
        The threshold of the minor cycle that followed (NaN after the last).
    seconds
        Wall time since the run started.
    """

    major: int
    iterations: int
    peak_residual: float
    rms: float
    model_flux: float
    cycle_threshold: float
    seconds: float

    def line(self) -> str:
        """One progress line: what a user watches during a long run."""
        return (f"major {self.major:3d}: peak residual {self.peak_residual:.4g} Jy/beam, "
                f"rms {self.rms:.4g} Jy/beam, model flux {self.model_flux:.5g} Jy, "
                f"{self.iterations} iterations, {self.seconds:.1f} s")


@dataclass
class CleanResult:
    """The outcome of :func:`cotton_schwab`.

    Attributes
    ----------
    restored, residual, model, psf : float64 (nx, ny)
        Restored image (Jy/beam), final residual (Jy/beam), model (Jy/pixel), PSF (peak 1).
    beam
        Restoring beam fitted to the PSF.
    psf_sidelobe
        The PSF's largest outer sidelobe (drives the minor-cycle threshold).
    stop_code, stop_reason
        tclean's stop code and its meaning (:data:`STOP_CODES`).
    cycles
        One :class:`CycleRecord` per residual (the dirty image first).
    """

    restored: np.ndarray
    residual: np.ndarray
    model: np.ndarray
    psf: np.ndarray
    beam: Beam
    psf_sidelobe: float
    stop_code: int
    stop_reason: str
    cycles: list[CycleRecord] = field(default_factory=list)

    @property
    def iterations(self) -> int:
        """Minor-cycle iterations done."""
        return self.cycles[-1].iterations if self.cycles else 0

    @property
    def major_cycles(self) -> int:
        """Major cycles done (residuals recomputed from the visibilities after the first)."""
        return self.cycles[-1].major if self.cycles else 0

    @property
    def diverged(self) -> bool:
        """True if the run stopped because the peak residual grew (codes 5 and 6)."""
        return self.stop_code in DIVERGED

    def summary(self) -> dict:
        """JSON-serialisable summary: stop code and reason, beam and every cycle."""
        return {
            "stop_code": self.stop_code, "stop_reason": self.stop_reason,
            "diverged": self.diverged, "iterations": self.iterations,
            "major_cycles": self.major_cycles, "restoring_beam": self.beam.to_dict(),
            "psf_sidelobe": self.psf_sidelobe,
            "final_peak_residual_jy": self.cycles[-1].peak_residual,
            "final_rms_jy": self.cycles[-1].rms,
            "model_flux_jy": self.cycles[-1].model_flux,
            "cycles": [_jsonable_record(c) for c in self.cycles],
        }  # fmt: skip


def _jsonable_record(record: CycleRecord) -> dict:
    return {k: (None if isinstance(v, float) and not math.isfinite(v) else v)
            for k, v in asdict(record).items()}


def check_mask(mask: np.ndarray | None, shape: tuple[int, int]) -> np.ndarray | None:
    """A boolean clean mask of ``shape``, or None (no mask: everywhere).

    Raises
    ------
    InputError
        For a mask of another shape, with non-finite values, or that selects no pixel (tclean
        would stop at once with stop code 7; here the run is refused before it starts).
    """
    if mask is None:
        return None
    mask = np.asarray(mask)
    if mask.shape != tuple(shape):
        raise InputError(f"the mask is {mask.shape[0]} x {mask.shape[1]} pixels but the image "
                         f"is {shape[0]} x {shape[1]}" if mask.ndim == 2 else
                         f"the mask has shape {mask.shape}; the image is {tuple(shape)}")
    if mask.dtype != bool:
        if not np.isfinite(mask).all():
            raise InputError("the mask has non-finite values")
        mask = mask != 0
    if not mask.any():
        raise InputError("the mask selects no pixel (it is empty or all zero): nothing could "
                         "be cleaned (tclean stop code 7)")
    return mask


def client_images(config: CleanConfig) -> int:
    """Image-sized arrays the major cycle holds on the client (the module docstring's model):
    10, and for multiscale ``2 x n_scales + n_scales^2 / 2`` more."""
    n = len(config.scales)
    return 10 + (2 * n + (n * n + 1) // 2 if n > 1 else 0)


def check_clean_config(config: CleanConfig, shape: tuple[int, int]) -> None:
    """Check the parts of ``config`` that depend on the image size (multiscale scales).

    Raises
    ------
    ConfigError
        Scales too large for the image.
    """
    if config.deconvolver == "multiscale":
        validate_scales(config.scales, shape)


def _statistics(residual: np.ndarray, mask: np.ndarray | None) -> tuple[float, float]:
    """Peak ``|residual|`` and robust rms inside the mask."""
    inside = residual if mask is None else np.where(mask, residual, np.nan)
    stats = summarise_numpy(inside)
    return max(abs(stats.maximum), abs(stats.minimum)), stats.rms


def _stop_code(config: CleanConfig, peaks: list[float], peak: float, rms: float, iterations: int,
               major: int) -> int:
    """tclean's stop code for the state after ``major`` cycles (0: go on); see the module."""
    if peaks and peak > config.divergence_factor * peaks[-1]:
        return 5
    if peaks and peak > config.divergence_factor * min(peaks):
        return 6
    if peak <= config.threshold_jy:
        return 2
    if config.nsigma > 0 and peak <= config.nsigma * rms:
        return 8
    if iterations >= config.niter:
        return 1
    if 0 <= config.nmajor <= major:
        return 9
    return 0


def cotton_schwab(
    operator: ImagingOperator,
    config: CleanConfig,
    *,
    mask: np.ndarray | None = None,
    psf: np.ndarray | None = None,
    progress: Callable[[CycleRecord], None] | None = None,
    threads: int = 1,
) -> CleanResult:
    """Deconvolve the operator's data with Cotton-Schwab CLEAN (see the module docstring).

    Parameters
    ----------
    operator
        The imaging operator (prepared visibilities) to image and recompute residuals with.
    config
        CLEAN parameters (tclean names and defaults).
    mask
        Clean mask (nx, ny): True (or non-zero) where components may be placed; the peak and
        rms used for stopping are measured inside it. Default: the whole image.
    psf
        The PSF the minor cycles use (peak 1 at the centre, the image's shape); default the
        operator's. Restoration and the sidelobe level follow this PSF.
    progress
        Called with each :class:`CycleRecord` as it is made (e.g. to print
        :meth:`CycleRecord.line`).
    threads
        Threads of the minor cycles (Hogbom's PSF subtraction, the Clark and multiscale FFTs)
        and the restoration, all in this process.

    Returns
    -------
    CleanResult
        Restored image, residual, model, PSF, beam, stop code and the cycle history.

    Raises
    ------
    InputError
        A mask or PSF that does not fit the image, an empty mask, or a non-finite PSF or
        residual.
    ConfigError
        Scales larger than the image.
    """
    start = time.perf_counter()
    shape = operator.shape
    check_clean_config(config, shape)
    mask = check_mask(mask, shape)
    if psf is None:
        dirty, psf = dask.compute(operator.dirty(), operator.psf()[0])
    else:
        (dirty,) = dask.compute(operator.dirty())
    psf = np.asarray(psf, dtype=np.float64)
    if psf.shape != shape or not np.isfinite(psf).all():
        raise InputError(f"the PSF must be a finite {shape[0]} x {shape[1]} image")
    residual = np.asarray(dirty, dtype=np.float64)
    cell = operator.config.cell_arcsec
    beam = fit_restoring_beam(psf, cell, psfcutoff=config.psfcutoff)
    sidelobe = max_outer_sidelobe(psf)
    model = np.zeros(shape)
    cycles: list[CycleRecord] = []
    peaks: list[float] = []
    iterations = major = 0
    while True:
        peak, rms = _statistics(residual, mask)
        if not math.isfinite(peak):
            raise InputError(f"the residual of major cycle {major} is not finite")
        code = _stop_code(config, peaks, peak, rms, iterations, major)
        threshold = math.nan if code else cycle_threshold(
            peak, sidelobe, cyclefactor=config.cyclefactor,
            minpsffraction=config.minpsffraction, maxpsffraction=config.maxpsffraction,
            threshold=config.threshold_jy, nsigma_threshold=config.nsigma * rms)
        record = CycleRecord(major, iterations, peak, rms, float(model.sum()), threshold,
                             time.perf_counter() - start)
        cycles.append(record)
        if progress is not None:
            progress(record)
        if code:
            break
        peaks.append(peak)
        budget = config.niter - iterations
        if config.cycleniter > 0:
            budget = min(budget, config.cycleniter)
        minor = run_minor_cycle(config.deconvolver, residual, psf, mask=mask, gain=config.gain,
                                niter=budget, threshold=threshold, scales=config.scales,
                                small_scale_bias=config.smallscalebias,
                                fft_threads=threads)
        if minor.iterations == 0:
            code = 4
            break
        model += minor.model
        iterations += minor.iterations
        residual = np.asarray(operator.residual(model).compute(), dtype=np.float64)
        major += 1
    restored = restore(model, residual, beam, cell, fft_threads=threads)
    return CleanResult(restored=restored, residual=residual, model=model, psf=psf, beam=beam,
                       psf_sidelobe=sidelobe, stop_code=code, stop_reason=STOP_CODES[code],
                       cycles=cycles)
