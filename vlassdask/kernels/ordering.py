"""Visibility ordering for the gridder: by w-layer, then by grid tile for cache locality.

A counting sort in O(nvis): each selected visibility gets the key
``layer * ntiles^2 + tile_u * ntiles + tile_v`` where tiles are ``tile`` x ``tile`` blocks of the
uv grid, and the visibilities are ordered by key. Gridding in this order touches one small block
of the grid at a time.
"""

from __future__ import annotations

import numba
import numpy as np

from vlassdask.kernels.gridder import SPEED_OF_LIGHT


@numba.njit(cache=True, nogil=True)
def _keys(uvw, freq, vis, layer_width, n_layers, scale, ngrid, tile, ntiles, use_vis):
    nrow = uvw.shape[0]
    nchan = freq.shape[0]
    keys = np.empty(nrow * nchan, dtype=np.int64)
    count = 0
    half = 0.5 * ngrid
    for r in range(nrow):
        for c in range(nchan):
            if use_vis and vis[r, c] == 0:
                keys[r * nchan + c] = -1
                continue
            f = freq[c] / SPEED_OF_LIGHT
            u = uvw[r, 0] * f
            v = uvw[r, 1] * f
            w = uvw[r, 2] * f
            if w < 0.0:
                u = -u
                v = -v
                w = -w
            layer = 0
            if n_layers > 1:
                layer = min(int(w / layer_width), n_layers - 1)
            tu = min(max(int((-u * scale + half) // tile), 0), ntiles - 1)
            tv = min(max(int((v * scale + half) // tile), 0), ntiles - 1)
            keys[r * nchan + c] = (layer * ntiles + tu) * ntiles + tv
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


def order_visibilities(
    uvw: np.ndarray,
    freq: np.ndarray,
    vis: np.ndarray | None,
    *,
    layer_width: float,
    n_layers: int,
    cell: float,
    ngrid: int,
    tile: int = 32,
) -> tuple[np.ndarray, np.ndarray]:
    """Flat indices (row * nchan + chan) ordered by w-layer and grid tile.

    Parameters
    ----------
    uvw, freq
        float64 (row, 3) metres and (chan,) Hz.
    vis
        complex (row, chan); zero entries are left out. None keeps every visibility.
    layer_width, n_layers
        w-layer layout (``n_layers == 1`` puts everything in one layer).
    cell, ngrid
        Pixel size (radians) and grid side.
    tile
        Side of the locality blocks in grid cells.

    Returns
    -------
    order : numpy.ndarray
        int64 (nsel,) flat indices.
    bounds : numpy.ndarray
        int64 (n_layers + 1,): layer k owns ``order[bounds[k]:bounds[k + 1]]``.
    """
    ntiles = (ngrid + tile - 1) // tile
    dummy = np.zeros((1, 1), dtype=np.complex64)
    width = layer_width if np.isfinite(layer_width) else 1.0
    keys, count = _keys(uvw, freq, dummy if vis is None else vis, width, n_layers,
                        ngrid * cell, ngrid, tile, ntiles, vis is not None)
    order, hist = _counting_sort(keys, count, n_layers * ntiles * ntiles)
    bounds = hist[:: ntiles * ntiles][: n_layers + 1].copy()
    bounds[-1] = count
    return order, bounds
