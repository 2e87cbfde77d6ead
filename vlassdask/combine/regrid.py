"""Putting an epoch on the reference pixel grid: compare grids, shift or interpolate, lazily.

:func:`align_grids` maps a lattice of reference pixels through both celestial WCSs and decides:

* ``"same"``: the same shape and no pixel moves by more than ``regrid_tolerance`` of the pixel
  diagonal: the epoch is used as it is (the VLASS rule);
* ``"shift"``: the grids differ by a translation (to ``shift_tolerance_pixels``), as when the
  w-term position correction moved CRVAL by a fraction of a pixel: the integer part is applied by
  slicing (:func:`shift_to_reference`) and the fraction exactly, as a phase ramp folded into the
  convolution kernel (:mod:`vlassdask.combine.convolve`);
* ``"interpolate"``: anything else (other cell size, far-away tangent point):
  :func:`interpolate_to_grid` resamples with a separable Kaiser-windowed sinc of 8 taps per axis
  (:data:`INTERPOLATION_HALF_WIDTH`, :data:`INTERPOLATION_BETA`), normalised to unit sum:
  surface brightness in Jy/beam, and so flux density, is conserved; the error is ~2e-3 of the
  peak for images sampled with 2.5 pixels per FWHM, less for smoother ones. Bilinear where a
  blank pixel is within reach of the kernel, NaN where one of the 4 nearest pixels is blank.

An epoch whose footprint does not overlap the reference image is refused before anything runs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import dask
import dask.array as da
import numpy as np
from astropy.wcs import WCS

from vlassdask.errors import InputError

INTERPOLATION_HALF_WIDTH = 4
INTERPOLATION_BETA = 5.0
_LATTICE = 9
_STRIP_ROWS = 256


@dataclass(frozen=True)
class GridAlignment:
    """How an epoch's pixel grid relates to the reference grid.

    Attributes
    ----------
    method
        ``"same"``, ``"shift"`` or ``"interpolate"``.
    max_offset_pixels
        Largest distance (reference pixels) between a reference pixel and the same sky position
        on the epoch's grid, over a lattice of pixels.
    integer_shift, fraction
        For ``"shift"``: the epoch pixel at reference pixel ``p`` is ``p + integer_shift +
        fraction`` (``|fraction| <= 0.5``).
    """

    method: str
    max_offset_pixels: float
    integer_shift: tuple[int, int] = (0, 0)
    fraction: tuple[float, float] = (0.0, 0.0)

    def describe(self) -> str:
        """One line for the history."""
        if self.method == "same":
            return f"same pixel grid (offset {self.max_offset_pixels:.3g} px)"
        if self.method == "shift":
            total = np.add(self.integer_shift, self.fraction)
            return f"shifted by ({total[0]:.4g}, {total[1]:.4g}) px (Fourier shift)"
        return (f"regridded by windowed-sinc interpolation (offset up to "
                f"{self.max_offset_pixels:.3g} px)")


def _reference_to_source(ref: WCS, src: WCS, x: np.ndarray, y: np.ndarray):
    return src.world_to_pixel_values(*ref.pixel_to_world_values(x, y))


def _overlaps(src: WCS, src_shape: tuple[int, int], ref: WCS, ref_shape: tuple[int, int]) -> bool:
    """True if the epoch's footprint (its boundary mapped to reference pixels) meets the image."""
    edges = [np.linspace(-0.5, n - 0.5, 65) for n in src_shape]
    bx = np.concatenate([edges[0], edges[0], np.full(65, -0.5), np.full(65, src_shape[0] - 0.5)])
    by = np.concatenate([np.full(65, -0.5), np.full(65, src_shape[1] - 0.5), edges[1], edges[1]])
    with np.errstate(invalid="ignore"):
        rx, ry = _reference_to_source(src, ref, bx, by)
    good = np.isfinite(rx) & np.isfinite(ry)
    if not good.any():
        return False
    rx, ry = rx[good], ry[good]
    return bool(rx.min() < ref_shape[0] - 0.5 and rx.max() > -0.5
                and ry.min() < ref_shape[1] - 0.5 and ry.max() > -0.5)  # fmt: skip


