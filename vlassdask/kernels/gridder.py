"""Numba convolutional gridder and its exact adjoint (degridder) for one w-layer.

Conventions (see SPEC "Imaging conventions"): a visibility at (u, v, w) wavelengths is gridded at
grid position (-u L + G/2, v L + G/2) on a G x G grid (L = G * cell), so that a forward FFT gives
the image indexed [x, y] with l = -(x - N/2) cell, m = (y - N/2) cell. The centring shifts of the
FFT are folded in as a checkerboard sign (-1)^(p + q) on the taps, so no shifted copies of the grid
are made. Visibilities with w < 0 are gridded as their conjugates at (-u, -v, -w): the dirty image
is real, so only w >= 0 layers are needed.

Each visibility's two 1-D kernels (u and v axes) are interpolated linearly from a
:class:`~vlassdask.kernels.wkernels.KernelTable` in tap offset and in chirp rate
a = chirp (w - w_layer) (:func:`vlassdask.kernels.taps.kernel_taps`, shared with the CUDA
gridder); their outer product (support^2 taps) is accumulated.
"""

from __future__ import annotations

import numba
import numpy as np

from vlassdask.kernels.taps import kernel_taps
from vlassdask.kernels.wkernels import KernelTable

_taps = numba.njit(cache=True, nogil=True, inline="always")(kernel_taps)


@numba.njit(cache=True, nogil=True, inline="always")
def _footprint(pu, pv, w, table, chirp, w_layer, a_min, inv_da, support, oversample, ngrid, ku,
               kv):
    """Both axes' taps of one visibility; returns the first grid cells, or (-1, -1) if the
    footprint does not lie on the grid."""
    a = chirp * (abs(w) - w_layer)
    fu = _taps(pu, a, table, a_min, inv_da, support, oversample, ku)
    fv = _taps(pv, a, table, a_min, inv_da, support, oversample, kv)
    if fu < 0 or fv < 0 or fu + support > ngrid or fv + support > ngrid:
        return -1, -1
    return fu, fv


@numba.njit(cache=True, nogil=True, inline="always")
def _spread(grids, val, fu, fv, ku, kv, dw, first_order, support):
    """Add ``val`` x the separable kernel (and x ``dw`` to the first-order grid) at (fu, fv)."""
    for i in range(support):
        vi = val * ku[i]
        row = grids[0, fu + i]
        for j in range(support):
            row[fv + j] += vi * kv[j]
        if first_order:
            vi1 = vi * dw
            row1 = grids[1, fu + i]
            for j in range(support):
                row1[fv + j] += vi1 * kv[j]


@numba.njit(cache=True, nogil=True, inline="always")
def _interpolate(grids, fu, fv, ku, kv, dw, first_order, support):
    """The adjoint of :func:`_spread`: the kernel-weighted sum of the grids at (fu, fv)."""
    acc = 0j
    for i in range(support):
        row = grids[0, fu + i]
        part = 0j
        for j in range(support):
            part += row[fv + j] * np.conj(kv[j])
        if first_order:
            row1 = grids[1, fu + i]
            for j in range(support):
                part += dw * row1[fv + j] * np.conj(kv[j])
        acc += part * np.conj(ku[i])
    return acc


@numba.njit(cache=True, nogil=True, fastmath=True)
def _grid(pu, pv, w, vals, lo, hi, grids, table, chirp, w_layer, a_min, inv_da, support,
          oversample):
    ngrid = grids.shape[1]
    first_order = grids.shape[0] > 1
    ku = np.empty(support, dtype=table.dtype)
    kv = np.empty(support, dtype=table.dtype)
    dropped = 0
    for s in range(lo, hi):
        val = vals[s]
        if val == 0:
            continue
        fu, fv = _footprint(pu[s], pv[s], w[s], table, chirp, w_layer, a_min, inv_da, support,
                            oversample, ngrid, ku, kv)
        if fu < 0:
            dropped += 1
            continue
        _spread(grids, val, fu, fv, ku, kv, abs(w[s]) - w_layer, first_order, support)
    return dropped


@numba.njit(cache=True, nogil=True, fastmath=True)
def _degrid(pu, pv, w, index, lo, hi, grids, out, table, chirp, w_layer, a_min, inv_da,
            support, oversample):
    ngrid = grids.shape[1]
    first_order = grids.shape[0] > 1
    ku = np.empty(support, dtype=table.dtype)
    kv = np.empty(support, dtype=table.dtype)
    for s in range(lo, hi):
        fu, fv = _footprint(pu[s], pv[s], w[s], table, chirp, w_layer, a_min, inv_da, support,
                            oversample, ngrid, ku, kv)
        if fu < 0:
            continue
        acc = _interpolate(grids, fu, fv, ku, kv, abs(w[s]) - w_layer, first_order, support)
        out[index[s]] += np.conj(acc) if w[s] < 0.0 else acc


def _table_args(table: KernelTable) -> tuple[float, float, int, int]:
    inv_da = 1.0 / table.a_step if table.a_step else 0.0
    return table.a_min, inv_da, table.support, table.oversample


