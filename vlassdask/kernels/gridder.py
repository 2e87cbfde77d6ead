"""Numba convolutional gridder and its exact adjoint (degridder) for one w-layer.

Conventions (see SPEC "Imaging conventions"): a visibility at (u, v, w) wavelengths is gridded at
grid position (-u L + G/2, v L + G/2) on a G x G grid (L = G * cell), so that a forward FFT gives
the image indexed [x, y] with l = -(x - N/2) cell, m = (y - N/2) cell. The centring shifts of the
FFT are folded in as a checkerboard sign (-1)^(p + q) on the taps, so no shifted copies of the grid
are made. Visibilities with w < 0 are gridded as their conjugates at (-u, -v, -w): the dirty image
is real, so only w >= 0 layers are needed.

Each visibility's two 1-D kernels (u and v axes) are interpolated linearly from a
:class:`~vlassdask.kernels.wkernels.KernelTable` in tap offset and in chirp rate
a = chirp (w - w_layer); their outer product (support^2 taps) is accumulated.
"""

from __future__ import annotations

import numba
import numpy as np

from vlassdask.kernels.wkernels import KernelTable

SPEED_OF_LIGHT = 299792458.0


@numba.njit(cache=True, nogil=True, inline="always")
def _taps(pos, a, table, a_min, inv_da, support, oversample, out):
    """Fill ``out`` with the interpolated kernel values for a grid position; return first tap.

    ``table`` is tap-major (plane, oversample + 1, support) with the alternating sign of the FFT
    centring baked in, so the taps come from two contiguous rows (four in w mode).
    """
    first = int(np.floor(pos - 0.5 * support)) + 1
    tp = (first - pos + 0.5 * support) * oversample
    j = min(max(int(tp), 0), oversample - 1)
    ft = tp - j
    sign = 1.0 - 2.0 * (first & 1)
    if table.shape[0] > 1:
        ap = (a - a_min) * inv_da
        ia = min(max(int(np.floor(ap)), 0), table.shape[0] - 2)
        fa = ap - ia
        w00 = sign * (1.0 - fa) * (1.0 - ft)
        w01 = sign * (1.0 - fa) * ft
        w10 = sign * fa * (1.0 - ft)
        w11 = sign * fa * ft
        r00 = table[ia, j]
        r01 = table[ia, j + 1]
        r10 = table[ia + 1, j]
        r11 = table[ia + 1, j + 1]
        for i in range(support):
            out[i] = w00 * r00[i] + w01 * r01[i] + w10 * r10[i] + w11 * r11[i]
    else:
        w0 = sign * (1.0 - ft)
        w1 = sign * ft
        r0 = table[0, j]
        r1 = table[0, j + 1]
        for i in range(support):
            out[i] = w0 * r0[i] + w1 * r1[i]
    return first


@numba.njit(cache=True, nogil=True, fastmath=True)
def _grid(uvw, freq, vis, select, grid, table, scale, chirp, w_layer, a_min, inv_da, support,
          oversample):
    ngrid = grid.shape[0]
    nchan = freq.shape[0]
    half = 0.5 * ngrid
    ku = np.empty(support, dtype=table.dtype)
    kv = np.empty(support, dtype=table.dtype)
    dropped = 0
    for s in range(select.shape[0]):
        flat = select[s]
        r = flat // nchan
        c = flat - r * nchan
        val = vis[r, c]
        if val == 0:
            continue
        f = freq[c] / SPEED_OF_LIGHT
        u = uvw[r, 0] * f
        v = uvw[r, 1] * f
        w = uvw[r, 2] * f
        if w < 0.0:
            u = -u
            v = -v
            w = -w
            val = np.conj(val)
        a = chirp * (w - w_layer)
        pu = -u * scale + half
        pv = v * scale + half
        fu = _taps(pu, a, table, a_min, inv_da, support, oversample, ku)
        fv = _taps(pv, a, table, a_min, inv_da, support, oversample, kv)
        if fu < 0 or fv < 0 or fu + support > ngrid or fv + support > ngrid:
            dropped += 1
            continue
        for i in range(support):
            vi = val * ku[i]
            row = grid[fu + i]
            for j in range(support):
                row[fv + j] += vi * kv[j]
    return dropped