def align_grids(
    src: WCS,
    src_shape: tuple[int, int],
    ref: WCS,
    ref_shape: tuple[int, int],
    *,
    regrid_tolerance: float,
    shift_tolerance_pixels: float,
    what: str,
) -> GridAlignment:
    """Decide how to bring an epoch onto the reference grid.

    Parameters
    ----------
    src, src_shape, ref, ref_shape
        Celestial WCSs (pixel axis 0 = x) and ``(nx, ny)`` of the epoch and the reference.
    regrid_tolerance
        Offsets up to this fraction of the pixel diagonal (with equal shapes) count as the same
        grid.
    shift_tolerance_pixels
        Largest departure from a pure translation that is still treated as one.
    what
        Name of the epoch for the error message.

    Raises
    ------
    InputError
        If the epoch does not overlap the reference image.
    """
    if not _overlaps(src, src_shape, ref, ref_shape):
        raise InputError(f"{what} does not overlap the reference image: its phase centre and "
                         "footprint are elsewhere on the sky")  # fmt: skip
    x, y = np.meshgrid(np.linspace(0, ref_shape[0] - 1, _LATTICE),
                       np.linspace(0, ref_shape[1] - 1, _LATTICE), indexing="ij")  # fmt: skip
    with np.errstate(invalid="ignore"):
        sx, sy = _reference_to_source(ref, src, x.ravel(), y.ravel())
    dx, dy = sx - x.ravel(), sy - y.ravel()
    if not (np.isfinite(dx).all() and np.isfinite(dy).all()):
        return GridAlignment("interpolate", math.inf)
    offset = float(np.hypot(dx, dy).max())
    if tuple(src_shape) == tuple(ref_shape) and offset <= regrid_tolerance * math.sqrt(2.0):
        return GridAlignment("same", offset)
    mean = np.array([dx.mean(), dy.mean()])
    if np.hypot(dx - mean[0], dy - mean[1]).max() <= shift_tolerance_pixels:
        whole = np.round(mean)
        return GridAlignment("shift", offset, (int(whole[0]), int(whole[1])),
                             (float(mean[0] - whole[0]), float(mean[1] - whole[1])))  # fmt: skip
    return GridAlignment("interpolate", offset)


def _axis_window(offset: int, n_src: int, n_ref: int) -> tuple[int, int, int]:
    """(pad before, source start, count) so that ``out[p] = src[p + offset]``."""
    before = min(max(0, -offset), n_ref)
    start = max(0, offset)
    count = max(0, min(n_ref - before, n_src - start))
    return before, start, count


def shift_to_reference(array: da.Array, integer_shift: tuple[int, int],
                       ref_shape: tuple[int, int]) -> da.Array:  # fmt: skip
    """``out[..., p, q] = array[..., p + ix, q + iy]`` on a grid of ``ref_shape``, NaN elsewhere.

    Lazy slicing and padding; no data are read.
    """
    index = [slice(None)] * (array.ndim - 2)
    pads = [(0, 0)] * (array.ndim - 2)
    for axis, (offset, n_ref) in enumerate(zip(integer_shift, ref_shape, strict=True)):
        before, start, count = _axis_window(offset, array.shape[array.ndim - 2 + axis], n_ref)
        index.append(slice(start, start + count))
        pads.append((before, n_ref - before - count))
    out = array[tuple(index)]
    if any(p != (0, 0) for p in pads):
        out = da.pad(out, pads, mode="constant", constant_values=np.nan)
    return out


def _sinc_weights(frac: np.ndarray) -> np.ndarray:
    """Normalised Kaiser-windowed sinc weights for taps ``1 - a ... a`` at fractional offsets
    ``0 <= frac < 1``; shape ``(2 a, n)``."""
    a = INTERPOLATION_HALF_WIDTH
    s = frac[None, :] - np.arange(1 - a, a + 1)[:, None]
    window = np.i0(INTERPOLATION_BETA * np.sqrt(np.clip(1.0 - (s / a) ** 2, 0.0, None)))
    weights = np.sinc(s) * window
    return weights / weights.sum(axis=0)


def _sample(plane: np.ndarray, px: np.ndarray, py: np.ndarray) -> np.ndarray:
    """Windowed-sinc samples of ``plane`` at ``(px, py)`` (pixel coordinates), NaN-aware."""
    ix, iy = np.floor(px).astype(np.int64), np.floor(py).astype(np.int64)
    tx, ty = px - ix, py - iy
    nx, ny = plane.shape
    wx, wy = _sinc_weights(tx), _sinc_weights(ty)
    a = INTERPOLATION_HALF_WIDTH
    total = np.zeros(px.shape)
    good = np.ones(px.shape, dtype=bool)
    for i, dxi in enumerate(range(1 - a, a + 1)):
        xi = ix + dxi
        inside_x = (xi >= 0) & (xi < nx)
        for j, dyj in enumerate(range(1 - a, a + 1)):
            yj = iy + dyj
            inside = inside_x & (yj >= 0) & (yj < ny)
            value = plane[np.clip(xi, 0, nx - 1), np.clip(yj, 0, ny - 1)]
            ok = inside & np.isfinite(value)
            good &= ok
            total += wx[i] * wy[j] * np.where(ok, value, 0.0)
    bilinear = np.zeros(px.shape)
    near_ok = np.ones(px.shape, dtype=bool)
    for dxi, wxi in ((0, 1.0 - tx), (1, tx)):
        for dyj, wyj in ((0, 1.0 - ty), (1, ty)):
            xi, yj = ix + dxi, iy + dyj
            inside = (xi >= 0) & (xi < nx) & (yj >= 0) & (yj < ny)
            value = plane[np.clip(xi, 0, nx - 1), np.clip(yj, 0, ny - 1)]
            ok = inside & np.isfinite(value)
            near_ok &= ok
            bilinear += wxi * wyj * np.where(ok, value, 0.0)
    return np.where(good, total, np.where(near_ok, bilinear, np.nan))


