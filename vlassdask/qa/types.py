"""The data QA passes between its layers: the images it looks at and what the detectors return.

Images are 2-D :class:`xarray.DataArray` objects with dims ``("l", "m")`` indexed ``[x, y]`` as in
:mod:`vlassdask.io.image_schema` (one plane of a product: ``ds["SKY"].isel(time=0, frequency=0,
polarization=0)``), numpy- or dask-backed. Pixel locations are ``(x, y)`` indices of that grid.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import xarray as xr


@dataclass(frozen=True)
class QAImages:
    """The planes one QA run looks at.

    Attributes
    ----------
    sky
        The (PB-corrected or flat-noise) image, Jy/beam.
    residual
        Residual image (None when the product has none, e.g. a dirty product: then the
        deconvolution statistics use ``sky``).
    rms
        Noise image, Jy/beam (None if not available).
    pb
        Primary-beam / mosaic response (None if not available).
    cell_arcsec
        Pixel size.
    restoring_beam
        ``{"major_arcsec", "minor_arcsec", "pa_deg"}`` or None.
    subimage
        ``(x0, x1, y0, y1)`` half-open pixel box of the published sub-image within the full image
        (the whole image when the product is already the sub-image).
    frequency_hz
        Reference frequency of the plane.
    name
        Product name or path, for reports.
    psf
        The point-spread function, peak at the image's centre pixel (None if not available):
        the bad-baseline detector then normalises the residual's Fourier power by the uv
        sampling.
    """

    sky: xr.DataArray
    residual: xr.DataArray | None
    rms: xr.DataArray | None
    pb: xr.DataArray | None
    cell_arcsec: float
    restoring_beam: dict[str, float] | None
    subimage: tuple[int, int, int, int]
    frequency_hz: float = 3.0e9
    name: str = ""
    psf: xr.DataArray | None = None


@dataclass(frozen=True)
class Location:
    """One place a detector found something: pixel ``(x, y)``, a radius and a short label."""

    x: float
    y: float
    radius_pixels: float
    label: str = ""


@dataclass(frozen=True)
class DetectorResult:
    """What one detector says about one image.

    Attributes
    ----------
    name
        Detector name: ``"pb_holes"``, ``"high_weights"``, ``"rfi"``, ``"bad_baselines"`` or
        ``"deconvolution"``.
    score
        The detector's statistic (larger = worse), comparable with ``threshold``.
    threshold
        The configured threshold that ``score`` was compared with.
    detected
        True when the artifact is present (``score`` beyond ``threshold``).
    locations
        Where it was found (empty when not detected or not localised).
    details
        JSON-compatible extra numbers for the report.
    """

    name: str
    score: float
    threshold: float
    detected: bool
    locations: tuple[Location, ...] = ()
    details: dict[str, Any] = field(default_factory=dict)
