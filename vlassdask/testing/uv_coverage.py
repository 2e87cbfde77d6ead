"""Synthetic uv coverage, PSF and restoring beam of a VLA B-configuration track (for tests).

The coverage is gridded on the Fourier plane of an n x n image with cells of ``uv_cell_arcsec``
(nearest cell), in the ``scipy.fft.rfft2`` layout (n, n//2 + 1): frequency index ``k`` holds
spatial frequency ``k / n`` cycles per pixel, i.e. ``u = k / (n cell)`` wavelengths.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.fft
from scipy import ndimage

from vlassdask.kernels.constants import FWHM_PER_SIGMA
from vlassdask.simulate.array import VLA_LONGITUDE_DEG, load_vla_b_configuration

ARCSEC = math.pi / (180.0 * 3600.0)
SPEED_OF_LIGHT = 299_792_458.0
DISH_DIAMETER_M = 25.0


@dataclass(frozen=True)
class Coverage:
    """Gridded, weighted uv coverage of an n x n image.

    Attributes
    ----------
    psf_transfer
        (n, n//2 + 1) imaging weights per cell, scaled so that the PSF peaks at 1.
    noise_transfer
        (n, n//2 + 1) sqrt of the noise power per cell (unnormalised).
    samples
        (S, 2) sample positions ``(k_x, k_y)`` in Fourier pixels (one of each Hermitian pair).
    """

    psf_transfer: np.ndarray
    noise_transfer: np.ndarray
    samples: np.ndarray


def baseline_tracks(
    rng: np.random.Generator, *, n_times: int = 12, n_freq: int = 16
) -> tuple[np.ndarray, float]:
    """uv tracks (wavelengths) of all B-configuration baselines.

    A random declination (-40 to +85 deg) observed for 20-40 min around a random hour angle
    within +-3 h, at ``n_freq`` frequencies evenly over 2-4 GHz.

    Returns
    -------
    uv : numpy.ndarray
        (baseline x time x frequency, 2) u, v in wavelengths.
    dec_deg : float
        The declination.
    """
    positions = load_vla_b_configuration().positions_itrf_m
    lon = math.radians(VLA_LONGITUDE_DEG)
    local = positions @ np.array([[math.cos(lon), -math.sin(lon), 0.0],
                                  [math.sin(lon), math.cos(lon), 0.0],
                                  [0.0, 0.0, 1.0]])  # fmt: skip
    a1, a2 = np.triu_indices(len(local), k=1)
    bx, by, bz = (local[a2] - local[a1]).T
    dec_deg = float(rng.uniform(-40.0, 85.0))
    dec = math.radians(dec_deg)
    span = rng.uniform(20.0, 40.0) / 60.0
    hour_angle = np.radians(15.0 * (rng.uniform(-3.0, 3.0) + np.linspace(-span, span, n_times)
                                    / 2.0))  # fmt: skip
    h = hour_angle[None, :]
    u = np.sin(h) * bx[:, None] + np.cos(h) * by[:, None]
    v = (-math.sin(dec) * np.cos(h) * bx[:, None] + math.sin(dec) * np.sin(h) * by[:, None]
         + math.cos(dec) * bz[:, None])  # fmt: skip
    inverse_wavelength = np.linspace(2.0e9, 4.0e9, n_freq) / SPEED_OF_LIGHT
    uv = np.stack([u[..., None] * inverse_wavelength, v[..., None] * inverse_wavelength], -1)
    return uv.reshape(-1, 2), dec_deg


def grid_coverage(uv: np.ndarray, n: int, *, uv_cell_arcsec: float = 1.0, robust: float = 1.0,
                  frequency_hz: float = 3.0e9) -> Coverage:  # fmt: skip
    """Grid ``uv`` (wavelengths) for an n x n image with ``uv_cell_arcsec`` cells.

    Samples beyond the Nyquist circle are dropped (as for QL's 1" cells). The counts are smeared
    by the dish aperture (a Gaussian of sigma 0.45 D / lambda) and Briggs-weighted with
    ``robust``: imaging weight 1 / (1 + f^2 W) per sample, f^2 = (5 10^-robust)^2 / (sum W^2 /
    sum W); the PSF transfer is W / (1 + f^2 W), the noise power W / (1 + f^2 W)^2.
    """
    k = uv * (uv_cell_arcsec * ARCSEC * n)
    k = np.where((k[:, 1:2] < 0), -k, k)  # the rfft half plane
    k = np.rint(k).astype(np.int64)
    keep = (np.abs(k[:, 0]) < n // 2) & (k[:, 1] <= n // 2) & (np.hypot(*k.T) <= n // 2)
    k = k[keep]
    half = n // 2 + 1
    counts = np.bincount((k[:, 0] % n) * half + k[:, 1], minlength=n * half)
    counts = counts.reshape(n, half).astype(np.float64)
    sigma = 0.45 * DISH_DIAMETER_M * frequency_hz / SPEED_OF_LIGHT * uv_cell_arcsec * ARCSEC * n
    if sigma >= 0.3:
        counts = ndimage.gaussian_filter(counts, sigma, mode=("wrap", "mirror"))
    f2 = (5.0 * 10.0 ** -robust) ** 2 / (np.sum(counts**2) / np.sum(counts))
    imaging = counts / (1.0 + f2 * counts)
    noise_power = counts / (1.0 + f2 * counts) ** 2
    psf_peak = scipy.fft.irfft2(imaging, s=(n, n))[0, 0]
    return Coverage(psf_transfer=imaging / psf_peak, noise_transfer=np.sqrt(noise_power),
                    samples=k)


def fit_restoring_beam(psf: np.ndarray) -> tuple[float, float, float]:
    """Gaussian fit to the PSF's main lobe (pixels above 0.35 near the peak at n//2).

    Returns
    -------
    tuple of float
        ``(major, minor)`` FWHM in pixels and the position angle of the major axis in degrees
        from north (+y) through east (-x).
    """
    c = psf.shape[0] // 2
    box = psf[c - 8:c + 9, c - 8:c + 9]
    labels, _ = ndimage.label(box > 0.35)
    lobe = labels == labels[8, 8]
    x, y = np.nonzero(lobe)
    x, y = x - 8.0, y - 8.0
    design = np.column_stack([x * x, 2 * x * y, y * y])
    a, b, cc = np.linalg.lstsq(design, -np.log(box[lobe]), rcond=None)[0]
    values, vectors = np.linalg.eigh(np.array([[a, b], [b, cc]]))
    sigmas = 1.0 / np.sqrt(2.0 * values)  # exp(-q) = exp(-x^2 / (2 sigma^2)) along an axis
    major_axis = vectors[:, 0]  # the smaller eigenvalue: the longer axis
    pa = math.degrees(math.atan2(-major_axis[0], major_axis[1])) % 180.0
    return float(FWHM_PER_SIGMA * sigmas[0]), float(FWHM_PER_SIGMA * sigmas[1]), pa


def gaussian_transfer(n: int, major: float, minor: float, pa_deg: float) -> np.ndarray:
    """rfft2 transfer function (n, n//2 + 1) of an elliptical Gaussian of peak 1 (FWHM in
    pixels, PA from north (+y) through east (-x)) centred on pixel (0, 0)."""
    pa = math.radians(pa_deg)
    major_dir = np.array([-math.sin(pa), math.cos(pa)])  # (x, y) of the major axis
    minor_dir = np.array([major_dir[1], -major_dir[0]])
    x = np.fft.fftfreq(n, 1.0 / n)[:, None]
    y = np.fft.fftfreq(n, 1.0 / n)[None, :]
    s_major, s_minor = major / FWHM_PER_SIGMA, minor / FWHM_PER_SIGMA
    along = x * major_dir[0] + y * major_dir[1]
    across = x * minor_dir[0] + y * minor_dir[1]
    kernel = np.exp(-0.5 * ((along / s_major) ** 2 + (across / s_minor) ** 2))
    return scipy.fft.rfft2(kernel).real
