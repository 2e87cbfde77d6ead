"""The restoring beam: an elliptical Gaussian fitted to the PSF main lobe, as tclean does.

Orientation: images are indexed ``[x, y]`` with north = +y and east = -x (RA increases to the
left), so a pixel offset ``(dx, dy)`` is ``(east, north) = (-dx, dy) * cell``. The position angle
is that of the major axis in degrees east of north, folded into (-90, 90] as CASA reports it: a
beam elongated north-south has PA 0, one elongated towards north-east (-x, +y) has PA +45.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import ndimage, optimize

from vlassdask.errors import ConfigError, InputError
from vlassdask.kernels.constants import FWHM_PER_SIGMA

#: Fewest main-lobe pixels for the four-parameter fit (amplitude and the 2 x 2 shape).
MIN_LOBE_PIXELS = 5


@dataclass(frozen=True)
class Beam:
    """An elliptical Gaussian beam: FWHM axes (arcsec) and PA (degrees east of north)."""

    major_arcsec: float
    minor_arcsec: float
    pa_deg: float

    def to_dict(self) -> dict[str, float]:
        """``{"major_arcsec", "minor_arcsec", "pa_deg"}`` (the image ``restoring_beam`` attr)."""
        return {"major_arcsec": float(self.major_arcsec), "minor_arcsec": float(self.minor_arcsec),
                "pa_deg": float(self.pa_deg)}  # fmt: skip

    def pixel_inverse_covariance(self, cell_arcsec: float) -> np.ndarray:
        """The 2 x 2 inverse covariance on pixel ``(x, y)`` axes: ``exp(-d^T Q d / 2)``."""
        pa = math.radians(self.pa_deg)
        # Major-axis unit vector in pixel (x, y): east = -x, north = +y.
        major = np.array([-math.sin(pa), math.cos(pa)])
        minor = np.array([math.cos(pa), math.sin(pa)])
        s_maj = self.major_arcsec / FWHM_PER_SIGMA / cell_arcsec
        s_min = self.minor_arcsec / FWHM_PER_SIGMA / cell_arcsec
        return np.outer(major, major) / s_maj**2 + np.outer(minor, minor) / s_min**2


def beam_from_pixel_covariance(cov: np.ndarray, cell_arcsec: float) -> Beam:
    """The :class:`Beam` of a 2 x 2 covariance (pixels^2) on ``(x, y)`` axes."""
    values, vectors = np.linalg.eigh(cov)
    dx, dy = vectors[:, 1]
    pa = math.degrees(math.atan2(-dx, dy))
    pa = (pa + 90.0) % 180.0 - 90.0
    if pa == -90.0 or values[1] - values[0] <= 1e-12 * values[1]:
        pa = 90.0 if pa == -90.0 else 0.0
    scale = FWHM_PER_SIGMA * cell_arcsec
    return Beam(math.sqrt(values[1]) * scale, math.sqrt(values[0]) * scale, pa)


def fit_restoring_beam(psf: np.ndarray, cell_arcsec: float, *, psfcutoff: float = 0.35) -> Beam:
    """Fit an elliptical Gaussian to the PSF main lobe (tclean's restoring beam).

    The main lobe is the 4-connected region around the peak where the PSF is above ``psfcutoff``
    (tclean's ``psfcutoff``, default 0.35); a Gaussian centred on the peak pixel (a PSF is
    centro-symmetric) with free amplitude and 2 x 2 shape is fitted to it by least squares.

    Parameters
    ----------
    psf : float (nx, ny)
        Peak at ``(nx // 2, ny // 2)``.
    cell_arcsec : float
        Pixel size.
    psfcutoff : float
        In (0, 1): fraction of the peak bounding the fitted region.

    Raises
    ------
    ConfigError
        For a cell or ``psfcutoff`` out of range.
    InputError
        If the PSF does not peak (positively) at the centre or its main lobe is too small or
        not Gaussian-like to fit (then the cell is too coarse for the beam).
    """
    if not (np.isfinite(cell_arcsec) and cell_arcsec > 0):
        raise ConfigError(f"cell_arcsec must be > 0, got {cell_arcsec:g}")
    if not 0.0 < psfcutoff < 1.0:
        raise ConfigError(f"psfcutoff must be in (0, 1), got {psfcutoff:g}")
    psf = np.asarray(psf, dtype=np.float64)
    if psf.ndim != 2:
        raise InputError(f"the PSF must be a 2-d image, got shape {psf.shape}")
    cx, cy = psf.shape[0] // 2, psf.shape[1] // 2
    peak = psf[cx, cy]
    if not (np.isfinite(peak) and peak > 0 and peak >= np.nanmax(psf)):
        raise InputError("the PSF has no positive peak at its centre pixel (nx//2, ny//2); "
                         "cannot fit a restoring beam")  # fmt: skip
    labels, _ = ndimage.label(psf > psfcutoff * peak)
    xs, ys = np.nonzero(labels == labels[cx, cy])
    if xs.size < MIN_LOBE_PIXELS or np.ptp(xs) == 0 or np.ptp(ys) == 0:
        raise InputError(f"the PSF main lobe has only {xs.size} pixel(s) above psfcutoff="
                         f"{psfcutoff:g}; the cell {cell_arcsec:g} arcsec is too coarse to fit "
                         "a restoring beam, use a smaller cell")  # fmt: skip
    dx, dy, values = (xs - cx).astype(np.float64), (ys - cy).astype(np.float64), psf[xs, ys]
    guess = _moment_guess(dx, dy, values, peak)

    def misfit(p: np.ndarray) -> np.ndarray:
        a, b, c = p[1] ** 2, p[2] ** 2 + p[3] ** 2, p[1] * p[3]
        # Q = L L^T with L = [[p1, 0], [p3, p2]] keeps the quadratic form positive definite.
        return p[0] * np.exp(-0.5 * (a * dx**2 + 2 * c * dx * dy + b * dy**2)) - values

    solution = optimize.least_squares(misfit, guess, method="lm")
    p = solution.x
    inverse = np.array([[p[1] ** 2, p[1] * p[3]], [p[1] * p[3], p[2] ** 2 + p[3] ** 2]])
    if not solution.success or np.linalg.det(inverse) <= 0:
        raise InputError("the PSF main lobe could not be fitted by a Gaussian; check the PSF "
                         "or use a smaller cell")  # fmt: skip
    return beam_from_pixel_covariance(np.linalg.inv(inverse), cell_arcsec)


def _moment_guess(dx: np.ndarray, dy: np.ndarray, values: np.ndarray, peak: float) -> np.ndarray:
    """Start values ``(amplitude, L11, L22, L21)`` from the lobe's log-value moments."""
    # For a Gaussian, -2 ln(v / peak) = d^T Q d; a least-squares fit of that quadratic.
    weight = values > 0
    target = -2.0 * np.log(np.clip(values[weight] / peak, 1e-12, None))
    design = np.stack([dx[weight] ** 2, 2 * dx[weight] * dy[weight], dy[weight] ** 2], axis=1)
    (a, c, b), *_ = np.linalg.lstsq(design, target, rcond=None)
    q = np.array([[a, c], [c, b]])
    if np.linalg.eigvalsh(q)[0] <= 0:
        q = np.eye(2) / max(float(np.mean(dx**2 + dy**2)), 1.0)
    low = np.linalg.cholesky(q)
    return np.array([peak, low[0, 0], low[1, 1], low[1, 0]])
