"""PNG previews of image products: RA/Dec axes (RA increasing to the left), stretch, colorbar.

Large images are block-averaged before plotting (lazily, chunk by chunk, for dask-backed data),
so at most about ``max_pixels`` (default ``4096**2``) pixels are ever loaded; the WCS is decimated
with them (:meth:`astropy.wcs.WCS.slice` with a step maps each block to its centre).
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import xarray as xr
from astropy.visualization import (
    AsinhStretch,
    ImageNormalize,
    LinearStretch,
    ManualInterval,
    PercentileInterval,
)
from astropy.wcs import WCS
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Ellipse

from vlassdask.errors import InputError
from vlassdask.io.atomic import atomic_output
from vlassdask.io.image_schema import IMAGE_DIMS, celestial_wcs

STRETCHES = {"asinh": lambda: AsinhStretch(0.1), "linear": LinearStretch}
MAX_PREVIEW_PIXELS = 4096 * 4096


def decimation_factor(nx: int, ny: int, max_pixels: int = MAX_PREVIEW_PIXELS) -> int:
    """Smallest block size ``f`` such that ``(nx // f) * (ny // f) <= max_pixels``."""
    factor = max(1, math.ceil(math.sqrt(nx * ny / max_pixels)))
    while (nx // factor) * (ny // factor) > max_pixels:
        factor += 1
    return factor


def decimated_plane(
    image: xr.DataArray,
    wcs: WCS,
    frequency_index: int = 0,
    polarization_index: int = 0,
    max_pixels: int = MAX_PREVIEW_PIXELS,
) -> tuple[np.ndarray, WCS, int]:
    """One plane of an image, block-averaged to at most ``max_pixels``, with its celestial WCS.

    Parameters
    ----------
    image
        Image variable, dims ``(time, frequency, polarization, l, m)``; time index 0 is used.
    wcs
        Celestial WCS of the full plane (pixel axis 0 = x = ``l`` index).
    frequency_index, polarization_index, max_pixels
        Plane to take and the pixel budget (see :func:`decimation_factor`).

    Returns
    -------
    data : numpy.ndarray
        float64, shape ``(ny // f, nx // f)``, indexed ``[y, x]`` for ``imshow(origin="lower")``.
    wcs : astropy.wcs.WCS
        WCS of the decimated grid (block ``q`` is centred on original pixel ``q f + (f - 1)/2``).
    f : int
        The block size.
    """
    try:
        plane = image.isel(time=0, frequency=frequency_index, polarization=polarization_index)
    except IndexError as exc:
        raise InputError(f"plane index out of range: {exc}") from None
    factor = decimation_factor(image.sizes["l"], image.sizes["m"], max_pixels)
    if factor > 1:
        plane = plane.coarsen(l=factor, m=factor, boundary="trim").mean()
        wcs = wcs.slice((slice(None, None, factor), slice(None, None, factor)))
    return np.asarray(plane.transpose("m", "l").values, dtype=np.float64), wcs, factor


def noise_limits(values: np.ndarray) -> tuple[float, float, float]:
    """Colour limits of a radio image from its noise: ``(vmin, vmax, knee)``.

    ``vmin`` is -3 sigma (sigma: 1.4826 x MAD of the finite ``values``), ``vmax`` the peak (at
    least 10 sigma above ``vmin``) and ``knee`` the asinh parameter that puts the change from
    linear to logarithmic at 5 sigma (above vmin: 8 sigma), as a fraction of the range.
    """
    values = np.asarray(values, dtype=np.float64)
    median = float(np.median(values))
    sigma = 1.4826 * float(np.median(np.abs(values - median)))
    if not sigma > 0:
        sigma = float(np.std(values)) or 1.0
    vmin = median - 3.0 * sigma
    vmax = max(float(values.max()), vmin + 10.0 * sigma)
    return vmin, vmax, min(1.0, 8.0 * sigma / (vmax - vmin))


def write_preview_png(
    ds: xr.Dataset,
    out: str | os.PathLike,
    *,
    variable: str = "SKY",
    frequency_index: int = 0,
    polarization_index: int = 0,
    stretch: str = "asinh",
    percentile: float | None = None,
    max_pixels: int = MAX_PREVIEW_PIXELS,
    overwrite: bool = False,
    dpi: int = 100,
) -> Path:
    """Render one plane of an image variable as a PNG with RA/Dec axes.

    Parameters
    ----------
    ds
        Image Dataset (numpy- or dask-backed).
    out
        PNG path, written atomically.
    variable
        Image variable (dims ``(time, frequency, polarization, l, m)``).
    frequency_index, polarization_index
        Plane to show (time index 0).
    stretch
        ``"asinh"`` or ``"linear"``.
    percentile
        Central percentile of the finite pixels mapped onto the colour scale; default (None)
        the noise-based scale of :func:`noise_limits`: -3 sigma to the peak, the asinh stretch
        turning from linear to logarithmic at about 5 sigma, so noise and faint sources show
        and bright ones do not saturate.
    max_pixels
        Block-average by an integer factor until the plane has at most this many pixels.
    overwrite
        Replace an existing file.
    dpi
        Resolution of the figure (8 x 7 inches).

    Returns
    -------
    pathlib.Path
        The PNG path.

    Raises
    ------
    InputError
        Unknown variable or stretch, a plane index out of range, or a plane with no finite value.
    """
    if variable not in ds.data_vars or ds[variable].dims != IMAGE_DIMS:
        images = sorted(str(n) for n, v in ds.data_vars.items() if v.dims == IMAGE_DIMS)
        raise InputError(f"no image variable {variable!r} (images: {images})")
    if stretch not in STRETCHES:
        raise InputError(f"unknown stretch {stretch!r}; choose from {list(STRETCHES)}")
    data, wcs, factor = decimated_plane(
        ds[variable], celestial_wcs(ds), frequency_index, polarization_index, max_pixels
    )
    finite = data[np.isfinite(data)]
    if finite.size == 0:
        raise InputError(f"{variable} plane has no finite values to show")
    rms = 1.4826 * float(np.median(np.abs(finite - np.median(finite))))
    if percentile is None:
        vmin, vmax, knee = noise_limits(finite)
        norm = ImageNormalize(finite, interval=ManualInterval(vmin, vmax),
                              stretch=AsinhStretch(knee) if stretch == "asinh" else
                              LinearStretch())
    else:
        norm = ImageNormalize(finite, interval=PercentileInterval(percentile),
                              stretch=STRETCHES[stretch]())  # fmt: skip
    fig = Figure(figsize=(8, 7), dpi=dpi)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(projection=wcs)
    shown = ax.imshow(data, origin="lower", cmap="inferno", norm=norm, interpolation="nearest")
    ax.coords[0].set_axislabel("Right ascension (FK5)")
    ax.coords[1].set_axislabel("Declination (FK5)")
    units = ds[variable].attrs.get("units") or "dimensionless"
    fig.colorbar(shown, ax=ax, label=f"{variable} [{units}]", shrink=0.85)
    freq_ghz = float(ds["frequency"].values[frequency_index]) / 1e9
    pol = str(ds["polarization"].values[polarization_index])
    title = f"{variable} ({ds.attrs.get('product_kind', 'image')}), {freq_ghz:.3f} GHz, {pol}"
    if factor > 1:
        title += f", {factor}x{factor} block mean"
    title += f"\nrms {rms:.3g}, peak {float(finite.max()):.4g} {units}"
    ax.set_title(title)
    beam = ds.attrs.get("restoring_beam")
    if beam and ds.attrs.get("cell_arcsec"):
        pixels = float(ds.attrs["cell_arcsec"]) * factor
        major, minor = beam["major_arcsec"] / pixels, beam["minor_arcsec"] / pixels
        margin = max(major, 4.0)
        # PA east of north; east is to the left, so the major axis is 90 + PA from +x
        ax.add_patch(Ellipse((margin, margin), width=major, height=minor,
                             angle=90.0 + beam["pa_deg"], facecolor="none", edgecolor="cyan",
                             linewidth=1.2))
    with atomic_output(out, overwrite=overwrite, directory=False) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi)
    return Path(out)
