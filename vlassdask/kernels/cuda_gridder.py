"""CUDA (numba-cuda) gridder, degridder and fused residual gridder for one w-layer.

The functions here take the same arrays, keywords and conventions as their CPU twins in
:mod:`vlassdask.kernels.gridder` (grid positions in cells, signed w, tap-major w-kernel tables
with the FFT-centring sign baked in, the optional first-order Fresnel companion grid), so the
imaging backend (:mod:`vlassdask.imaging.backend_cuda`) can hold either. They launch on any
arrays numba-cuda accepts: cupy arrays on a device (no copies), numpy arrays under the CUDA
simulator (``NUMBA_ENABLE_CUDASIM=1``, which is how CI tests them).

Work decomposition (the technique of IDG, hpg and cuFINUFFT): the visibilities arrive in the
planner's (w-layer, grid tile) order (:mod:`vlassdask.kernels.ordering`), so a run of
:data:`VIS_PER_BLOCK` consecutive visibilities touches a small patch of the grid. One thread
block takes one such run, finds the bounding box of its kernel footprints, accumulates the run
in a (box x box) patch in shared memory (shared-memory atomics), then adds the patch to the
global grid with one atomic add per cell. A run whose footprints do not fit the patch (a run
across a row of tiles, sparse data) adds its taps to the global grid directly, with atomics:
the ordering only buys speed, never correctness. The degridder is a gather (one thread per
visibility, no atomics); the tile order makes neighbouring threads read neighbouring cells.

Memory model (device bytes)
---------------------------
* visibilities: the sorted block, 48 bytes per visibility (pu, pv, w float64; two complex64
  values; int64 index), moved to the device once (see :mod:`vlassdask.imaging.backend_cuda`);
* grids: ``n_grids x G^2 x 8`` (complex64; x16 for complex128) per accumulator, model grid or
  FFT grid;
* kernel table: ``planes x (oversample + 1) x support x 8`` (complex64), copied to the device
  once per table and precision (:meth:`~vlassdask.kernels.wkernels.KernelTable.tap_major_on`);
* per thread block: ``n_grids x box^2 x 8`` bytes of shared memory (at most 47 KiB) and
  per thread two tap arrays of :data:`MAX_SUPPORT` complex values (local memory).
"""

from __future__ import annotations

import math
from functools import cache

import numba
import numpy as np
from numba import cuda
from numba.cuda import to_device

from vlassdask.kernels import taps
from vlassdask.kernels.wkernels import KernelTable

#: Largest kernel support (taps per axis) the device kernels hold in their local tap arrays.
MAX_SUPPORT = 128
#: Consecutive (tile-ordered) visibilities one thread block grids through one shared patch.
VIS_PER_BLOCK = 256
#: Threads per block.
THREADS = 128
#: Shared memory a thread block may use for its grid patch, in bytes: under the 48 KiB a block
#: gets without opting in, leaving room for its static shared memory (the bounding box).
SHARED_BYTES = 47 * 1024


@cuda.jit(device=True, inline=True)
def first_tap(pos, support):
    """Grid index of the first of the ``support`` taps of a visibility at position ``pos``."""
    return int(math.floor(pos - 0.5 * support)) + 1


#: :func:`vlassdask.kernels.taps.kernel_taps` (the CPU gridder's taps) as a device function
kernel_taps = cuda.jit(device=True, inline=True)(taps.kernel_taps)


@cuda.jit(device=True, inline=True)
def on_grid(fu, fv, support, ngrid):
    """True when a footprint starting at cells (fu, fv) lies on the grid."""
    return fu >= 0 and fv >= 0 and fu + support <= ngrid and fv + support <= ngrid


@cuda.jit(device=True, inline=True)
def interpolate(grids, fu, fv, ku, kv, dw, n_grids, support, acc):
    """Set ``acc[0]`` to the kernel-weighted sum of ``grids`` at (fu, fv) (the adjoint of
    :func:`spread_taps`; as the CPU gridder's ``_interpolate``). ``acc`` is a local array of
    two values of the grid precision (``acc[1]`` holds a row's partial sum), so the sums stay
    in that precision (``dw`` must be of it too)."""
    acc[0] = 0
    for i in range(support):
        acc[1] = 0
        for j in range(support):
            acc[1] += grids[0, fu + i, fv + j] * kv[j].conjugate()
        if n_grids > 1:
            for j in range(support):
                acc[1] += dw * grids[1, fu + i, fv + j] * kv[j].conjugate()
        acc[0] += acc[1] * ku[i].conjugate()


