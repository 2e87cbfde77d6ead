"""Major/minor cycle control as in CASA tclean: PSF sidelobe level and the cycle threshold.

tclean ends a minor cycle at the *cycle threshold*, derived from the peak residual at the start
of the cycle and the PSF's largest sidelobe (CASA docs, ``tclean`` parameters ``cyclefactor``,
``minpsffraction``, ``maxpsffraction``, ``threshold`` and ``nsigma``; and "Iteration control" in
the CASA synthesis-imaging documentation)::

    psffraction    = clamp(cyclefactor * psf_sidelobe, minpsffraction, maxpsffraction)
    cyclethreshold = max(psffraction * peak_residual, threshold, nsigma_threshold)

where ``nsigma_threshold = nsigma * robust rms`` of the residual (computed by the caller).
"""

from __future__ import annotations

import numpy as np

from vlassdask.errors import ConfigError, InputError
from vlassdask.kernels.clean import downhill_lobe


def main_lobe(psf: np.ndarray) -> np.ndarray:
    """The PSF main lobe: pixels grown from the centre while positive and not rising.

    Parameters
    ----------
    psf : float (nx, ny)
        Peak at ``(nx // 2, ny // 2)``.

    Returns
    -------
    bool (nx, ny)
        The connected region around the peak out to the first null (or to the first local
        minimum, where noise keeps a real PSF from crossing zero).
    """
    return downhill_lobe(np.ascontiguousarray(psf, dtype=np.float64), floor=0.0)


def max_outer_sidelobe(psf: np.ndarray) -> float:
    """The largest ``|PSF|`` outside the main lobe (tclean's "PSF sidelobe level").

    Parameters
    ----------
    psf : float (nx, ny)
        Peak 1 at ``(nx // 2, ny // 2)``.

    Raises
    ------
    InputError
        If the PSF is not positive at its centre.
    """
    psf = np.asarray(psf, dtype=np.float64)
    if psf.ndim != 2 or not psf[psf.shape[0] // 2, psf.shape[1] // 2] > 0:
        raise InputError("the PSF must be a 2-d image with a positive peak at (nx//2, ny//2)")
    outside = ~main_lobe(psf)
    return float(np.abs(psf[outside]).max()) if outside.any() else 0.0


def cycle_threshold(peak_residual: float, psf_sidelobe: float, *, cyclefactor: float = 1.0,
                    minpsffraction: float = 0.05, maxpsffraction: float = 0.8,
                    threshold: float = 0.0, nsigma_threshold: float = 0.0) -> float:
    """The minor-cycle stopping threshold (Jy/beam), exactly as tclean computes it.

    Parameters
    ----------
    peak_residual : float
        Peak ``|residual|`` (Jy/beam, inside the mask) at the start of the minor cycle.
    psf_sidelobe : float
        :func:`max_outer_sidelobe` of the PSF.
    cyclefactor : float
        tclean ``cyclefactor`` (default 1.0): scales the PSF sidelobe level to the fraction of the
        peak at which a minor cycle stops and a major cycle is triggered.
    minpsffraction, maxpsffraction : float
        tclean ``minpsffraction`` (0.05) and ``maxpsffraction`` (0.8): the clamp on that fraction.
    threshold : float
        tclean ``threshold`` (Jy/beam): the global stopping threshold.
    nsigma_threshold : float
        ``nsigma`` times the robust residual rms (Jy/beam), 0 when tclean's ``nsigma`` is 0.

    Returns
    -------
    float
        ``max(psffraction * peak_residual, threshold, nsigma_threshold)`` with ``psffraction =
        clamp(cyclefactor * psf_sidelobe, minpsffraction, maxpsffraction)``.

    Raises
    ------
    ConfigError
        For a non-positive ``cyclefactor`` or ``minpsffraction > maxpsffraction`` or fractions
        outside [0, 1].
    """
    if not cyclefactor > 0:
        raise ConfigError(f"cyclefactor must be > 0, got {cyclefactor:g}")
    if not 0 <= minpsffraction <= maxpsffraction <= 1:
        raise ConfigError("need 0 <= minpsffraction <= maxpsffraction <= 1, got "
                          f"{minpsffraction:g} and {maxpsffraction:g}")  # fmt: skip
    psffraction = min(max(cyclefactor * psf_sidelobe, minpsffraction), maxpsffraction)
    return float(max(psffraction * abs(peak_residual), threshold, nsigma_threshold))