def grid_visibilities(
    pu: np.ndarray,
    pv: np.ndarray,
    w: np.ndarray,
    values: np.ndarray,
    grids: np.ndarray,
    *,
    table: KernelTable,
    w_layer: float = 0.0,
    chirp: float = 0.0,
    span: tuple[int, int] | None = None,
) -> int:
    """Accumulate visibilities onto ``grids`` in place.

    Parameters
    ----------
    pu, pv
        float64 (nvis,) grid positions in cells (as gathered by
        :func:`vlassdask.kernels.ordering.sort_visibilities`).
    w
        float64 (nvis,) w in wavelengths (its sign is ignored here).
    values
        complex (nvis,) weighted visibilities (zero entries are skipped).
    grids
        complex (1, G, G) grid, or (2, G, G) with the first-order Fresnel grid, which receives
        the values times (|w| - w_layer); modified in place; the dtype sets the precision.
    table
        Convolution-function table (:func:`~vlassdask.kernels.wkernels.make_kernel_table`).
    w_layer
        w (wavelengths) of the layer this grid belongs to.
    chirp
        Chirp rate per wavelength of residual w (``GridPlan.chirp``): the kernel plane for a
        visibility is a = chirp * (|w| - w_layer).
    span
        (start, stop) of the entries to grid; default all.

    Returns
    -------
    int
        Number of visibilities that fell off the grid (too long a baseline for the cell size).
    """
    lo, hi = span if span is not None else (0, pu.shape[0])
    return _grid(pu, pv, w, values, lo, hi, grids, table.tap_major(grids.dtype), chirp, w_layer,
                 *_table_args(table))


def degrid_visibilities(
    pu: np.ndarray,
    pv: np.ndarray,
    w: np.ndarray,
    index: np.ndarray,
    grids: np.ndarray,
    *,
    table: KernelTable,
    w_layer: float = 0.0,
    chirp: float = 0.0,
    span: tuple[int, int] | None = None,
    out: np.ndarray,
) -> np.ndarray:
    """Adjoint of :func:`grid_visibilities`: add interpolated grid values to ``out``.

    ``grids`` is (1, G, G) or (2, G, G) as for gridding; ``out`` is complex (row, chan) (or any
    array whose flattened positions ``index`` address); entries with w < 0 receive the
    conjugate, undoing the conjugation made when sorting.
    """
    lo, hi = span if span is not None else (0, pu.shape[0])
    _degrid(pu, pv, w, index, lo, hi, grids, out.reshape(-1), table.tap_major(grids.dtype),
            chirp, w_layer, *_table_args(table))
    return out


@numba.njit(cache=True, nogil=True, fastmath=True)
def _residual(pu, pv, w, vis, wt, lo, hi, model, grids, table, chirp, w_layer, a_min, inv_da,
              support, oversample):
    ngrid = grids.shape[1]
    first_order = grids.shape[0] > 1
    ku = np.empty(support, dtype=table.dtype)
    kv = np.empty(support, dtype=table.dtype)
    dropped = 0
    for s in range(lo, hi):
        weight = wt[s].real
        if weight == 0.0 and vis[s] == 0:
            continue
        fu, fv = _footprint(pu[s], pv[s], w[s], table, chirp, w_layer, a_min, inv_da, support,
                            oversample, ngrid, ku, kv)
        if fu < 0:
            dropped += 1
            continue
        dw = abs(w[s]) - w_layer
        acc = _interpolate(model, fu, fv, ku, kv, dw, first_order, support)
        _spread(grids, vis[s] - weight * acc, fu, fv, ku, kv, dw, first_order, support)
    return dropped


def grid_residual_visibilities(
    pu: np.ndarray,
    pv: np.ndarray,
    w: np.ndarray,
    values: np.ndarray,
    weights: np.ndarray,
    model_grids: np.ndarray,
    grids: np.ndarray,
    *,
    table: KernelTable,
    w_layer: float = 0.0,
    chirp: float = 0.0,
    span: tuple[int, int] | None = None,
) -> int:
    """Grid residual visibilities ``values - weights * degrid(model_grids)`` in one pass.

    Each visibility's kernel taps are computed once and used twice: to interpolate the model
    visibility from ``model_grids`` (the adjoint FFT of the layer's model, as for
    :func:`degrid_visibilities`) and to accumulate the weighted residual on ``grids`` (as
    :func:`grid_visibilities`). No model visibility is ever stored.

    Parameters
    ----------
    pu, pv, w
        float64 (nvis,) grid positions (cells) and signed w (wavelengths), as sorted.
    values
        complex (nvis,) weighted visibilities, conjugated where ``w < 0`` (as sorted).
    weights
        complex (nvis,) real imaging weights the model visibility is multiplied by.
    model_grids
        complex (1 or 2, G, G): the layer's model grid (and first-order Fresnel companion).
    grids
        complex, same shape: receives the residual; modified in place.
    table, w_layer, chirp, span
        As for :func:`grid_visibilities`.

    Returns
    -------
    int
        Visibilities off the grid.
    """
    lo, hi = span if span is not None else (0, pu.shape[0])
    return _residual(pu, pv, w, values, weights, lo, hi, model_grids, grids,
                     table.tap_major(grids.dtype), chirp, w_layer, *_table_args(table))