@cuda.jit(device=True, inline=True)
def spread_taps(buf, ou, ov, width, val, fu, fv, ku, kv, dw, n_grids, support):
    """Atomically add ``val`` x the separable kernel at (fu, fv) (and x ``dw`` to the
    companion grid) to ``buf``: a flat real view of (n_grids, width, width) complex cells
    whose cell (0, 0) is grid cell (ou, ov): the whole grid or a thread block's patch.
    ``val``, the taps and ``dw`` are of the grid precision, so the products stay in it."""
    for i in range(support):
        vi = val * ku[i]
        for g in range(n_grids):
            if g == 1:
                vi = vi * dw
            row = (g * width + fu - ou + i) * width + fv - ov
            for j in range(support):
                t = vi * kv[j]
                cuda.atomic.add(buf, 2 * (row + j), t.real)
                cuda.atomic.add(buf, 2 * (row + j) + 1, t.imag)


@cache
def _kernels(complex_type: numba.types.Type, real_type: numba.types.Type):
    """The gridding and degridding kernels for one grid precision (tap arrays of
    ``complex_type``, shared patch of ``real_type``). Taps, sums and products are computed in
    the grid precision (float32 arithmetic for complex64 grids); only the positions, w and the
    tap interpolation weights are float64."""

    @cuda.jit
    def spread_kernel(pu, pv, w, vals, wts, model, lo, hi, flat, ngrid, n_grids, table, chirp,
                      w_layer, a_min, inv_da, support, oversample, box, residual, dropped):
        """Grid ``vals`` (``residual``: ``vals - wts x degrid(model)``) of entries lo:hi."""
        ku = cuda.local.array(MAX_SUPPORT, complex_type)
        kv = cuda.local.array(MAX_SUPPORT, complex_type)
        acc = cuda.local.array(2, complex_type)
        bbox = cuda.shared.array(4, numba.int32)
        patch = cuda.shared.array(0, real_type)
        tid = cuda.threadIdx.x
        nthreads = cuda.blockDim.x
        start = lo + cuda.blockIdx.x * VIS_PER_BLOCK
        stop = min(start + VIS_PER_BLOCK, hi)
        if tid == 0:
            bbox[0] = ngrid
            bbox[1] = ngrid
            bbox[2] = -1
            bbox[3] = -1
        cuda.syncthreads()
        for s in range(start + tid, stop, nthreads):
            if (wts[s].real == 0.0 and vals[s] == 0) if residual else vals[s] == 0:
                continue
            fu = first_tap(pu[s], support)
            fv = first_tap(pv[s], support)
            if not on_grid(fu, fv, support, ngrid):
                cuda.atomic.add(dropped, 0, 1)
                continue
            cuda.atomic.min(bbox, 0, fu)
            cuda.atomic.min(bbox, 1, fv)
            cuda.atomic.max(bbox, 2, fu)
            cuda.atomic.max(bbox, 3, fv)
        cuda.syncthreads()
        if bbox[2] < 0:
            return
        shared = bbox[2] - bbox[0] + support <= box and bbox[3] - bbox[1] + support <= box
        ou, ov, width = (bbox[0], bbox[1], box) if shared else (0, 0, ngrid)
        if shared:
            for k in range(tid, 2 * n_grids * box * box, nthreads):
                patch[k] = 0
            cuda.syncthreads()
        for s in range(start + tid, stop, nthreads):
            if (wts[s].real == 0.0 and vals[s] == 0) if residual else vals[s] == 0:
                continue
            dw = abs(w[s]) - w_layer
            fu = kernel_taps(pu[s], chirp * dw, table, a_min, inv_da, support, oversample, ku)
            fv = kernel_taps(pv[s], chirp * dw, table, a_min, inv_da, support, oversample, kv)
            if not on_grid(fu, fv, support, ngrid):
                continue
            dw_g = real_type(dw)  # a new name: numba types a variable once
            val = vals[s]
            if residual:
                interpolate(model, fu, fv, ku, kv, dw_g, n_grids, support, acc)
                val = val - wts[s].real * acc[0]
            if shared:
                spread_taps(patch, ou, ov, width, val, fu, fv, ku, kv, dw_g, n_grids, support)
            else:
                spread_taps(flat, ou, ov, width, val, fu, fv, ku, kv, dw_g, n_grids, support)
        if shared:
            cuda.syncthreads()
            for k in range(tid, n_grids * box * box, nthreads):
                g = k // (box * box)
                x = ou + (k // box) % box
                y = ov + k % box
                re = patch[2 * k]
                im = patch[2 * k + 1]
                if x < ngrid and y < ngrid and (re != 0 or im != 0):
                    cell = 2 * ((g * ngrid + x) * ngrid + y)
                    cuda.atomic.add(flat, cell, re)
                    cuda.atomic.add(flat, cell + 1, im)

    @cuda.jit
    def degrid_kernel(pu, pv, w, index, lo, hi, grids, out, table, chirp, w_layer, a_min,
                      inv_da, support, oversample):
        """Add the interpolated model of entries lo:hi to ``out[index]`` (a gather)."""
        ku = cuda.local.array(MAX_SUPPORT, complex_type)
        kv = cuda.local.array(MAX_SUPPORT, complex_type)
        acc = cuda.local.array(2, complex_type)
        s = lo + cuda.grid(1)
        if s >= hi:
            return
        dw = abs(w[s]) - w_layer
        fu = kernel_taps(pu[s], chirp * dw, table, a_min, inv_da, support, oversample, ku)
        fv = kernel_taps(pv[s], chirp * dw, table, a_min, inv_da, support, oversample, kv)
        if not on_grid(fu, fv, support, grids.shape[1]):
            return
        interpolate(grids, fu, fv, ku, kv, real_type(dw), grids.shape[0], support, acc)
        if w[s] < 0.0:
            out[index[s]] += acc[0].conjugate()
        else:
            out[index[s]] += acc[0]

    return spread_kernel, degrid_kernel


def _precision(dtype: np.dtype) -> tuple[numba.types.Type, numba.types.Type, type]:
    if np.dtype(dtype) == np.complex128:
        return numba.complex128, numba.float64, np.float64
    return numba.complex64, numba.float32, np.float32


def _launch_args(table: KernelTable, dtype: np.dtype) -> tuple:
    """The device copy of the tap-major table and its scalar parameters."""
    if table.support > MAX_SUPPORT:
        raise ValueError(f"kernel support {table.support} exceeds the device kernels' "
                         f"{MAX_SUPPORT}")
    inv_da = 1.0 / table.a_step if table.a_step else 0.0
    return (table.tap_major_on(to_device, dtype), float(table.a_min), inv_da,
            int(table.support), int(table.oversample))


def _spread(pu, pv, w, values, weights, model, grids, table, w_layer, chirp, span,
            residual) -> int:
    lo, hi = span if span is not None else (0, pu.shape[0])
    if hi <= lo:
        return 0
    n_grids, ngrid = grids.shape[0], grids.shape[1]
    complex_type, real_type, real = _precision(grids.dtype)
    spread_kernel, _ = _kernels(complex_type, real_type)
    itemsize = np.dtype(real).itemsize
    box = int(math.isqrt(SHARED_BYTES // (2 * n_grids * itemsize)))
    table_d, a_min, inv_da, support, oversample = _launch_args(table, grids.dtype)
    dropped = to_device(np.zeros(1, dtype=np.int64))
    blocks = (hi - lo + VIS_PER_BLOCK - 1) // VIS_PER_BLOCK
    flat = grids.reshape(-1).view(real)
    spread_kernel[blocks, THREADS, 0, 2 * n_grids * box * box * itemsize](
        pu, pv, w, values, weights, model, lo, hi, flat, ngrid, n_grids, table_d, float(chirp),
        float(w_layer), a_min, inv_da, support, oversample, box, residual, dropped)
    return int(dropped.copy_to_host()[0])


def grid_visibilities(pu, pv, w, values, grids, *, table: KernelTable, w_layer: float = 0.0,
                      chirp: float = 0.0, span: tuple[int, int] | None = None) -> int:
    """Device twin of :func:`vlassdask.kernels.gridder.grid_visibilities` (same arguments, on
    device arrays); ``grids`` must be C-contiguous. Returns the visibilities off the grid."""
    model = grids.reshape(-1)[:1].reshape(1, 1, 1)  # a contiguous stand-in, never read
    return _spread(pu, pv, w, values, values, model, grids, table, w_layer, chirp, span, False)


def grid_residual_visibilities(pu, pv, w, values, weights, model_grids, grids, *,
                               table: KernelTable, w_layer: float = 0.0, chirp: float = 0.0,
                               span: tuple[int, int] | None = None) -> int:
    """Device twin of :func:`vlassdask.kernels.gridder.grid_residual_visibilities`: one pass
    interpolates each visibility's model from ``model_grids`` and grids the weighted residual
    (no model visibility is stored). Returns the visibilities off the grid."""
    return _spread(pu, pv, w, values, weights, model_grids, grids, table, w_layer, chirp, span,
                   True)


def degrid_visibilities(pu, pv, w, index, grids, *, table: KernelTable, w_layer: float = 0.0,
                        chirp: float = 0.0, span: tuple[int, int] | None = None, out):
    """Device twin of :func:`vlassdask.kernels.gridder.degrid_visibilities`: add the
    interpolated grid values to ``out`` (a C-contiguous device array addressed by the flat
    ``index``); entries with w < 0 receive the conjugate."""
    lo, hi = span if span is not None else (0, pu.shape[0])
    if hi > lo:
        complex_type, real_type, _ = _precision(grids.dtype)
        _, degrid_kernel = _kernels(complex_type, real_type)
        table_d, a_min, inv_da, support, oversample = _launch_args(table, grids.dtype)
        blocks = (hi - lo + THREADS - 1) // THREADS
        degrid_kernel[blocks, THREADS](pu, pv, w, index, lo, hi, grids, out.reshape(-1),
                                       table_d, float(chirp), float(w_layer), a_min, inv_da,
                                       support, oversample)
    return out
