"""Seeded noise images with injected point and Gaussian sources, and their true catalogs.

The noise is white noise smoothed to the restoring beam's correlation (as in a real image) and
scaled to ``noise_jy``; every source is an elliptical Gaussian of the beam convolved with its
intrinsic shape (a point source when the intrinsic size is 0), scaled to its integrated flux
density. Sources are kept ``min_separation_beams`` beam majors apart so that every one is its
own island.

Example::

    from vlassdask.testing.sources import make_source_image
    ds, truth = make_source_image(nx=512, ny=512, n_sources=40, seed=3)
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
from astropy.wcs import WCS
from scipy import ndimage

from vlassdask.catalog.names import component_names
from vlassdask.io.image_schema import celestial_wcs, make_image_dataset
from vlassdask.kernels.constants import FWHM_PER_SIGMA
from vlassdask.testing.fits import write_vlass_fits

ARCSEC_RAD = np.pi / (180.0 * 3600.0)


def _covariance(fwhm_major: float, fwhm_minor: float, pa_rad: float) -> np.ndarray:
    """Pixel-frame covariance (x, y) of a Gaussian with PA east of north (+y towards -x)."""
    major = np.array([-np.sin(pa_rad), np.cos(pa_rad)])
    minor = np.array([np.cos(pa_rad), np.sin(pa_rad)])
    return ((fwhm_major / FWHM_PER_SIGMA) ** 2 * np.outer(major, major)
            + (fwhm_minor / FWHM_PER_SIGMA) ** 2 * np.outer(minor, minor))  # fmt: skip


def add_gaussian(image: np.ndarray, x: float, y: float, flux: float, beam_pix: Sequence[float],
                 shape_pix: Sequence[float] = (0.0, 0.0, 0.0)) -> None:
    """Add (in place) a source of integrated ``flux`` (image units x beam) at pixel (x, y).

    ``beam_pix`` and ``shape_pix`` are ``(fwhm_major, fwhm_minor, pa_rad)`` in pixels: the
    beam and the source's intrinsic shape (zeros: a point source).
    """
    cov = _covariance(*beam_pix) + (_covariance(*shape_pix) if shape_pix[0] > 0 else 0.0)
    beam_area = 2.0 * np.pi * np.sqrt(np.linalg.det(_covariance(*beam_pix)))
    area = 2.0 * np.pi * np.sqrt(np.linalg.det(cov))
    peak = flux * beam_area / area
    half = int(np.ceil(7.0 * np.sqrt(np.max(np.linalg.eigvalsh(cov)))))
    x0, x1 = max(int(x) - half, 0), min(int(x) + half + 1, image.shape[0])
    y0, y1 = max(int(y) - half, 0), min(int(y) + half + 1, image.shape[1])
    dx = np.arange(x0, x1)[:, None] - x
    dy = np.arange(y0, y1)[None, :] - y
    inv = np.linalg.inv(cov)
    q = inv[0, 0] * dx**2 + 2 * inv[0, 1] * dx * dy + inv[1, 1] * dy**2
    image[x0:x1, y0:y1] += peak * np.exp(-0.5 * q)


def correlated_noise(nx: int, ny: int, sigma: float, beam_pix: Sequence[float],
                     rng: np.random.Generator) -> np.ndarray:  # fmt: skip
    """Gaussian noise of standard deviation ``sigma`` correlated over the beam (white noise
    smoothed by a Gaussian of the beam's sigma over sqrt(2), so that its autocorrelation has
    the beam's width)."""
    white = rng.standard_normal((nx, ny))
    width = np.sqrt(beam_pix[0] * beam_pix[1]) / FWHM_PER_SIGMA / np.sqrt(2.0)
    smooth = ndimage.gaussian_filter(white, width, mode="wrap")
    return sigma * smooth / smooth.std()


def source_positions(n: int, nx: int, ny: int, *, margin: float, separation: float,
                     rng: np.random.Generator) -> np.ndarray:  # fmt: skip
    """Up to ``n`` random pixel positions at least ``separation`` apart and ``margin`` from the
    edges, shape (m, 2)."""
    chosen: list[np.ndarray] = []
    for _ in range(50 * n):
        if len(chosen) == n:
            break
        p = rng.uniform([margin, margin], [nx - margin, ny - margin])
        if not chosen or np.min(np.hypot(*(np.array(chosen) - p).T)) >= separation:
            chosen.append(p)
    return np.array(chosen).reshape(-1, 2)


def make_source_image(*, nx: int = 512, ny: int = 512, cell_arcsec: float = 1.0,
                      beam_arcsec: tuple[float, float, float] = (3.0, 2.5, 30.0),
                      phase_center_deg: tuple[float, float] = (150.0, 30.0),
                      noise_jy: float = 1.2e-4, n_sources: int = 50,
                      snr_range: tuple[float, float] = (3.0, 500.0),
                      extended_fraction: float = 0.3, max_size_arcsec: float = 6.0,
                      min_separation_beams: float = 12.0, seed: int = 0,
                      sky_sources: pd.DataFrame | None = None,
                      dtype: type = np.float32) -> tuple[xr.Dataset, pd.DataFrame]:  # fmt: skip
    """A seeded ``"image"`` product with injected sources, and the true catalog.

    Parameters
    ----------
    nx, ny, cell_arcsec, phase_center_deg
        Pixel grid.
    beam_arcsec
        Restoring beam ``(major, minor, pa_deg)``.
    noise_jy
        Noise rms (Jy/beam).
    n_sources
        Sources to inject (fewer if they do not fit at the separation).
    snr_range
        Peak signal-to-noise range of point sources (log-uniform); extended sources get the
        same integrated flux densities.
    extended_fraction, max_size_arcsec
        Fraction of sources with an intrinsic Gaussian shape, FWHM major axis uniform in
        ``[1, max_size_arcsec]`` arcsec, axis ratio in [0.4, 1], any PA.
    min_separation_beams, seed, dtype
        Source separation in beam majors, random seed, pixel dtype.
    sky_sources
        Sources to inject instead of random ones: ``ra``, ``dec`` (deg), ``flux_mjy`` and
        optionally ``major_arcsec``, ``minor_arcsec``, ``pa_deg`` (intrinsic shape); those
        outside the image are left out of it and of the truth table.

    Returns
    -------
    ds : xarray.Dataset
        Kind ``"image"``, variable ``SKY`` (Jy/beam), ``attrs["restoring_beam"]`` set.
    truth : pandas.DataFrame
        ``x``, ``y`` (pixels), ``ra``, ``dec`` (deg), ``flux_mjy`` (integrated), ``peak_mjy``,
        ``snr`` (peak / noise), ``major_arcsec``, ``minor_arcsec``, ``pa_deg`` (intrinsic).
    """
    rng = np.random.default_rng(seed)
    beam_pix = (beam_arcsec[0] / cell_arcsec, beam_arcsec[1] / cell_arcsec,
                np.radians(beam_arcsec[2]))  # fmt: skip
    image = correlated_noise(nx, ny, noise_jy, beam_pix, rng)
    ds = make_image_dataset(
        {"SKY": image.astype(dtype)}, cell_rad=cell_arcsec * ARCSEC_RAD,
        phase_center_rad=tuple(np.radians(phase_center_deg)), frequency_hz=[3.0e9],
        time_mjd=[60000.5], product_kind="image",
        attrs={"restoring_beam": {"major_arcsec": beam_arcsec[0],
                                  "minor_arcsec": beam_arcsec[1], "pa_deg": beam_arcsec[2]},
               "history": ["made by vlassdask.testing.sources.make_source_image"]},
    )  # fmt: skip
    wcs: WCS = celestial_wcs(ds)
    if sky_sources is None:
        positions = source_positions(n_sources, nx, ny, margin=3 * beam_pix[0] + 8,
                                     separation=min_separation_beams * beam_pix[0], rng=rng)
        m = len(positions)
        flux = np.exp(rng.uniform(*np.log(snr_range), size=m)) * noise_jy
        extended = rng.uniform(size=m) < extended_fraction
        major = np.where(extended, rng.uniform(1.0, max_size_arcsec, size=m), 0.0)
        minor = major * rng.uniform(0.4, 1.0, size=m)
        pa = rng.uniform(0.0, 180.0, size=m)
    else:
        px, py = wcs.wcs_world2pix(sky_sources["ra"].to_numpy(), sky_sources["dec"].to_numpy(), 0)
        inside = (px >= 0) & (px <= nx - 1) & (py >= 0) & (py <= ny - 1)
        chosen = sky_sources[inside]
        positions = np.column_stack([px[inside], py[inside]])
        flux = chosen["flux_mjy"].to_numpy(dtype=float) * 1e-3
        major, minor, pa = (chosen.get(c, pd.Series(0.0, index=chosen.index)).to_numpy(float)
                            for c in ("major_arcsec", "minor_arcsec", "pa_deg"))
        m = len(positions)
    peaks = []
    for (x, y), f, a, b, p in zip(positions, flux, major, minor, pa, strict=True):
        shape = (a / cell_arcsec, b / cell_arcsec, np.radians(p))
        add_gaussian(image, x, y, f, beam_pix, shape)
        peaks.append(f if a == 0 else _peak(f, beam_pix, shape))
    ds["SKY"].data[0, 0, 0] = image.astype(dtype)
    ra, dec = wcs.wcs_pix2world(positions[:, 0], positions[:, 1], 0) if m else ([], [])
    truth = pd.DataFrame({"x": positions[:, 0], "y": positions[:, 1], "ra": np.mod(ra, 360),
                          "dec": dec, "flux_mjy": flux * 1e3,
                          "peak_mjy": np.array(peaks) * 1e3, "snr": np.array(peaks) / noise_jy,
                          "major_arcsec": major, "minor_arcsec": minor, "pa_deg": pa})
    return ds, truth


def _peak(flux: float, beam_pix: Sequence[float], shape_pix: Sequence[float]) -> float:
    beam = np.sqrt(np.linalg.det(_covariance(*beam_pix)))
    both = np.sqrt(np.linalg.det(_covariance(*beam_pix) + _covariance(*shape_pix)))
    return flux * beam / both


def write_source_fits(path: str | os.PathLike, **kwargs: Any) -> pd.DataFrame:
    """Write a :func:`make_source_image` image as a VLASS-style FITS file (with its beam);
    return the true catalog. ``kwargs`` go to :func:`make_source_image`."""
    ds, truth = make_source_image(**kwargs)
    beam = ds.attrs["restoring_beam"]
    center = ds.attrs["phase_center_deg"]
    write_vlass_fits(path, ds["SKY"].values[0, 0, 0], cell_arcsec=float(ds.attrs["cell_arcsec"]),
                     center_deg=(float(center[0]), float(center[1])),
                     beam_arcsec=(beam["major_arcsec"], beam["minor_arcsec"], beam["pa_deg"]))
    return truth


#: VLASS product name of the images :func:`write_overlapping_images` writes (``{}``: the phase
#: centre name), so that ``vlassdask catalog --batch`` picks them up.
VLASS_IMAGE_NAME = "VLASS2.1.ql.T10t20.{}.10.2048.v1.I.iter1.image.pbcor.tt0.subim.fits"


def write_overlapping_images(directory: str | os.PathLike, *, n_images: int = 2, nx: int = 384,
                             step_arcsec: float = 250.0, n_sources: int = 30,
                             center_deg: tuple[float, float] = (150.0, 30.0),
                             beam_arcsec: tuple[float, float, float] = (3.0, 2.5, 30.0),
                             seed: int = 0) -> tuple[list[Path], pd.DataFrame]:  # fmt: skip
    """VLASS-named FITS images (1" pixels) of one seeded sky, ``step_arcsec`` apart in RA, so
    that neighbours overlap by ``nx - step_arcsec`` arcsec and share the sources there.

    Returns
    -------
    paths : list of pathlib.Path
        The images, west to east.
    sky : pandas.DataFrame
        The injected sources (``ra``, ``dec``, ``flux_mjy``), 2-20 mJy (S/N 17-170).
    """
    rng = np.random.default_rng(seed)
    cos = np.cos(np.radians(center_deg[1]))
    half_width = 0.5 * ((n_images - 1) * step_arcsec + nx) - 20.0
    sky = pd.DataFrame({"ra": center_deg[0] + rng.uniform(-half_width, half_width, n_sources)
                        / 3600 / cos,
                        "dec": center_deg[1] + rng.uniform(-0.5, 0.5, n_sources) * (nx - 40)
                        / 3600,
                        "flux_mjy": rng.uniform(2.0, 20.0, n_sources)})  # fmt: skip
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for k in range(n_images):
        east = (k - 0.5 * (n_images - 1)) * step_arcsec
        ra = center_deg[0] + east / 3600 / cos
        full = component_names([ra], [center_deg[1]], prefix="")[0].strip()
        path = out / VLASS_IMAGE_NAME.format(full[:7] + full[10:17])  # Jhhmmss+ddmmss
        write_source_fits(path, nx=nx, ny=nx, phase_center_deg=(ra, center_deg[1]),
                          beam_arcsec=beam_arcsec, sky_sources=sky, seed=seed + 1 + k)
        paths.append(path)
    return paths, sky
