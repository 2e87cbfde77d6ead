"""Component measurements from fitted Gaussians: errors, deconvolution, grouping into sources.

Everything here works in pixels, radians and image units (Jy/beam); :mod:`vlassdask.catalog.find`
turns the results into catalog units and sky positions.

* Errors follow Condon (1997, PASP 109, 166), eqs. 21 and 41, with the beam FWHM axes as the noise
  correlation lengths (as PyBDSF does).
* Beam deconvolution: the standard analytic result for Gaussians (e.g. Wild 1970); an axis that
  does not deconvolve is 0.
* Grouping: Gaussians of one island form one source when the summed model along the line joining
  their centres never drops below ``0.5 * group_tol`` times the fainter peak. A source of several
  Gaussians (S_Code ``M``) has the summed flux, the model's peak and the position and size of the
  second moments of the summed model.
"""

from __future__ import annotations

import numpy as np
from scipy.sparse.csgraph import connected_components

from vlassdask.catalog.gaussian_fit import gaussian_model
from vlassdask.kernels.constants import FWHM_PER_SIGMA


def condon_errors(amp: np.ndarray, smaj: np.ndarray, smin: np.ndarray, theta: np.ndarray,
                  rms: np.ndarray, beam_fwhm: tuple[float, float]) -> dict[str, np.ndarray]:
    """Condon (1997) errors of elliptical Gaussian fits.

    Parameters
    ----------
    amp, smaj, smin, theta
        Peak, sigma axes (pixels) and position angle (rad) of each Gaussian.
    rms
        Local noise at each Gaussian.
    beam_fwhm
        Beam FWHM axes in pixels (the noise correlation lengths).

    Returns
    -------
    dict
        ``amp``, ``x``, ``y`` (pixels), ``maj``, ``min`` (FWHM, pixels), ``pa`` (rad),
        ``total`` (fractional error of the integrated flux).
    """
    fmaj, fmin = smaj * FWHM_PER_SIGMA, smin * FWHM_PER_SIGMA
    bmaj, bmin = beam_fwhm
    snr = amp / rms
    base = np.sqrt(fmaj * fmin / (4.0 * bmaj * bmin)) * snr
    a1 = 1.0 + bmaj * bmin / fmaj**2
    a2 = 1.0 + bmaj * bmin / fmin**2

    def rho(p: float, q: float) -> np.ndarray:
        return base * a1 ** (p / 2) * a2 ** (q / 2)

    e_amp = amp * np.sqrt(2.0) / rho(1.5, 1.5)
    e_fmaj = fmaj * np.sqrt(2.0) / rho(2.5, 0.5)
    e_fmin = fmin * np.sqrt(2.0) / rho(0.5, 2.5)
    e_along = smaj * np.sqrt(2.0) / rho(2.5, 0.5)
    e_across = smin * np.sqrt(2.0) / rho(0.5, 2.5)
    spread = np.maximum(fmaj**2 - fmin**2, 1e-12)
    e_pa = np.minimum(np.sqrt(2.0) / rho(0.5, 2.5) * 2.0 * fmaj * fmin / spread, np.pi / 2)
    s, c = np.sin(theta), np.cos(theta)
    e_x = np.sqrt((e_along * s) ** 2 + (e_across * c) ** 2)
    e_y = np.sqrt((e_along * c) ** 2 + (e_across * s) ** 2)
    total = np.sqrt((e_amp / amp) ** 2 + (bmaj * bmin / (fmaj * fmin))
                    * ((e_fmaj / fmaj) ** 2 + (e_fmin / fmin) ** 2))  # fmt: skip
    return {"amp": e_amp, "x": e_x, "y": e_y, "maj": e_fmaj, "min": e_fmin, "pa": e_pa,
            "total": total}  # fmt: skip


def deconvolve(fmaj: np.ndarray, fmin: np.ndarray, theta: np.ndarray,
               beam: tuple[float, float, float]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Deconvolve Gaussians (FWHM axes, PA in rad) from the beam (FWHM axes, PA in rad).

    Returns
    -------
    major, minor, pa
        Deconvolved FWHM axes (0 where an axis does not deconvolve) and PA in [0, pi) (0 for a
        point source).
    """
    bmaj, bmin, bpa = beam
    alpha = ((fmaj * np.cos(theta)) ** 2 + (fmin * np.sin(theta)) ** 2
             - (bmaj * np.cos(bpa)) ** 2 - (bmin * np.sin(bpa)) ** 2)  # fmt: skip
    beta = ((fmaj * np.sin(theta)) ** 2 + (fmin * np.cos(theta)) ** 2
            - (bmaj * np.sin(bpa)) ** 2 - (bmin * np.cos(bpa)) ** 2)  # fmt: skip
    gamma = 2.0 * ((fmin**2 - fmaj**2) * np.sin(theta) * np.cos(theta)
                   - (bmin**2 - bmaj**2) * np.sin(bpa) * np.cos(bpa))  # fmt: skip
    s = alpha + beta
    t = np.sqrt((alpha - beta) ** 2 + gamma**2)
    major = np.sqrt(np.clip(0.5 * (s + t), 0.0, None))
    minor = np.sqrt(np.clip(0.5 * (s - t), 0.0, None))
    pa = np.mod(0.5 * np.arctan2(-gamma, alpha - beta), np.pi)
    return major, minor, np.where(major > 0, pa, 0.0)


def group_gaussians(params: np.ndarray, tol: float, samples: int = 32) -> np.ndarray:
    """Source index of each Gaussian of one island (see the module docstring)."""
    n = params.shape[0]
    if n == 1:
        return np.zeros(1, dtype=np.int64)
    linked = np.eye(n, dtype=bool)
    t = np.linspace(0.0, 1.0, samples)
    for i in range(n):
        for j in range(i + 1, n):
            x = params[i, 1] + t * (params[j, 1] - params[i, 1])
            y = params[i, 2] + t * (params[j, 2] - params[i, 2])
            along = gaussian_model(params[[i, j]], x, y)
            linked[i, j] = along.min() >= 0.5 * tol * min(params[i, 0], params[j, 0])
    return connected_components(linked, directed=False)[1]


def moments(params: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> tuple[float, ...]:
    """Centre, FWHM axes and PA of the summed model of ``params`` from its second moments
    over the pixels ``xs``, ``ys`` (extended by three sigma around every Gaussian)."""
    pad = int(np.ceil(3 * params[:, 3].max()))
    gx = np.arange(int(np.floor(min(xs.min(), params[:, 1].min()))) - pad,
                   int(np.ceil(max(xs.max(), params[:, 1].max()))) + pad + 1)
    gy = np.arange(int(np.floor(min(ys.min(), params[:, 2].min()))) - pad,
                   int(np.ceil(max(ys.max(), params[:, 2].max()))) + pad + 1)
    dx, dy = np.meshgrid(gx, gy, indexing="ij")
    model = gaussian_model(params, dx, dy)
    total = model.sum()
    cx, cy = (model * dx).sum() / total, (model * dy).sum() / total
    cov = np.array([[(model * (dx - cx) ** 2).sum(), (model * (dx - cx) * (dy - cy)).sum()],
                    [(model * (dx - cx) * (dy - cy)).sum(), (model * (dy - cy) ** 2).sum()]])
    evals, evecs = np.linalg.eigh(cov / total)
    major_vec = evecs[:, 1]
    theta = np.mod(np.arctan2(-major_vec[0], major_vec[1]), np.pi)
    return (cx, cy, FWHM_PER_SIGMA * np.sqrt(max(evals[1], 0.0)),
            FWHM_PER_SIGMA * np.sqrt(max(evals[0], 0.0)), theta)
