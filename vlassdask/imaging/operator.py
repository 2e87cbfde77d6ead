"""In-memory w-layered gridding operator of one block: visibilities <-> dirty image, adjoint,
residual.

These functions work on the arrays of one block of visibilities (the dask orchestration in
:mod:`vlassdask.imaging.imaging_operator` calls them per row chunk and per w-layer). Every array
kernel goes through the backend seam (:func:`vlassdask.imaging.backend.backend_for`), chosen by
the type of the block's arrays, so the same code runs on numpy (numba kernels) and on a device
backend. Memory model: one (G, G) complex grid (G = plan.ngrid; two with the first-order Fresnel
correction; the residual needs the layer's model grid as well) plus one (nx, ny) float64 image,
plus the visibilities gathered in gridding order (~32 bytes + 8 per value array per visibility);
FFTs are done in place. The visibilities are sorted on the host (:func:`sort_for_plan`) and moved
to the arrays' backend once (:func:`to_backend`); with a device backend the grids and images
then stay in device memory.
"""

from __future__ import annotations

import numpy as np

from vlassdask.imaging.backend import Backend, backend_for
from vlassdask.imaging.wplan import GridPlan
from vlassdask.kernels.ordering import SortedVisibilities, sort_visibilities


def grid_dtype(vis: np.ndarray) -> np.dtype:
    """Grid precision follows the visibilities: complex128 only for complex128 input."""
    return np.dtype(np.complex128 if vis.dtype == np.complex128 else np.complex64)


def sort_for_plan(
    uvw: np.ndarray,
    freq: np.ndarray,
    values: tuple[np.ndarray, ...],
    plan: GridPlan,
    mask: np.ndarray | None = None,
    group: np.ndarray | None = None,
    n_groups: int = 1,
) -> SortedVisibilities:
    """Gather ``values`` (complex (row, chan) arrays) in the gridding order of ``plan``.

    ``mask`` (bool (row, chan)) selects the visibilities to keep (default: all); ``group``
    (int (row,) in ``[0, n_groups)``) makes each layer's visibilities of every row group
    contiguous (:func:`group_span`).
    """
    return sort_visibilities(uvw, freq, values, mask=mask, layer_width=plan.layer_width,
                             n_layers=plan.n_layers, cell=plan.cell, ngrid=plan.ngrid,
                             group=group, n_groups=n_groups)


def to_backend(sorted_vis: SortedVisibilities, backend: Backend) -> SortedVisibilities:
    """``sorted_vis`` with its per-visibility arrays on ``backend`` (copied to the device once
    for device backends, unchanged for numpy); the layer bounds stay on the host."""
    return sorted_vis._replace(
        pu=backend.asarray(sorted_vis.pu), pv=backend.asarray(sorted_vis.pv),
        w=backend.asarray(sorted_vis.w), index=backend.asarray(sorted_vis.index),
        values=tuple(backend.asarray(v) for v in sorted_vis.values))


def layer_span(sorted_vis: SortedVisibilities, layer: int) -> tuple[int, int]:
    """(start, stop) of the entries of ``layer`` in the gridding order."""
    n = sorted_vis.n_groups
    return int(sorted_vis.bounds[layer * n]), int(sorted_vis.bounds[(layer + 1) * n])


def group_span(sorted_vis: SortedVisibilities, layer: int, group: int | None) -> tuple[int, int]:
    """(start, stop) of the entries of row group ``group`` of ``layer`` (the whole layer for
    ``None``)."""
    if group is None:
        return layer_span(sorted_vis, layer)
    k = layer * sorted_vis.n_groups + group
    return int(sorted_vis.bounds[k]), int(sorted_vis.bounds[k + 1])


def new_grids(plan: GridPlan, dtype: np.dtype, backend: Backend) -> np.ndarray:
    """Zero (plan.n_grids, G, G) grids of ``dtype`` on ``backend``."""
    return backend.zeros((plan.n_grids, plan.ngrid, plan.ngrid), dtype=dtype)


