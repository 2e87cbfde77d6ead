"""Seeded synthetic VLASS-like image planes for QA tests and benchmarks (no imaging needed).

:func:`make_synthetic_field` builds a :class:`SyntheticField`: the ingredients of a Quick Look
image, from which :meth:`SyntheticField.images` assembles the planes QA looks at
(:class:`~vlassdask.qa.types.QAImages`). The artifact injectors of
:mod:`vlassdask.testing.artifacts` change the ingredients (pointing weights, left-over flux,
noise gain, extra residual terms) and the planes are assembled again.

The model
---------
* **Geometry**: the field is a QL *full* image (2.025 deg = 7290") at ``n`` pixels, so cells are
  ``7290" / n`` (1" at n = 7290) and every angular feature (primary beam, PB holes, RFI patches)
  keeps its true size; the sub-image is the central 3722/7290 of it. ``field_arcsec`` and
  ``subimage_fraction`` change that (e.g. a 3722" field that is all sub-image, like a VLASS
  archive image).
* **uv coverage and PSF**: the VLA B configuration (``data/vla_b_config.txt``) tracked over
  20-40 min of hour angle at a random declination, 16 frequencies over 2-4 GHz, gridded on the
  image's Fourier plane as for a 1" cell image (``uv_cell_arcsec``): the beam then spans ~2.5
  pixels at any ``n``, as the QL beam does at 1" cells. The samples are smeared by the dish
  aperture and Briggs-weighted (robust 1). PSF = inverse FFT of the weights; the restoring beam
  is a Gaussian fitted to its main lobe.
* **Noise**: Gaussian noise with the power spectrum of the weighted uv coverage (a dirty image of
  thermal noise), ``noise_jy`` rms (QL: ~120 uJy/beam), flat across the mosaic (a flat-noise
  residual).
* **Mosaic PB**: on-the-fly pointings (rows 7.2' apart, phase centres 2.98' apart, SPEC) over
  the central ``coverage`` of the field; PB = sqrt(sum_p w_p B_p^2) normalised to its maximum,
  with the VLA S-band beam B (:func:`vlassdask.imaging.primary_beam.vla_primary_beam`). Pixels
  below 0.2 are blanked (NaN) in the sky, residual and rms planes, as in VLASS products.
* **Sky**: point sources with N(>S) = 100 (S / 1 mJy)^-1 per deg^2 from 0.3 mJy to 0.5 Jy.
  Sources above ``clean_sigma`` x noise are cleaned (restored with the beam, no residual);
  fainter ones stay in the residual at their apparent flux (convolved with the PSF).
* **Planes**: residual = noise x gain + PSF * (left-over flux x PB) + extra terms (flat noise);
  sky = restored sources + residual / PB (PB-corrected, as VLASS publishes); rms = robust rms
  (1.4826 MAD) of the sky in boxes of ~60" (at least 8 pixels), bilinearly interpolated.

Memory: ~15 float64 planes of n^2 pixels (0.1 GB at n = 1024, 1.6 GB at n = 3722).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import numpy as np
import scipy.fft
import xarray as xr
from scipy import ndimage
from scipy.signal import fftconvolve

from vlassdask.imaging.primary_beam import vla_primary_beam
from vlassdask.qa.types import QAImages
from vlassdask.testing.uv_coverage import (
    baseline_tracks,
    fit_restoring_beam,
    gaussian_transfer,
    grid_coverage,
)

ARCSEC = math.pi / (180.0 * 3600.0)
#: VLASS Quick Look geometry (SPEC.md "Images").
QL_FULL_ARCSEC = 7290.0
QL_SUBIMAGE_FRACTION = 3722.0 / 7290.0
#: On-the-fly pointing grid (SPEC.md "Observing set-up"), arcmin.
OTF_ROW_SPACING_ARCMIN = 7.2
OTF_STEP_ARCMIN = 2.98
#: Mosaic PB mask level of VLASS images.
PB_MASK = 0.2
#: Source counts: N(>S) = SOURCE_DENSITY_PER_DEG2 (S / 1 mJy)^-1 between these fluxes.
SOURCE_DENSITY_PER_DEG2 = 100.0
SOURCE_FLUX_RANGE_JY = (3e-4, 0.5)
#: Cell (arcsec) of the PB computation grid (the PB is smooth on arcminute scales).
PB_GRID_ARCSEC = 30.0


@dataclass
class SyntheticField:
    """The ingredients of one synthetic image (mutable: injectors change them).

    Attributes
    ----------
    n, cell_arcsec, frequency_hz, subimage
        Image size (n x n), pixel size, frequency and the sub-image box ``(x0, x1, y0, y1)``.
    noise_jy
        rms of the flat-noise residual.
    beam
        Restoring beam ``{"major_arcsec", "minor_arcsec", "pa_deg"}``.
    psf
        (n, n) point-spread function, peak 1 at pixel ``(n//2, n//2)``.
    psf_transfer, noise_transfer, beam_transfer
        (n, n//2 + 1) real transfer functions (rfft2 layout) of the PSF, of the noise (sqrt of
        its power spectrum) and of the restoring beam (peak 1 in the image plane).
    pointings
        (P, 2) pointing centres in pixels ``(x, y)``; ``weights`` (P,) their weights.
    cleaned, leftover
        (n, n) point-source fluxes (Jy, at the pixel) that are restored, and the apparent
        (PB-attenuated) fluxes left in the residual.
    noise
        (n, n) unit-rms noise realisation; ``noise_gain`` (n, n) multiplies it.
    extra_residual
        (n, n) additional flat-residual terms (Jy/beam), e.g. stripes.
    rng
        The field's random generator (injectors draw from it).
    """

    n: int
    cell_arcsec: float
    frequency_hz: float
    subimage: tuple[int, int, int, int]
    noise_jy: float
    beam: dict[str, float]
    psf: np.ndarray
    psf_transfer: np.ndarray
    noise_transfer: np.ndarray
    beam_transfer: np.ndarray
    pointings: np.ndarray
    weights: np.ndarray
    cleaned: np.ndarray
    leftover: np.ndarray
    noise: np.ndarray
    rng: np.random.Generator
    noise_gain: np.ndarray | None = None
    extra_residual: np.ndarray | None = None
    uv_samples: np.ndarray = field(default_factory=lambda: np.zeros((0, 2)))

    def pb(self) -> np.ndarray:
        """Mosaic PB (n, n), normalised to its maximum."""
        raw = mosaic_response(self.pointings, self.weights, self.n, self.cell_arcsec,
                              self.frequency_hz)  # fmt: skip
        return raw / raw.max()

    def residual(self, pb: np.ndarray) -> np.ndarray:
        """Flat-noise residual (n, n), Jy/beam, not yet blanked."""
        gain = 1.0 if self.noise_gain is None else self.noise_gain
        dirty = scipy.fft.irfft2(scipy.fft.rfft2(self.leftover * pb) * self.psf_transfer,
                                 s=(self.n, self.n))  # fmt: skip
        out = self.noise_jy * self.noise * gain + dirty
        return out if self.extra_residual is None else out + self.extra_residual

    def images(self, name: str = "synthetic") -> QAImages:
        """Assemble the planes (see the module docstring)."""
        pb = self.pb()
        residual = self.residual(pb)
        restored = scipy.fft.irfft2(scipy.fft.rfft2(self.cleaned) * self.beam_transfer,
                                    s=(self.n, self.n))  # fmt: skip
        masked = pb < PB_MASK
        with np.errstate(divide="ignore", invalid="ignore"):
            sky = restored + residual / pb
        sky[masked] = np.nan
        residual[masked] = np.nan
        box = max(8, int(round(60.0 / self.cell_arcsec)))
        rms = box_rms(sky, box)
        rms[masked] = np.nan
        return QAImages(sky=_plane(sky), residual=_plane(residual), rms=_plane(rms),
                        pb=_plane(pb), cell_arcsec=self.cell_arcsec,
                        restoring_beam=dict(self.beam), subimage=self.subimage,
                        frequency_hz=self.frequency_hz, name=name)  # fmt: skip


def _plane(values: np.ndarray) -> xr.DataArray:
    return xr.DataArray(values.astype(np.float32), dims=("l", "m"))


def box_rms(image: np.ndarray, box: int) -> np.ndarray:
    """Robust rms (1.4826 MAD) in ``box x box`` tiles, bilinearly interpolated to every pixel."""
    n = image.shape[0] // box
    m = image.shape[1] // box
    tiles = image[:n * box, :m * box].reshape(n, box, m, box).transpose(0, 2, 1, 3)
    tiles = tiles.reshape(n, m, box * box)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN (blanked) tiles
        median = np.nanmedian(tiles, axis=2)
        mad = np.nanmedian(np.abs(tiles - median[..., None]), axis=2)
    rms = 1.4826 * mad
    rms = np.where(np.isfinite(rms), rms, np.nanmedian(rms))
    x = (np.arange(image.shape[0]) + 0.5) / box - 0.5
    y = (np.arange(image.shape[1]) + 0.5) / box - 0.5
    return ndimage.map_coordinates(rms, np.meshgrid(x, y, indexing="ij"), order=1,
                                   mode="nearest")  # fmt: skip


def mosaic_response(pointings: np.ndarray, weights: np.ndarray, n: int, cell_arcsec: float,
                    frequency_hz: float) -> np.ndarray:  # fmt: skip
    """sqrt(sum_p w_p B(x - p)^2) on the n x n grid (computed on a coarse grid, interpolated)."""
    scale = max(1.0, PB_GRID_ARCSEC / cell_arcsec)  # image pixels per coarse pixel
    m = int(math.ceil(n / scale)) + 1
    density = np.zeros((m, m))
    coarse = pointings / scale
    ix, iy = np.floor(coarse[:, 0]).astype(int), np.floor(coarse[:, 1]).astype(int)
    fx, fy = coarse[:, 0] - ix, coarse[:, 1] - iy
    for dx, dy, w in ((0, 0, (1 - fx) * (1 - fy)), (1, 0, fx * (1 - fy)),
                      (0, 1, (1 - fx) * fy), (1, 1, fx * fy)):  # fmt: skip
        keep = (ix + dx >= 0) & (ix + dx < m) & (iy + dy >= 0) & (iy + dy < m)
        np.add.at(density, (ix[keep] + dx, iy[keep] + dy), (weights * w)[keep])
    null_arcsec = 15.0 * 60.0 * 3.0e9 / frequency_hz
    half = int(math.ceil(null_arcsec / (scale * cell_arcsec))) + 1
    r = np.hypot(*np.meshgrid(np.arange(-half, half + 1), np.arange(-half, half + 1),
                              indexing="ij")) * scale * cell_arcsec * ARCSEC  # fmt: skip
    kernel = vla_primary_beam(r, frequency_hz) ** 2
    weight = np.clip(fftconvolve(density, kernel, mode="same"), 0.0, None)
    x = (np.arange(n) + 0.5) / scale - 0.5
    coords = np.meshgrid(x, x, indexing="ij")
    return np.sqrt(ndimage.map_coordinates(weight, coords, order=1, mode="nearest"))


def otf_pointings(n: int, cell_arcsec: float, coverage: float, rng: np.random.Generator
                  ) -> np.ndarray:  # fmt: skip
    """On-the-fly pointing centres (pixels) over the central ``coverage`` of a QL full field
    centred on the image (rows along x, a random offset of the raster)."""
    half = 0.5 * coverage * QL_FULL_ARCSEC / cell_arcsec
    centre = n / 2.0
    row = OTF_ROW_SPACING_ARCMIN * 60.0 / cell_arcsec
    step = OTF_STEP_ARCMIN * 60.0 / cell_arcsec
    y_rows = np.arange(-half + rng.uniform(0, row), half, row)
    x_steps = np.arange(-half + rng.uniform(0, step), half, step)
    xx, yy = np.meshgrid(x_steps, y_rows, indexing="ij")
    return np.column_stack([xx.ravel() + centre, yy.ravel() + centre])


def _sources(n: int, cell_arcsec: float, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """Pixel positions (x, y) and fluxes (Jy) of a random point-source sky."""
    area_deg2 = (n * cell_arcsec / 3600.0) ** 2
    s_min, s_max = SOURCE_FLUX_RANGE_JY
    expected = SOURCE_DENSITY_PER_DEG2 * area_deg2 * (1e-3 / s_min - 1e-3 / s_max)
    count = rng.poisson(expected)
    # N(>S) ~ 1/S between s_min and s_max: 1/S uniform
    flux = 1.0 / rng.uniform(1.0 / s_max, 1.0 / s_min, count)
    x = rng.integers(0, n, count)
    y = rng.integers(0, n, count)
    return x, y, flux


def make_synthetic_field(
    *,
    n: int = 512,
    seed: int = 0,
    field_arcsec: float = QL_FULL_ARCSEC,
    subimage_fraction: float = QL_SUBIMAGE_FRACTION,
    coverage: float = 0.8,
    noise_jy: float = 1.2e-4,
    clean_sigma: float = 3.0,
    frequency_hz: float = 3.0e9,
    uv_cell_arcsec: float = 1.0,
) -> SyntheticField:
    """A clean synthetic image (see the module docstring), seeded.

    Parameters
    ----------
    n
        Image side in pixels (even).
    seed
        Seed of everything random (sources, uv track, pointing raster, noise).
    field_arcsec
        Side of the image on the sky; cells are ``field_arcsec / n``.
    subimage_fraction
        Side of the central sub-image box as a fraction of ``n``.
    coverage
        The pointing raster covers this fraction of a QL full field (7290"), centred.
    noise_jy
        rms of the flat-noise residual, Jy/beam.
    clean_sigma
        Sources with apparent flux above this many ``noise_jy`` are cleaned; the rest stay in
        the residual.
    frequency_hz
        Reference frequency (PB size).
    uv_cell_arcsec
        Cell size for which the B-configuration coverage is gridded (1": the QL beam of ~2.5
        pixels at any ``n``).

    Returns
    -------
    SyntheticField
    """
    rng = np.random.default_rng(seed)
    cell = field_arcsec / n
    uv, _ = baseline_tracks(rng)
    cov = grid_coverage(uv, n, uv_cell_arcsec=uv_cell_arcsec, frequency_hz=frequency_hz)
    psf = np.fft.fftshift(scipy.fft.irfft2(cov.psf_transfer, s=(n, n)))
    major, minor, pa = fit_restoring_beam(psf)
    white = rng.standard_normal((n, n // 2 + 1)) + 1j * rng.standard_normal((n, n // 2 + 1))
    noise = scipy.fft.irfft2(cov.noise_transfer * white, s=(n, n))
    noise /= noise.std()
    pointings = otf_pointings(n, cell, coverage, rng)
    weights = np.ones(len(pointings))
    raw = mosaic_response(pointings, weights, n, cell, frequency_hz)
    pb = raw / raw.max()
    x, y, flux = _sources(n, cell, rng)
    apparent = flux * pb[x, y]
    cleaned, leftover = np.zeros((n, n)), np.zeros((n, n))
    bright = apparent >= clean_sigma * noise_jy
    np.add.at(cleaned, (x[bright], y[bright]), flux[bright])
    np.add.at(leftover, (x[~bright], y[~bright]), flux[~bright])
    side = int(round(subimage_fraction * n))
    lo = n // 2 - side // 2
    return SyntheticField(
        n=n, cell_arcsec=cell, frequency_hz=frequency_hz, subimage=(lo, lo + side, lo, lo + side),
        noise_jy=noise_jy,
        beam={"major_arcsec": major * cell, "minor_arcsec": minor * cell, "pa_deg": pa},
        psf=psf, psf_transfer=cov.psf_transfer, noise_transfer=cov.noise_transfer,
        beam_transfer=gaussian_transfer(n, major, minor, pa), pointings=pointings,
        weights=weights, cleaned=cleaned, leftover=leftover, noise=noise, rng=rng,
        uv_samples=cov.samples,
    )  # fmt: skip
