"""Visibility ordering for the gridder: by w-layer, then by row group, then by grid tile,
gathered contiguously.

A counting sort in O(nvis): each selected visibility gets the key
``((layer * n_groups + group) * ntiles + tile_u) * ntiles + tile_v`` (tiles of ``tile`` x
``tile`` grid cells; ``group`` an optional label of its row, e.g. the pointing group of its
field, so that one layer's visibilities of each group are contiguous) and is written, in key
order, into contiguous arrays of grid positions, signed w and values. The
gridders then stream through memory instead of gathering rows, and touch one small block of the
grid at a time. Visibilities with w < 0 are stored as their conjugates at (-u, -v, -w) (the dirty
image is real), with the sign kept on ``w`` so the degridder can undo it.

Memory: 24 bytes (positions, w) + 8 per value array + 8 (index) per selected visibility.
"""

from __future__ import annotations

from typing import NamedTuple

import numba
import numpy as np

from vlassdask.kernels.constants import SPEED_OF_LIGHT


class SortedVisibilities(NamedTuple):
    """Visibilities gathered in gridding order.

    Attributes
    ----------
    pu, pv
        float64 (nsel,) grid positions (cells) along the two grid axes.
    w
        float64 (nsel,) w in wavelengths; negative where the visibility was conjugated.
    values
        Tuple of complex (nsel,) arrays, conjugated where ``w < 0``, one per input value array.
    index
        int64 (nsel,) flat input index ``row * nchan + chan`` of each entry.
    bounds
        int64 (n_layers x n_groups + 1,): group g of layer k owns entries
        ``bounds[k * n_groups + g]:bounds[k * n_groups + g + 1]``.
    n_groups
        Row groups within each layer (1: none).
    """

    pu: np.ndarray
    pv: np.ndarray
    w: np.ndarray
    values: tuple
    index: np.ndarray
    bounds: np.ndarray
    n_groups: int = 1


@numba.njit(cache=True, nogil=True)
def _keys(uvw, freq, mask, group, n_groups, layer_width, n_layers, scale, ngrid, tile, ntiles):
    nrow = uvw.shape[0]
    nchan = freq.shape[0]
    keys = np.empty(nrow * nchan, dtype=np.int64)
    half = 0.5 * ngrid
    inv_tile = 1.0 / tile
    inv_width = 1.0 / layer_width
    fscale = freq * (scale / SPEED_OF_LIGHT)  # grid cells per metre, per channel
    fw = freq / SPEED_OF_LIGHT
    count = 0
    for r in range(nrow):
        u0, v0, w0 = uvw[r, 0], uvw[r, 1], uvw[r, 2]
        sign = -1.0 if w0 < 0.0 else 1.0
        for c in range(nchan):
            if not mask[r, c]:
                keys[r * nchan + c] = -1
                continue
            layer = 0
            if n_layers > 1:
                layer = min(int(sign * w0 * fw[c] * inv_width), n_layers - 1)
            tu = min(max(int((half - sign * u0 * fscale[c]) * inv_tile), 0), ntiles - 1)
            tv = min(max(int((half + sign * v0 * fscale[c]) * inv_tile), 0), ntiles - 1)
            keys[r * nchan + c] = ((layer * n_groups + group[r]) * ntiles + tu) * ntiles + tv
            count += 1
    return keys, count


@numba.njit(cache=True, nogil=True)
def _counting_sort(keys, count, nkeys):
    hist = np.zeros(nkeys + 1, dtype=np.int64)
    for k in keys:
        if k >= 0:
            hist[k + 1] += 1
    for i in range(nkeys):
        hist[i + 1] += hist[i]
    starts = hist.copy()
    order = np.empty(count, dtype=np.int64)
    for i in range(keys.shape[0]):
        k = keys[i]
        if k >= 0:
            order[starts[k]] = i
            starts[k] += 1
    return order, hist


@numba.njit(cache=True, nogil=True)
def _gather_geometry(uvw, freq, order, scale, ngrid):
    n = order.shape[0]
    nchan = freq.shape[0]
    half = 0.5 * ngrid
    fw = freq / SPEED_OF_LIGHT
    pu = np.empty(n, dtype=np.float64)
    pv = np.empty(n, dtype=np.float64)
    ws = np.empty(n, dtype=np.float64)
    for s in range(n):
        flat = order[s]
        r = flat // nchan
        c = flat - r * nchan
        u = uvw[r, 0] * fw[c]
        v = uvw[r, 1] * fw[c]
        w = uvw[r, 2] * fw[c]
        if w < 0.0:
            u = -u
            v = -v
        pu[s] = half - u * scale
        pv[s] = half + v * scale
        ws[s] = w
    return pu, pv, ws


@numba.njit(cache=True, nogil=True)
def _gather_values(values, order, ws):
    flat = values.reshape(-1)
    out = np.empty(order.shape[0], dtype=values.dtype)
    for s in range(order.shape[0]):
        val = flat[order[s]]
        out[s] = np.conj(val) if ws[s] < 0.0 else val
    return out


def sort_visibilities(
    uvw: np.ndarray,
    freq: np.ndarray,
    values: tuple[np.ndarray, ...],
    *,
    mask: np.ndarray | None,
    layer_width: float,
    n_layers: int,
    cell: float,
    ngrid: int,
    tile: int = 16,
    group: np.ndarray | None = None,
    n_groups: int = 1,
) -> SortedVisibilities:
    """Gather visibilities in (w-layer, row group, grid tile) order.

    Parameters
    ----------
    uvw, freq
        float64 (row, 3) metres and (chan,) Hz.
    values
        complex (row, chan) arrays to gather (e.g. weighted visibilities and PSF weights).
    mask
        bool (row, chan): which visibilities to keep; None keeps all.
    layer_width, n_layers
        w-layer layout (``n_layers == 1`` puts everything in one layer).
    cell, ngrid
        Pixel size (radians) and grid side.
    tile
        Side of the locality blocks in grid cells.
    group, n_groups
        Optional int (row,) label in ``[0, n_groups)`` of each row (default: one group).
    """
    ntiles = (ngrid + tile - 1) // tile
    if mask is None:
        mask = np.ones((uvw.shape[0], freq.shape[0]), dtype=np.bool_)
    width = layer_width if np.isfinite(layer_width) else 1.0
    scale = ngrid * cell
    if group is None:
        group = np.zeros(uvw.shape[0], dtype=np.int64)
    group = np.asarray(group, dtype=np.int64)
    if group.size and (group.min() < 0 or group.max() >= n_groups):
        raise ValueError(f"row groups must lie in [0, {n_groups})")
    keys, count = _keys(uvw, freq, mask, group, n_groups, width, n_layers, scale, ngrid, tile,
                        ntiles)
    n_spans = n_layers * n_groups
    order, hist = _counting_sort(keys, count, n_spans * ntiles * ntiles)
    bounds = hist[:: ntiles * ntiles][: n_spans + 1].copy()
    bounds[-1] = count
    pu, pv, ws = _gather_geometry(uvw, freq, order, scale, ngrid)
    gathered = tuple(_gather_values(np.ascontiguousarray(v), order, ws) for v in values)
    return SortedVisibilities(pu, pv, ws, gathered, order, bounds, n_groups)