def grid_layer(
    sorted_vis: SortedVisibilities,
    which: int | np.ndarray,
    plan: GridPlan,
    layer: int,
    grid: np.ndarray | None = None,
) -> tuple[np.ndarray | None, int]:
    """Grid one layer of value array ``which`` (an index into ``sorted_vis.values``, or a complex
    (nsel,) array in the same order); the grids are allocated on first use.

    ``grid`` is (plan.n_grids, G, G): the layer grid and, for plans with the first-order Fresnel
    correction, its companion. Returned unchanged (possibly None) when the layer is empty.
    """
    lo, hi = layer_span(sorted_vis, layer)
    if hi == lo:
        return grid, 0
    values = sorted_vis.values[which] if isinstance(which, int) else which
    backend = backend_for(sorted_vis.pu)
    if grid is None:
        grid = new_grids(plan, grid_dtype(values), backend)
    dropped = backend.grid(sorted_vis.pu, sorted_vis.pv, sorted_vis.w, values, grid,
                           table=plan.table, w_layer=float(plan.layer_centers[layer]),
                           chirp=plan.chirp, span=(lo, hi))
    return grid, dropped


def grid_residual_layer(
    sorted_vis: SortedVisibilities,
    model_grids: np.ndarray,
    plan: GridPlan,
    layer: int,
    grid: np.ndarray | None = None,
    group: int | None = None,
    which: int = 0,
) -> tuple[np.ndarray | None, int]:
    """Grid one layer of the residual visibilities ``values[which] - values[1] x model``.

    ``model_grids`` is the layer's model grid from :func:`model_layer_grids`; the model
    visibilities are interpolated and subtracted visibility by visibility, never stored.
    With ``group`` only that row group's visibilities of the layer are gridded.
    """
    lo, hi = group_span(sorted_vis, layer, group)
    if hi == lo:
        return grid, 0
    backend = backend_for(sorted_vis.pu)
    if grid is None:
        grid = new_grids(plan, model_grids.dtype, backend)
    dropped = backend.grid_residual(sorted_vis.pu, sorted_vis.pv, sorted_vis.w,
                                    sorted_vis.values[which], sorted_vis.values[1], model_grids,
                                    grid, table=plan.table,
                                    w_layer=float(plan.layer_centers[layer]), chirp=plan.chirp,
                                    span=(lo, hi))
    return grid, dropped


def degrid_layer(
    sorted_vis: SortedVisibilities,
    model_grids: np.ndarray,
    plan: GridPlan,
    layer: int,
    out: np.ndarray,
    group: int | None = None,
) -> np.ndarray:
    """Add the model visibilities of one layer (of its row group ``group``, if given) to ``out``
    (complex (row, chan), original order)."""
    lo, hi = group_span(sorted_vis, layer, group)
    if hi > lo:
        backend_for(sorted_vis.pu).degrid(
            sorted_vis.pu, sorted_vis.pv, sorted_vis.w, sorted_vis.index, model_grids,
            table=plan.table, w_layer=float(plan.layer_centers[layer]), chirp=plan.chirp,
            span=(lo, hi), out=out)
    return out


def add_layer_to_image(
    image: np.ndarray, grid: np.ndarray, plan: GridPlan, layer: int, *, nthreads: int = 1
) -> np.ndarray:
    """FFT the layer's grids in place and add its real, w-phased image to ``image``."""
    backend = backend_for(grid)
    backend.fft(grid, forward=True, nthreads=nthreads)
    return backend.accumulate_layer(image, grid, cell=plan.cell,
                                    w_layer=float(plan.layer_centers[layer]), alpha=plan.alpha,
                                    nthreads=nthreads)


