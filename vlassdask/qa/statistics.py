"""Image statistics of the quality assessment (SPEC.md "Quality assessment").

The VLASS acceptance statistic is peak |residual| / (1.4826 x MAD) in the full image and in the
sub-image (accept below 20 and 6). :func:`image_statistics` measures it together with the image
rms, dynamic range, the median of the mosaic primary beam (normalised to its maximum 1) and the
restoring beam, from the planes of :class:`~vlassdask.qa.types.QAImages`.

Computation: numpy planes are summarised exactly (selection); dask planes lazily with all
reductions of one call computed together in two passes over the chunks (the median and MAD from
a histogram, accurate to ~1e-5 of the MAD; see :mod:`vlassdask.qa.robust`). The residual and sky
use every pixel; the rms image and the PB, smooth on arcminute scales, a regular sample of about
1 M pixels of the sub-image (every 4th pixel of a 3722^2 image along each axis: the median of a
PB or rms image changes by < 1e-3 of itself). Nothing is copied whole except, for numpy planes,
the finite pixels of the plane being summarised.

Peak memory: numpy planes, one copy of the finite pixels of the largest plane; dask planes, one
chunk per worker thread plus ~10 MB.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import dask.array as da
import numpy as np

from vlassdask.errors import InputError
from vlassdask.qa.planes import (
    check_planes,
    covers_whole_image,
    plane_data,
    stride_for,
    subimage_slices,
)
from vlassdask.qa.robust import MAD_TO_RMS, RobustSummary, summarise
from vlassdask.qa.types import QAImages

#: Pixels sampled (regular grid) for the medians of the smooth rms and PB planes.
SMOOTH_PLANE_SAMPLE = 1024 * 1024


@dataclass(frozen=True)
class ImageStatistics:
    """Statistics of one image plane.

    Pixel positions are ``(x, y)`` indices of the full image; fluxes in Jy/beam. ``None`` marks
    what could not be measured for lack of a plane (no PB, rms image or restoring beam).

    Attributes
    ----------
    residual_plane
        ``"residual"``, or ``"sky"`` when the product has no residual (a dirty image).
    peak_residual_full, peak_residual_full_xy
        Largest |residual| in the full image and where it is.
    rms_full, median_residual_full
        Robust rms (1.4826 x MAD) and median of the residual, full image.
    ratio_full
        ``peak_residual_full / rms_full`` (VLASS: accept below 20).
    peak_residual_sub, peak_residual_sub_xy, rms_sub, median_residual_sub, ratio_sub
        The same over the sub-image (VLASS: ``ratio_sub`` below 6; below 10 after retries).
    sky_peak, sky_peak_xy
        Brightest sky pixel in the sub-image.
    sky_rms
        Robust rms of the sky image over the sub-image (sources included).
    dynamic_range
        ``sky_peak / rms_sub``.
    blank_fraction_sub
        Fraction of sub-image pixels without a finite residual (PB-masked or blanked).
    rms_image_median
        Median of the rms image over the sub-image (regular sample of ~1 M pixels).
    pb_max
        Largest value of the PB plane as given (full image).
    pb_median
        Median over the sub-image of PB / ``pb_max`` (VLASS high weights: below 0.8; regular
        sample of ~1 M pixels).
    beam_major_arcsec, beam_minor_arcsec, beam_pa_deg
        Restoring beam.
    beam_minor_pixels
        Pixels across the beam's minor axis FWHM (sampling of the beam).
    n_finite_full, n_finite_sub
        Finite residual pixels.
    method
        ``"exact"`` (numpy planes) or ``"histogram"`` (dask planes; see
        :mod:`vlassdask.qa.robust` for the accuracy).
    """

    residual_plane: str
    peak_residual_full: float
    peak_residual_full_xy: tuple[int, int]
    rms_full: float
    median_residual_full: float
    ratio_full: float
    peak_residual_sub: float
    peak_residual_sub_xy: tuple[int, int]
    rms_sub: float
    median_residual_sub: float
    ratio_sub: float
    sky_peak: float
    sky_peak_xy: tuple[int, int]
    sky_rms: float
    dynamic_range: float
    blank_fraction_sub: float
    rms_image_median: float | None
    pb_max: float | None
    pb_median: float | None
    beam_major_arcsec: float | None
    beam_minor_arcsec: float | None
    beam_pa_deg: float | None
    beam_minor_pixels: float | None
    n_finite_full: int
    n_finite_sub: int
    method: str

    def to_dict(self) -> dict[str, Any]:
        """JSON types: tuples become lists, non-finite numbers ``None``."""
        out: dict[str, Any] = {}
        for key, value in asdict(self).items():
            if isinstance(value, tuple):
                value = [int(v) for v in value]
            elif isinstance(value, float) and not math.isfinite(value):
                value = None
            out[key] = value
        return out


def _ratio(peak: float, rms: float) -> float:
    return peak / rms if rms > 0 else math.inf if peak > 0 else math.nan


def _shifted(xy: tuple[int, int], origin: tuple[int, int]) -> tuple[int, int]:
    return (xy[0] + origin[0], xy[1] + origin[1]) if xy[0] >= 0 else xy


def image_statistics(images: QAImages) -> ImageStatistics:
    """Measure the QA statistics of one image plane.

    Parameters
    ----------
    images
        The planes; the residual (or, without one, the sky) gives the cleaning statistic.

    Returns
    -------
    ImageStatistics

    Raises
    ------
    InputError
        Planes of different shapes, a sub-image box outside the image, or a residual (sky)
        plane without a single finite pixel, or without one in the sub-image.

    Notes
    -----
    numpy planes: exact, about 0.1 s per 3722^2 plane and one copy of its finite pixels. dask
    planes: two passes over the chunks for all planes together (see the module docstring).
    """
    check_planes(images)
    label = images.name or "image"
    which = "residual" if images.residual is not None else "sky"
    residual = plane_data(images.residual if images.residual is not None else images.sky)
    sx, sy = subimage_slices(images)
    origin = (sx.start, sy.start)
    whole = covers_whole_image(images)
    arrays: dict[str, Any] = {"full": residual}
    if not whole:
        arrays["sub"] = residual[sx, sy]
    arrays["sky"] = plane_data(images.sky)[sx, sy]
    # rms and PB planes are smooth: their medians from a regular sample (see the module doc)
    for role in ("rms", "pb"):
        plane = getattr(images, role)
        if plane is not None:
            sub = plane_data(plane)[sx, sy]
            step = stride_for(sub.shape, SMOOTH_PLANE_SAMPLE)
            arrays[role] = sub[::step, ::step]
    summaries = dict(zip(arrays, summarise(list(arrays.values())), strict=True))
    full = summaries["full"]
    sub = summaries.get("sub", full)
    if full.n_finite == 0:
        raise InputError(f"{label}: the {which} image has no finite values (all NaN)")
    if sub.n_finite == 0:
        raise InputError(f"{label}: the {which} image has no finite values in the sub-image "
                         f"{tuple(images.subimage)}")  # fmt: skip
    sub_origin = (0, 0) if whole else origin
    pb_max = _pb_max(images)
    pb_median = None
    if "pb" in summaries and pb_max is not None and pb_max > 0:
        pb_median = summaries["pb"].median / pb_max
    sky: RobustSummary = summaries["sky"]
    beam = images.restoring_beam or {}
    major, minor = beam.get("major_arcsec"), beam.get("minor_arcsec")
    return ImageStatistics(
        residual_plane=which,
        peak_residual_full=full.peak_abs,
        peak_residual_full_xy=full.peak_xy,
        rms_full=full.rms,
        median_residual_full=full.median,
        ratio_full=_ratio(full.peak_abs, full.rms),
        peak_residual_sub=sub.peak_abs,
        peak_residual_sub_xy=_shifted(sub.peak_xy, sub_origin),
        rms_sub=sub.rms,
        median_residual_sub=sub.median,
        ratio_sub=_ratio(sub.peak_abs, sub.rms),
        sky_peak=sky.maximum,
        sky_peak_xy=_shifted(sky.maximum_xy, origin),
        sky_rms=MAD_TO_RMS * sky.mad,
        dynamic_range=_ratio(sky.maximum, sub.rms),
        blank_fraction_sub=1.0 - sub.n_finite / sub.n_total,
        rms_image_median=summaries["rms"].median if "rms" in summaries else None,
        pb_max=pb_max,
        pb_median=pb_median,
        beam_major_arcsec=None if major is None else float(major),
        beam_minor_arcsec=None if minor is None else float(minor),
        beam_pa_deg=None if beam.get("pa_deg") is None else float(beam["pa_deg"]),
        beam_minor_pixels=None if minor is None else float(minor) / images.cell_arcsec,
        n_finite_full=full.n_finite,
        n_finite_sub=sub.n_finite,
        method=full.method,
    )  # fmt: skip


def _pb_max(images: QAImages) -> float | None:
    if images.pb is None:
        return None
    pb = plane_data(images.pb)
    value = da.nanmax(pb).compute() if isinstance(pb, da.Array) else np.nanmax(pb)
    return float(value) if np.isfinite(value) else None