def _interpolate_block(
    plane: np.ndarray, origin: tuple[int, int], ref: WCS, src: WCS,
    x_range: tuple[int, int], y_range: tuple[int, int],
) -> np.ndarray:  # fmt: skip
    """One output block: reference pixels ``x_range x y_range`` sampled from ``plane``.

    ``plane`` is the part of the epoch that starts at epoch pixel ``origin``. Works in strips of
    :data:`_STRIP_ROWS` rows: peak memory about 12 arrays of ``_STRIP_ROWS x block width``
    float64 besides the input and output.
    """
    out = np.empty((x_range[1] - x_range[0], y_range[1] - y_range[0]), dtype=plane.dtype)
    ys = np.arange(*y_range, dtype=np.float64)
    for start in range(x_range[0], x_range[1], _STRIP_ROWS):
        stop = min(start + _STRIP_ROWS, x_range[1])
        x, y = np.meshgrid(np.arange(start, stop, dtype=np.float64), ys, indexing="ij")
        sx, sy = _reference_to_source(ref, src, x.ravel(), y.ravel())
        values = _sample(plane, sx - origin[0], sy - origin[1])
        out[start - x_range[0]: stop - x_range[0]] = values.reshape(x.shape)
    return out


def _source_window(ref: WCS, src: WCS, x_range: tuple[int, int], y_range: tuple[int, int],
                   src_shape: tuple[int, int]) -> tuple[slice, slice] | None:  # fmt: skip
    """Epoch pixels that an output block needs (its boundary mapped, plus the kernel reach)."""
    reach = INTERPOLATION_HALF_WIDTH
    xs = np.arange(*x_range, dtype=np.float64)
    ys = np.arange(*y_range, dtype=np.float64)
    bx = np.concatenate([xs, xs, np.full(ys.size, xs[0]), np.full(ys.size, xs[-1])])
    by = np.concatenate([np.full(xs.size, ys[0]), np.full(xs.size, ys[-1]), ys, ys])
    sx, sy = _reference_to_source(ref, src, bx, by)
    window = []
    for coords, n in ((sx, src_shape[0]), (sy, src_shape[1])):
        coords = coords[np.isfinite(coords)]
        if coords.size == 0:
            return None
        lo = max(0, int(np.floor(coords.min())) - reach)
        hi = min(n, int(np.floor(coords.max())) + reach + 1)
        if hi <= lo:
            return None
        window.append(slice(lo, hi))
    return window[0], window[1]


def interpolate_to_grid(
    array: da.Array, src: WCS, ref: WCS, ref_shape: tuple[int, int], chunk_pixels: int
) -> da.Array:
    """Lazily resample an epoch (dims ``(..., x, y)``) onto the reference grid.

    Parameters
    ----------
    array
        The epoch's image (NaN = blank).
    src, ref
        Celestial WCSs of the epoch and of the reference grid.
    ref_shape
        ``(nx, ny)`` of the reference grid.
    chunk_pixels
        Output chunk size along x and y.

    Returns
    -------
    dask.array.Array
        Leading axes as ``array``, last two ``ref_shape``, chunked ``chunk_pixels``.

    Notes
    -----
    Every output block reads only the epoch pixels it needs (the footprint of the block plus the
    kernel reach); peak memory per task is that window plus the strip buffers of
    :func:`_interpolate_block`.
    """
    bounds = [list(range(0, n, chunk_pixels)) + [n] for n in ref_shape]
    planes = []
    for index in np.ndindex(array.shape[:-2]):
        rows = []
        for x0, x1 in zip(bounds[0][:-1], bounds[0][1:], strict=True):
            row = []
            for y0, y1 in zip(bounds[1][:-1], bounds[1][1:], strict=True):
                window = _source_window(ref, src, (x0, x1), (y0, y1), array.shape[-2:])
                if window is None:
                    row.append(da.full((x1 - x0, y1 - y0), np.nan, dtype=array.dtype))
                    continue
                part = array[index + window]
                block = dask.delayed(_interpolate_block)(
                    part, (window[0].start, window[1].start), ref, src, (x0, x1), (y0, y1))
                row.append(da.from_delayed(block, (x1 - x0, y1 - y0), dtype=array.dtype))
            rows.append(row)
        planes.append(da.block(rows))
    return da.stack(planes).reshape(array.shape[:-2] + tuple(ref_shape))
