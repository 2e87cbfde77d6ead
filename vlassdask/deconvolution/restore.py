"""Restoration: the CLEAN model convolved with the restoring beam plus the residual.

The beam image has peak 1, so a model point of S Jy (Jy/pixel) restores to a peak of S Jy/beam
and the restored image's sum divided by :func:`beam_area_pixels` is the model flux. The
convolution is linear (zero-padded), so flux near one edge never wraps to the other.
"""

from __future__ import annotations

import math

import numpy as np

from vlassdask.deconvolution.beam import Beam
from vlassdask.deconvolution.scales import CentredConvolver
from vlassdask.errors import ConfigError, InputError


def beam_area_pixels(beam: Beam, cell_arcsec: float) -> float:
    """Beam solid angle in pixels: ``pi / (4 ln 2) * major * minor / cell^2``."""
    return math.pi / (4.0 * math.log(2.0)) * beam.major_arcsec * beam.minor_arcsec / cell_arcsec**2


def gaussian_beam_image(shape: tuple[int, int], beam: Beam, cell_arcsec: float) -> np.ndarray:
    """The peak-1 elliptical Gaussian of ``beam`` centred at ``(nx // 2, ny // 2)``.

    Parameters
    ----------
    shape : (nx, ny)
    beam : Beam
        FWHM axes (arcsec), PA east of north (east = -x, north = +y).
    cell_arcsec : float

    Returns
    -------
    float64 (nx, ny)
    """
    _check_beam(beam, cell_arcsec)
    q = beam.pixel_inverse_covariance(cell_arcsec)
    dx = (np.arange(shape[0]) - shape[0] // 2).astype(np.float64)[:, None]
    dy = (np.arange(shape[1]) - shape[1] // 2).astype(np.float64)[None, :]
    return np.exp(-0.5 * (q[0, 0] * dx**2 + 2.0 * q[0, 1] * dx * dy + q[1, 1] * dy**2))


def restore(model: np.ndarray, residual: np.ndarray, beam: Beam, cell_arcsec: float, *,
            fft_threads: int = 1) -> np.ndarray:
    """The restored image (Jy/beam): ``model`` convolved with the peak-1 beam, plus ``residual``.

    Parameters
    ----------
    model : float (nx, ny)
        CLEAN components, Jy/pixel.
    residual : float (nx, ny)
        Jy/beam.
    beam : Beam
    cell_arcsec : float
    fft_threads : int
        ``workers`` of the FFT.

    Returns
    -------
    float64 (nx, ny)

    Notes
    -----
    The beam is sampled on the image's own grid (it is negligible beyond half the image) and
    the transforms are padded to about twice the image on each axis; peak memory is about six
    image-sized float64 buffers.
    """
    model = np.asarray(model, dtype=np.float64)
    residual = np.asarray(residual, dtype=np.float64)
    if model.ndim != 2 or model.shape != residual.shape:
        raise InputError(f"model {model.shape} and residual {residual.shape} must be 2-d images "
                         "of the same shape")  # fmt: skip
    kernel = gaussian_beam_image(model.shape, beam, cell_arcsec)
    return CentredConvolver(kernel, model.shape, fft_threads=fft_threads)(model) + residual


def _check_beam(beam: Beam, cell_arcsec: float) -> None:
    if not (np.isfinite(cell_arcsec) and cell_arcsec > 0):
        raise ConfigError(f"cell_arcsec must be > 0, got {cell_arcsec:g}")
    if not (0 < beam.minor_arcsec <= beam.major_arcsec < math.inf and math.isfinite(beam.pa_deg)):
        raise InputError(f"invalid beam {beam.to_dict()}: need 0 < minor <= major, finite PA")
