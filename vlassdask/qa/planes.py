"""Access to the planes of :class:`~vlassdask.qa.types.QAImages` shared by statistics and detectors.

A plane is a 2-D :class:`xarray.DataArray` ``(l, m)`` indexed ``[x, y]``, numpy- or dask-backed.
These helpers hand out its array (lazy stays lazy), regular samples and small cut-outs, so that
detectors read only what they need: a sample of a smooth plane (PB, rms) or a box around a
feature.
"""

from __future__ import annotations

import math

import dask.array as da
import numpy as np
import xarray as xr

from vlassdask.errors import InputError
from vlassdask.qa.types import QAImages

#: Beam size assumed (FWHM, pixels) when an image has no restoring beam: VLASS QL's ~2.5" beam
#: at 1" cells, rounded up.
FALLBACK_BEAM_PIXELS = 3.0


def plane_data(plane: xr.DataArray) -> np.ndarray | da.Array:
    """The 2-D array of a plane (dask-backed planes stay lazy)."""
    data = plane.data
    return data if isinstance(data, da.Array) else np.asarray(data)


def materialise(array: np.ndarray | da.Array) -> np.ndarray:
    """A numpy copy-free view of a numpy array, or the computed dask array."""
    return np.asarray(array.compute() if isinstance(array, da.Array) else array)


def check_planes(images: QAImages) -> None:
    """Refuse planes the QA cannot use: not 2-D, shapes that differ, a sub-image box outside.

    Raises
    ------
    InputError
        Naming the image and the plane.
    """
    label = images.name or "image"
    shape = images.sky.shape
    if images.sky.ndim != 2:
        raise InputError(f"{label}: the image plane must be 2-D (l, m), got shape {shape}")
    for role in ("residual", "rms", "pb"):
        plane = getattr(images, role)
        if plane is not None and plane.shape != shape:
            raise InputError(f"{label}: the {role} image has shape {plane.shape}, the image "
                             f"{shape}: they must be on the same pixel grid")  # fmt: skip
    x0, x1, y0, y1 = images.subimage
    if not (0 <= x0 < x1 <= shape[0] and 0 <= y0 < y1 <= shape[1]):
        raise InputError(f"{label}: sub-image box {images.subimage} lies outside the "
                         f"{shape[0]} x {shape[1]} image")  # fmt: skip
    if not (math.isfinite(images.cell_arcsec) and images.cell_arcsec > 0):
        raise InputError(f"{label}: cell size must be positive, got {images.cell_arcsec} arcsec")


def subimage_slices(images: QAImages) -> tuple[slice, slice]:
    """``(x, y)`` slices of the sub-image box."""
    x0, x1, y0, y1 = images.subimage
    return slice(x0, x1), slice(y0, y1)


def covers_whole_image(images: QAImages) -> bool:
    """True when the sub-image box is the whole image (e.g. a VLASS archive image)."""
    return tuple(images.subimage) == (0, images.sky.shape[0], 0, images.sky.shape[1])


def beam_pixels(images: QAImages) -> tuple[float, float]:
    """Restoring beam ``(major, minor)`` FWHM in pixels (:data:`FALLBACK_BEAM_PIXELS` without
    a beam)."""
    beam = images.restoring_beam
    if not beam:
        return FALLBACK_BEAM_PIXELS, FALLBACK_BEAM_PIXELS
    return (float(beam["major_arcsec"]) / images.cell_arcsec,
            float(beam["minor_arcsec"]) / images.cell_arcsec)  # fmt: skip


def stride_for(shape: tuple[int, ...], pixels: int) -> int:
    """Sampling step giving about ``pixels`` samples of an image of ``shape``."""
    return max(1, int(math.sqrt(shape[0] * shape[1] / pixels)))


def sampled(array: np.ndarray | da.Array, stride: int) -> np.ndarray:
    """Every ``stride``-th pixel along both axes, as numpy (only the sample is kept)."""
    return materialise(array[::stride, ::stride])


def cutout(array: np.ndarray | da.Array, x: float, y: float, radius: float
           ) -> tuple[np.ndarray, tuple[int, int]]:  # fmt: skip
    """Box of half-size ``radius`` around ``(x, y)`` (clipped to the image) and its origin."""
    x0, y0 = max(0, int(x - radius)), max(0, int(y - radius))
    x1 = min(array.shape[0], int(math.ceil(x + radius)) + 1)
    y1 = min(array.shape[1], int(math.ceil(y + radius)) + 1)
    return materialise(array[x0:x1, y0:y1]), (x0, y0)