@numba.njit(cache=True, nogil=True, fastmath=True)
def _degrid(uvw, freq, grid, select, out, table, scale, chirp, w_layer, a_min, inv_da,
            support, oversample):
    ngrid = grid.shape[0]
    nchan = freq.shape[0]
    half = 0.5 * ngrid
    ku = np.empty(support, dtype=table.dtype)
    kv = np.empty(support, dtype=table.dtype)
    for s in range(select.shape[0]):
        flat = select[s]
        r = flat // nchan
        c = flat - r * nchan
        f = freq[c] / SPEED_OF_LIGHT
        u = uvw[r, 0] * f
        v = uvw[r, 1] * f
        w = uvw[r, 2] * f
        flip = w < 0.0
        if flip:
            u = -u
            v = -v
            w = -w
        a = chirp * (w - w_layer)
        pu = -u * scale + half
        pv = v * scale + half
        fu = _taps(pu, a, table, a_min, inv_da, support, oversample, ku)
        fv = _taps(pv, a, table, a_min, inv_da, support, oversample, kv)
        if fu < 0 or fv < 0 or fu + support > ngrid or fv + support > ngrid:
            continue
        acc = 0j
        for i in range(support):
            row = grid[fu + i]
            part = 0j
            for j in range(support):
                part += row[fv + j] * np.conj(kv[j])
            acc += part * np.conj(ku[i])
        out[r, c] += np.conj(acc) if flip else acc


def _table_args(table: KernelTable) -> tuple[float, float, int, int]:
    inv_da = 1.0 / table.a_step if table.a_step else 0.0
    return table.a_min, inv_da, table.support, table.oversample


def grid_visibilities(
    uvw: np.ndarray,
    freq: np.ndarray,
    vis: np.ndarray,
    select: np.ndarray,
    grid: np.ndarray,
    *,
    table: KernelTable,
    cell: float,
    w_layer: float = 0.0,
    chirp: float = 0.0,
) -> int:
    """Accumulate selected visibilities onto ``grid`` in place.

    Parameters
    ----------
    uvw
        float64 (row, 3) baseline coordinates in metres.
    freq
        float64 (chan,) channel frequencies in Hz.
    vis
        complex (row, chan) weighted visibilities (zero entries are skipped).
    select
        int64 (nsel,) flat indices ``row * nchan + chan`` of the visibilities to grid.
    grid
        complex (G, G) grid, modified in place; its dtype sets the precision.
    table
        Convolution-function table (:func:`~vlassdask.kernels.wkernels.make_kernel_table`).
    cell
        Image pixel size in radians.
    w_layer
        w (wavelengths) of the layer this grid belongs to.
    chirp
        Chirp rate per wavelength of residual w (``GridPlan.chirp``): the kernel plane for a
        visibility is a = chirp * (w - w_layer).

    Returns
    -------
    int
        Number of visibilities that fell off the grid (too long a baseline for the cell size).
    """
    scale = grid.shape[0] * cell
    return _grid(uvw, freq, vis, select, grid, table.tap_major(grid.dtype),
                 scale, chirp, w_layer, *_table_args(table))


def degrid_visibilities(
    uvw: np.ndarray,
    freq: np.ndarray,
    grid: np.ndarray,
    select: np.ndarray,
    *,
    table: KernelTable,
    cell: float,
    w_layer: float = 0.0,
    chirp: float = 0.0,
    out: np.ndarray,
) -> np.ndarray:
    """Adjoint of :func:`grid_visibilities`: add interpolated grid values to ``out``.

    ``out`` is complex (row, chan); entries not in ``select`` are left unchanged.
    """
    scale = grid.shape[0] * cell
    _degrid(uvw, freq, grid, select, out, table.tap_major(grid.dtype), scale, chirp,
            w_layer, *_table_args(table))
    return out
