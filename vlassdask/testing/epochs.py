"""Seeded multi-epoch images of one sky for combined-epoch tests and benchmarks.

Each epoch sees the same point sources (one of them variable) through its own elliptical Gaussian
beam, plus Gaussian noise correlated like that beam (white noise smoothed by the beam's
square-root Gaussian, so its autocorrelation is the beam: the model behind
:func:`vlassdask.combine.beam.noise_scale`) scaled by the epoch's rms map, which rises towards the
edges as a mosaic's does. Optionally the epochs' phase centres (CRVAL) are shifted, as the w-term
position correction does, and pixels outside a radius are blanked (NaN) like a primary-beam mask.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.fft
import xarray as xr

from vlassdask.io.image_schema import celestial_wcs, make_image_dataset

ARCSEC = math.pi / (180.0 * 3600.0)
FWHM_PER_SIGMA = math.sqrt(8.0 * math.log(2.0))
#: (major arcsec, minor arcsec, PA deg) of three VLASS-like Quick Look epochs (1" cells).
DEFAULT_BEAMS = ((3.2, 2.6, 20.0), (3.6, 2.7, -35.0), (3.0, 2.9, 75.0))
DEFAULT_NOISE_JY = (1.2e-4, 1.5e-4, 1.0e-4)


@dataclass
class SimulatedEpochs:
    """Epoch images and the truth they were made from.

    Attributes
    ----------
    images
        One ``"image"`` product per epoch (SKY and RMS, Jy/beam), numpy- or dask-backed.
    ra_deg, dec_deg
        Source positions, shape ``(n_sources,)``.
    flux_jy
        Flux density of every source in every epoch, shape ``(n_sources, n_epochs)``; the
        variable source is row ``variable_index``.
    pixels
        ``(n_sources, 2)`` integer pixel ``(x, y)`` of each source on the first epoch's grid
        (nearest pixel when the sources came from another simulation).
    variable_index
        Row of the variable source.
    """

    images: list[xr.Dataset]
    ra_deg: np.ndarray
    dec_deg: np.ndarray
    flux_jy: np.ndarray
    pixels: np.ndarray
    variable_index: int


def _pixel_inverse_covariance(beam: Sequence[float], cell_arcsec: float) -> np.ndarray:
    major, minor, pa = beam
    theta = math.radians(pa)
    axis_major = np.array([-math.sin(theta), math.cos(theta)])  # (x west, y north)
    axis_minor = np.array([math.cos(theta), math.sin(theta)])
    s_maj = major / cell_arcsec / FWHM_PER_SIGMA
    s_min = minor / cell_arcsec / FWHM_PER_SIGMA
    cov = s_maj**2 * np.outer(axis_major, axis_major) + s_min**2 * np.outer(axis_minor, axis_minor)
    return np.linalg.inv(cov)


def _add_sources(image: np.ndarray, xy: np.ndarray, flux: np.ndarray, beam: Sequence[float],
                 cell_arcsec: float) -> None:  # fmt: skip
    """Add ``flux * exp(-d^T C^-1 d / 2)`` around each position (within 7 major-axis sigmas)."""
    inverse = _pixel_inverse_covariance(beam, cell_arcsec)
    reach = math.ceil(7.0 * beam[0] / cell_arcsec / FWHM_PER_SIGMA)
    nx, ny = image.shape
    for (x, y), s in zip(xy, flux, strict=True):
        x0, x1 = max(0, math.floor(x) - reach), min(nx, math.floor(x) + reach + 1)
        y0, y1 = max(0, math.floor(y) - reach), min(ny, math.floor(y) + reach + 1)
        if x1 <= x0 or y1 <= y0:
            continue
        dx = np.arange(x0, x1)[:, None] - x
        dy = np.arange(y0, y1)[None, :] - y
        q = inverse[0, 0] * dx**2 + 2.0 * inverse[0, 1] * dx * dy + inverse[1, 1] * dy**2
        image[x0:x1, y0:y1] += s * np.exp(-0.5 * q)


def beam_correlated_noise(shape: tuple[int, int], beam: Sequence[float], cell_arcsec: float,
                          rng: np.random.Generator) -> np.ndarray:  # fmt: skip
    """Unit-variance Gaussian noise whose autocorrelation is the beam (float64, ``[x, y]``)."""
    half = np.linalg.inv(_pixel_inverse_covariance(beam, cell_arcsec)) / 2.0
    fx = np.fft.fftfreq(shape[0])[:, None]
    fy = np.fft.rfftfreq(shape[1])[None, :]
    transfer = np.exp(-2.0 * math.pi**2 * (half[0, 0] * fx**2 + 2.0 * half[0, 1] * fx * fy
                                           + half[1, 1] * fy**2))  # fmt: skip
    noise = scipy.fft.irfft2(scipy.fft.rfft2(rng.standard_normal(shape)) * transfer, s=shape)
    # Exact variance of filtered unit white noise (Parseval over the full DFT grid).
    weights = np.full(transfer.shape[1], 2.0)
    weights[0] = 1.0
    if shape[1] % 2 == 0:
        weights[-1] = 1.0
    variance = float((transfer**2 * weights).sum()) / (shape[0] * shape[1])
    return noise / math.sqrt(variance)


def simulate_epochs(
    *,
    n_pixels: int = 256,
    cell_arcsec: float = 1.0,
    phase_center_deg: tuple[float, float] = (150.0, 30.0),
    beams: Sequence[Sequence[float]] = DEFAULT_BEAMS,
    noise_jy: Sequence[float] = DEFAULT_NOISE_JY,
    n_sources: int = 12,
    flux_range_jy: tuple[float, float] = (5e-3, 5e-2),
    variable_flux_jy: Sequence[float] | None = (0.010, 0.025, 0.016),
    sky: SimulatedEpochs | None = None,
    rms_edge_rise: float = 0.5,
    crval_shifts_arcsec: Sequence[tuple[float, float]] | None = None,
    blank_radius_pixels: float | None = None,
    with_noise: bool = True,
    seed: int = 0,
    dtype: type = np.float32,
    chunks: int | None = None,
) -> SimulatedEpochs:
    """Make seeded epochs of one sky with different beams, noise levels and (optionally) grids.

    Parameters
    ----------
    n_pixels, cell_arcsec, phase_center_deg
        Square image size, pixel size and the first epoch's phase centre (CRVAL).
    beams, noise_jy
        Per epoch: ``(major arcsec, minor arcsec, PA deg)`` and the rms at the image centre
        (Jy/beam); the number of epochs is ``len(beams)``.
    n_sources, flux_range_jy
        Constant sources at distinct whole pixels of the first grid (at least 16 pixels from the
        edges), fluxes log-uniform in the range.
    variable_flux_jy
        Per-epoch flux of one extra source (at the image centre); None for none.
    sky
        Use the sources (positions and per-epoch fluxes) of an earlier simulation instead of new
        ones, e.g. to image the same sky on another grid; ``n_sources``, ``flux_range_jy`` and
        ``variable_flux_jy`` are then ignored.
    rms_edge_rise
        The rms map is ``noise * (1 + rms_edge_rise * (r / r_corner)^2)``.
    crval_shifts_arcsec
        Per epoch ``(east, north)`` offset of its phase centre (CRVAL), arcsec.
    blank_radius_pixels
        If given, pixels farther than this from the image centre are NaN (in SKY and RMS).
    with_noise
        False: noiseless images (the rms maps are unchanged).
    seed, dtype
        Random seed; floating dtype of the images.
    chunks
        Chunk size of dask-backed images; None: numpy-backed.

    Returns
    -------
    SimulatedEpochs
    """
    n_epochs = len(beams)
    if len(noise_jy) != n_epochs or (sky is None and variable_flux_jy is not None
                                     and len(variable_flux_jy) != n_epochs):  # fmt: skip
        raise ValueError("beams, noise_jy and variable_flux_jy need one entry per epoch")
    shifts = list(crval_shifts_arcsec or [(0.0, 0.0)] * n_epochs)
    rng = np.random.default_rng(seed)
    margin = 16
    cells = rng.choice((n_pixels - 2 * margin) ** 2, size=n_sources, replace=False)
    pixels = np.stack([margin + cells // (n_pixels - 2 * margin),
                       margin + cells % (n_pixels - 2 * margin)], axis=1)  # fmt: skip
    lo, hi = np.log(flux_range_jy[0]), np.log(flux_range_jy[1])
    flux = np.repeat(np.exp(rng.uniform(lo, hi, n_sources))[:, None], n_epochs, axis=1)
    variable_index = -1
    if variable_flux_jy is not None:
        pixels = np.vstack([pixels, [[n_pixels // 2, n_pixels // 2]]])
        flux = np.vstack([flux, np.asarray(variable_flux_jy, dtype=float)[None, :]])
        variable_index = len(pixels) - 1
    if sky is not None:
        flux, variable_index = sky.flux_jy, sky.variable_index

    def grid(shift: tuple[float, float], data: dict, mjd: float = 58000.0) -> xr.Dataset:
        dec = phase_center_deg[1] + shift[1] / 3600.0
        ra = phase_center_deg[0] + shift[0] / 3600.0 / math.cos(math.radians(dec))
        return make_image_dataset(data, cell_rad=cell_arcsec * ARCSEC,
                                  phase_center_rad=(math.radians(ra), math.radians(dec)),
                                  frequency_hz=[3.0e9], time_mjd=[mjd],
                                  product_kind="image")  # fmt: skip

    blank = np.zeros((n_pixels, n_pixels))
    first = celestial_wcs(grid((0.0, 0.0), {"SKY": blank}))
    if sky is None:
        ra_deg, dec_deg = first.pixel_to_world_values(pixels[:, 0], pixels[:, 1])
    else:
        ra_deg, dec_deg = sky.ra_deg, sky.dec_deg
        pixels = np.rint(np.stack(first.world_to_pixel_values(ra_deg, dec_deg), axis=1))
        pixels = pixels.astype(int)
    r = np.hypot(*np.meshgrid(np.arange(n_pixels) - n_pixels // 2,
                              np.arange(n_pixels) - n_pixels // 2, indexing="ij"))  # fmt: skip
    profile = 1.0 + rms_edge_rise * (r / r.max()) ** 2
    images = []
    for i, (beam, sigma, shift) in enumerate(zip(beams, noise_jy, shifts, strict=True)):
        wcs = celestial_wcs(grid(shift, {"SKY": blank}))
        xy = np.stack(wcs.world_to_pixel_values(ra_deg, dec_deg), axis=1)
        sky = np.zeros((n_pixels, n_pixels))
        _add_sources(sky, xy, flux[:, i], beam, cell_arcsec)
        rms = sigma * profile
        if with_noise:
            sky += rms * beam_correlated_noise(sky.shape, beam, cell_arcsec, rng)
        if blank_radius_pixels is not None:
            sky[r > blank_radius_pixels] = np.nan
            rms = np.where(r > blank_radius_pixels, np.nan, rms)
        ds = grid(shift, {"SKY": sky.astype(dtype), "RMS": rms.astype(dtype)}, 58000.0 + 600.0 * i)
        ds.attrs["restoring_beam"] = {"major_arcsec": float(beam[0]),
                                      "minor_arcsec": float(beam[1]), "pa_deg": float(beam[2])}
        ds.attrs["history"] = [f"vlassdask.testing.epochs.simulate_epochs epoch {i} (seed {seed})"]
        images.append(ds.chunk({"l": chunks, "m": chunks}) if chunks else ds)
    return SimulatedEpochs(images, np.asarray(ra_deg), np.asarray(dec_deg), flux, pixels,
                           variable_index)  # fmt: skip