def model_layer_grids(
    corrected_model: np.ndarray, plan: GridPlan, layer: int, *, dtype: np.dtype | type =
    np.complex64, nthreads: int = 1,
) -> np.ndarray:
    """The layer's model grids: the grid-corrected model spread with its w phase, adjoint FFT'd.

    ``corrected_model`` (nx, ny) is the model image divided by the grid correction
    (:func:`apply_grid_correction` of a copy); degridding these grids gives the model
    visibilities of the layer's visibilities.
    """
    backend = backend_for(corrected_model)
    grids = new_grids(plan, np.dtype(dtype), backend)
    backend.spread_layer(corrected_model, grids, cell=plan.cell,
                         w_layer=float(plan.layer_centers[layer]), alpha=plan.alpha,
                         nthreads=nthreads)
    return backend.fft(grids, forward=False, nthreads=nthreads)


def apply_grid_correction(image: np.ndarray, plan: GridPlan) -> np.ndarray:
    """Divide ``image`` (nx, ny) in place by the separable anti-aliasing correction."""
    backend = backend_for(image)
    gx, gy = (backend.asarray(g) for g in plan.grid_correction())
    image /= gx[:, None]
    image /= gy[None, :]
    return image


def dirty_image(
    uvw: np.ndarray, freq: np.ndarray, vis: np.ndarray, plan: GridPlan, *, nthreads: int = 1
) -> tuple[np.ndarray, int]:
    """Unnormalised dirty image sum_k Re{V_k exp(-2 pi i (u l + v m + w (n - 1)))}.

    Parameters
    ----------
    uvw
        float64 (row, 3) metres (host array).
    freq
        float64 (chan,) Hz (host array).
    vis
        complex (row, chan) weighted visibilities (weights already multiplied in): a numpy
        array, or a device (cupy) array to grid on the device.
    plan
        Gridding plan.
    nthreads
        Threads for the FFT.

    Returns
    -------
    image : numpy.ndarray or device array
        float64 (nx, ny) of the backend of ``vis``, indexed [x, y] (l decreasing along x).
    dropped : int
        Visibilities outside the grid.
    """
    backend = backend_for(vis)
    host = backend.to_numpy(vis)
    sorted_vis = to_backend(sort_for_plan(uvw, freq, (host,), plan, mask=host != 0), backend)
    image = backend.zeros((plan.nx, plan.ny), dtype=np.float64)
    dropped = 0
    for layer in range(plan.n_layers):
        grid, n = grid_layer(sorted_vis, 0, plan, layer)
        dropped += n
        if grid is not None:
            add_layer_to_image(image, grid, plan, layer, nthreads=nthreads)
    return apply_grid_correction(image, plan), dropped


def predict_visibilities(
    image: np.ndarray,
    uvw: np.ndarray,
    freq: np.ndarray,
    plan: GridPlan,
    *,
    dtype: np.dtype | type = np.complex64,
    nthreads: int = 1,
) -> np.ndarray:
    """Model visibilities of ``image``: the exact adjoint of :func:`dirty_image`.

    V_k = sum_{x,y} I(x, y) exp(+2 pi i (u l + v m + w (n - 1))), up to the gridding accuracy.
    ``image`` (nx, ny) may be a numpy or a device (cupy) array; ``uvw`` and ``freq`` are host
    arrays.

    Returns
    -------
    numpy.ndarray or device array
        complex (row, chan) of ``dtype``, of the backend of ``image``.
    """
    backend = backend_for(image)
    out = backend.zeros((uvw.shape[0], freq.shape[0]), dtype=dtype)
    sorted_vis = to_backend(sort_for_plan(uvw, freq, (), plan), backend)
    corrected = apply_grid_correction(image.astype(np.float64), plan)
    for layer in range(plan.n_layers):
        lo, hi = layer_span(sorted_vis, layer)
        if hi == lo:
            continue
        grids = model_layer_grids(corrected, plan, layer, dtype=grid_dtype(out),
                                  nthreads=nthreads)
        degrid_layer(sorted_vis, grids, plan, layer, out)
    return out
