"""Tiny seeded image products for tests: point sources convolved with a Gaussian beam plus noise."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import xarray as xr

from vlassdask.io.image_schema import make_image_dataset
from vlassdask.kernels.constants import FWHM_PER_SIGMA

ARCSEC = np.pi / (180.0 * 3600.0)


def gaussian_beam(
    nx: int, ny: int, *, fwhm_pixels: float, center: tuple[float, float] | None = None
) -> np.ndarray:
    """Circular Gaussian of peak 1, shape ``(nx, ny)`` indexed ``[x, y]``, centred on ``center``.

    ``center`` defaults to the reference pixel ``(nx // 2, ny // 2)``.
    """
    cx, cy = center if center is not None else (nx // 2, ny // 2)
    sigma = fwhm_pixels / FWHM_PER_SIGMA
    x = np.arange(nx)[:, None] - cx
    y = np.arange(ny)[None, :] - cy
    return np.exp(-(x**2 + y**2) / (2.0 * sigma**2))


def make_test_image(
    *,
    nx: int = 64,
    ny: int = 64,
    cell_arcsec: float = 1.0,
    phase_center_deg: tuple[float, float] = (150.0, 30.0),
    frequency_hz: Sequence[float] = (3.0e9,),
    polarization: Sequence[str] = ("I",),
    n_sources: int = 3,
    beam_fwhm_arcsec: float = 3.0,
    noise_jy: float = 1.0e-4,
    seed: int = 0,
    dtype: type = np.float32,
    chunks: dict[str, int] | None = None,
) -> xr.Dataset:
    """A seeded ``"dirty"`` product: point sources of 1-10 mJy convolved with a Gaussian beam.

    Parameters
    ----------
    nx, ny
        Image size in pixels (even).
    cell_arcsec, phase_center_deg, frequency_hz, polarization
        Grid and plane coordinates (the same sources appear in every plane).
    n_sources, beam_fwhm_arcsec, noise_jy, seed
        Sky model: sources at random pixels at least ``min(8, nx // 4, ny // 4)`` pixels from
        the edge, beam FWHM, and the standard deviation of the added Gaussian noise.
    dtype
        Floating dtype of the images.
    chunks
        If given, the Dataset is dask-backed with these chunks (``ds.chunk(chunks)``).

    Returns
    -------
    xarray.Dataset
        Variables SKY (Jy/beam), POINT_SPREAD_FUNCTION, SUM_OF_WEIGHTS and unit
        GRID_CORRECTION_L/M; dims ``(time=1, frequency, polarization, l=nx, m=ny)``.
    """
    rng = np.random.default_rng(seed)
    fwhm_pixels = beam_fwhm_arcsec / cell_arcsec
    plane_shape = (1, len(frequency_hz), len(polarization))
    sky = np.zeros((nx, ny))
    margin = min(8, nx // 4, ny // 4)
    for _ in range(n_sources):
        center = (rng.integers(margin, nx - margin), rng.integers(margin, ny - margin))
        sky += rng.uniform(1e-3, 1e-2) * gaussian_beam(nx, ny, fwhm_pixels=fwhm_pixels,
                                                       center=center)  # fmt: skip
    noise = rng.normal(0.0, noise_jy, size=(*plane_shape, nx, ny))
    psf = gaussian_beam(nx, ny, fwhm_pixels=fwhm_pixels)
    ds = make_image_dataset(
        {
            "SKY": (sky + noise).astype(dtype),
            "POINT_SPREAD_FUNCTION": np.broadcast_to(psf, (*plane_shape, nx, ny)).astype(dtype),
            "SUM_OF_WEIGHTS": np.full(plane_shape, 1.0e4),
            "GRID_CORRECTION_L": np.ones(nx),
            "GRID_CORRECTION_M": np.ones(ny),
        },
        cell_rad=cell_arcsec * ARCSEC,
        phase_center_rad=(np.radians(phase_center_deg[0]), np.radians(phase_center_deg[1])),
        frequency_hz=frequency_hz,
        polarization=polarization,
        time_mjd=(60000.5,),
        product_kind="dirty",
        attrs={
            "restoring_beam": {"major_arcsec": beam_fwhm_arcsec, "minor_arcsec": beam_fwhm_arcsec,
                               "pa_deg": 0.0},
            "history": ["made by vlassdask.testing.images.make_test_image"],
        },
    )  # fmt: skip
    return ds.chunk(chunks) if chunks else ds
