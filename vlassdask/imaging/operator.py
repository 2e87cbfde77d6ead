"""In-memory w-layered gridding operator: visibilities <-> dirty image, and its adjoint.

These functions work on numpy arrays of one block of visibilities (the dask orchestration in
:mod:`vlassdask.imaging.dirty` calls them per row chunk). Memory model: one (G, G) complex grid
(G = plan.ngrid; two with the first-order Fresnel correction) plus one (nx, ny) float64 image,
plus the visibilities gathered in gridding order (~32 bytes + 8 per value array per
visibility); the FFT is done in place.
"""

from __future__ import annotations

import ducc0
import numpy as np

from vlassdask.imaging.wplan import GridPlan
from vlassdask.kernels.gridder import degrid_visibilities, grid_visibilities
from vlassdask.kernels.layers import accumulate_layer, spread_layer
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
) -> SortedVisibilities:
    """Gather ``values`` (complex (row, chan) arrays) in the gridding order of ``plan``.

    ``mask`` (bool (row, chan)) selects the visibilities to keep (default: all).
    """
    return sort_visibilities(uvw, freq, values, mask=mask, layer_width=plan.layer_width,
                             n_layers=plan.n_layers, cell=plan.cell, ngrid=plan.ngrid)


def grid_layer(
    sorted_vis: SortedVisibilities,
    which: int,
    plan: GridPlan,
    layer: int,
    grid: np.ndarray | None = None,
) -> tuple[np.ndarray | None, int]:
    """Grid value array ``which`` of one layer; the grids are allocated on first use.

    ``grid`` is (plan.n_grids, G, G): the layer grid and, for plans with the first-order Fresnel
    correction, its companion. Returned unchanged (possibly None) when the layer is empty.
    """
    lo, hi = int(sorted_vis.bounds[layer]), int(sorted_vis.bounds[layer + 1])
    if hi == lo:
        return grid, 0
    values = sorted_vis.values[which]
    if grid is None:
        grid = np.zeros((plan.n_grids, plan.ngrid, plan.ngrid), dtype=grid_dtype(values))
    dropped = grid_visibilities(sorted_vis.pu, sorted_vis.pv, sorted_vis.w, values, grid,
                                table=plan.table, w_layer=float(plan.layer_centers[layer]),
                                chirp=plan.chirp, span=(lo, hi))
    return grid, dropped


def add_layer_to_image(
    image: np.ndarray, grid: np.ndarray, plan: GridPlan, layer: int, *, nthreads: int = 1
) -> np.ndarray:
    """FFT the layer's grids in place and add its real, w-phased image to ``image``."""
    ducc0.fft.c2c(grid, axes=(1, 2), forward=True, out=grid, nthreads=nthreads)
    return accumulate_layer(image, grid, cell=plan.cell, w_layer=float(plan.layer_centers[layer]),
                            alpha=plan.alpha)


def apply_grid_correction(image: np.ndarray, plan: GridPlan) -> np.ndarray:
    """Divide ``image`` (nx, ny) in place by the separable anti-aliasing correction."""
    gx, gy = plan.grid_correction()
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
        float64 (row, 3) metres.
    freq
        float64 (chan,) Hz.
    vis
        complex (row, chan) weighted visibilities (weights already multiplied in).
    plan
        Gridding plan.
    nthreads
        Threads for the FFT.

    Returns
    -------
    image : numpy.ndarray
        float64 (nx, ny), indexed [x, y] (l decreasing along x).
    dropped : int
        Visibilities outside the grid.
    """
    sorted_vis = sort_for_plan(uvw, freq, (vis,), plan, mask=vis != 0)
    image = np.zeros((plan.nx, plan.ny), dtype=np.float64)
    grid = np.zeros((plan.n_grids, plan.ngrid, plan.ngrid), dtype=grid_dtype(vis))
    dropped = 0
    for layer in range(plan.n_layers):
        if sorted_vis.bounds[layer + 1] == sorted_vis.bounds[layer]:
            continue
        grid[...] = 0
        _, n = grid_layer(sorted_vis, 0, plan, layer, grid)
        dropped += n
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

    Returns
    -------
    numpy.ndarray
        complex (row, chan) of ``dtype``.
    """
    out = np.zeros((uvw.shape[0], freq.shape[0]), dtype=dtype)
    sorted_vis = sort_for_plan(uvw, freq, (), plan)
    corrected = apply_grid_correction(np.array(image, dtype=np.float64), plan)
    grid = np.zeros((plan.n_grids, plan.ngrid, plan.ngrid), dtype=grid_dtype(out))
    for layer in range(plan.n_layers):
        lo, hi = int(sorted_vis.bounds[layer]), int(sorted_vis.bounds[layer + 1])
        if hi == lo:
            continue
        grid[...] = 0
        w_layer = float(plan.layer_centers[layer])
        spread_layer(corrected, grid, cell=plan.cell, w_layer=w_layer, alpha=plan.alpha)
        ducc0.fft.c2c(grid, axes=(1, 2), forward=False, out=grid, nthreads=nthreads)
        degrid_visibilities(sorted_vis.pu, sorted_vis.pv, sorted_vis.w, sorted_vis.index, grid,
                            table=plan.table, w_layer=w_layer, chirp=plan.chirp,
                            span=(lo, hi), out=out)
    return out
