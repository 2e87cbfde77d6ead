"""The CUDA kernels equal the CPU kernels (2-D and w modes, float32 precision), are adjoint,
and are what the backend seam dispatches to for device arrays.

Problems are tiny (32 x 32 images, a few hundred visibilities): the simulator runs every CUDA
thread as a Python thread.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from vlassdask.imaging.backend import backend_for
from vlassdask.imaging.backend_cuda import SIMULATOR_BACKEND, SimulatedDeviceArray
from vlassdask.imaging.operator import dirty_image, predict_visibilities, sort_for_plan
from vlassdask.imaging.wplan import plan_gridding
from vlassdask.kernels import cuda_gridder, cuda_layers, gridder, layers
from vlassdask.kernels.constants import SPEED_OF_LIGHT

ARCSEC = math.pi / 180 / 3600
N = 32
#: float32 precision, relative to the largest value
TOL = 2e-6
MODES = [("2d", False), ("wproject", False), ("wproject", True)]


def _data(seed: int, nrow: int = 150):
    rng = np.random.default_rng(seed)
    freq = np.array([2.5e9, 3.5e9])
    cell = 4.0 * ARCSEC
    umax = 0.4 / cell / (freq.max() / SPEED_OF_LIGHT)
    uvw = rng.uniform(-1, 1, size=(nrow, 3)) * np.array([umax, umax, 0.7 * umax])
    vis = (rng.normal(size=(nrow, 2)) + 1j * rng.normal(size=(nrow, 2))).astype(np.complex64)
    return uvw, freq, vis, cell


def _plan(mode: str, first_order: bool, uvw, freq, cell):
    w_max = np.abs(uvw[:, 2]).max() * freq.max() / SPEED_OF_LIGHT
    plan = plan_gridding(N, N, cell, w_max, gridder=mode, epsilon=1e-4,
                         n_layers=None if mode == "2d" else 2)
    return replace(plan, first_order=first_order)


def _close(got, want, tol=TOL):
    assert np.abs(got - want).max() <= tol * np.abs(want).max()


@pytest.fixture(params=MODES, ids=["2d", "wproject", "wproject-fresnel"])
def problem(request):
    uvw, freq, vis, cell = _data(1)
    plan = _plan(*request.param, uvw, freq, cell)
    weights = np.abs(vis).astype(np.complex64)
    return plan, sort_for_plan(uvw, freq, (vis, weights), plan), uvw.shape[0]


def _layer_args(plan, layer: int) -> dict:
    return {"table": plan.table, "w_layer": float(plan.layer_centers[layer]),
            "chirp": plan.chirp}


def _grids(plan, seed=None):
    shape = (plan.n_grids, plan.ngrid, plan.ngrid)
    if seed is None:
        return np.zeros(shape, dtype=np.complex64)
    rng = np.random.default_rng(seed)
    return (rng.normal(size=shape) + 1j * rng.normal(size=shape)).astype(np.complex64)


def test_gridding_equals_cpu(problem):
    plan, sv, _ = problem
    for layer in range(plan.n_layers):
        span = (int(sv.bounds[layer]), int(sv.bounds[layer + 1]))
        cpu, gpu = _grids(plan), _grids(plan)
        args = {**_layer_args(plan, layer), "span": span}
        dropped = gridder.grid_visibilities(sv.pu, sv.pv, sv.w, sv.values[0], cpu, **args)
        assert cuda_gridder.grid_visibilities(sv.pu, sv.pv, sv.w, sv.values[0], gpu,
                                              **args) == dropped
        _close(gpu, cpu)


def test_degridding_equals_cpu(problem):
    plan, sv, nrow = problem
    model = _grids(plan, seed=5)
    cpu = np.zeros((nrow, 2), dtype=np.complex64)
    gpu = cpu.copy()
    for layer in range(plan.n_layers):
        args = {**_layer_args(plan, layer),
                "span": (int(sv.bounds[layer]), int(sv.bounds[layer + 1]))}
        gridder.degrid_visibilities(sv.pu, sv.pv, sv.w, sv.index, model, out=cpu, **args)
        cuda_gridder.degrid_visibilities(sv.pu, sv.pv, sv.w, sv.index, model, out=gpu, **args)
    _close(gpu, cpu)


def test_fused_residual_equals_cpu(problem):
    plan, sv, _ = problem
    model = _grids(plan, seed=6)
    cpu, gpu = _grids(plan), _grids(plan)
    args = {**_layer_args(plan, 0), "span": (int(sv.bounds[0]), int(sv.bounds[1]))}
    gridder.grid_residual_visibilities(sv.pu, sv.pv, sv.w, *sv.values, model, cpu, **args)
    cuda_gridder.grid_residual_visibilities(sv.pu, sv.pv, sv.w, *sv.values, model, gpu, **args)
    _close(gpu, cpu)


@pytest.mark.parametrize("n_grids,w_layer", [(1, 0.0), (1, 900.0), (2, 900.0)])
def test_layer_accumulation_and_spread_equal_cpu(n_grids, w_layer):
    plan = _plan("wproject", n_grids == 2, *_data(1)[:2], 4.0 * ARCSEC)
    grids = _grids(plan, seed=7)[:n_grids]
    args = {"cell": plan.cell, "w_layer": w_layer, "alpha": plan.alpha}
    cpu = layers.accumulate_layer(np.zeros((N, N)), grids, **args)
    _close(cuda_layers.accumulate_layer(np.zeros((N, N)), grids, **args), cpu)
    image = np.random.default_rng(8).normal(size=(N, N))
    cpu = layers.spread_layer(image, np.zeros_like(grids), **args)
    _close(cuda_layers.spread_layer(image, np.zeros_like(grids), **args), cpu)


def test_unordered_visibilities_take_the_global_atomic_path():
    """A run of visibilities spread over the whole grid does not fit a shared patch: the
    kernel adds to the global grid directly, with the same result."""
    uvw, freq, vis, cell = _data(2, nrow=300)
    plan = _plan("2d", False, uvw, freq, cell)
    sv = sort_for_plan(uvw, freq, (vis,), plan)
    order = np.random.default_rng(3).permutation(sv.pu.size)
    pu, pv, w, values = sv.pu[order], sv.pv[order], sv.w[order], sv.values[0][order]
    cpu, gpu = _grids(plan), _grids(plan)
    gridder.grid_visibilities(pu, pv, w, values, cpu, table=plan.table)
    cuda_gridder.grid_visibilities(pu, pv, w, values, gpu, table=plan.table)
    _close(gpu, cpu)


@pytest.mark.parametrize("mode,first_order", MODES, ids=["2d", "wproject", "wproject-fresnel"])
def test_device_path_is_adjoint_and_equals_cpu(mode, first_order):
    """<dirty(v), x> = Re<v, predict(x)> through the backend seam on simulated device arrays,
    and both equal the CPU path."""
    uvw, freq, vis, cell = _data(4)
    plan = _plan(mode, first_order, uvw, freq, cell)
    x = np.random.default_rng(9).normal(size=(N, N))
    image, dropped = dirty_image(uvw, freq, SIMULATOR_BACKEND.asarray(vis), plan)
    model = predict_visibilities(SIMULATOR_BACKEND.asarray(x), uvw, freq, plan)
    assert isinstance(image, SimulatedDeviceArray) and isinstance(model, SimulatedDeviceArray)
    assert dropped == 0
    lhs = float(np.vdot(image.ravel(), x.ravel()))
    rhs = float(np.real(np.vdot(vis.astype(np.complex128).ravel(), model.ravel())))
    assert abs(lhs - rhs) <= 2e-6 * np.sqrt(np.sum(image**2) * np.sum(x**2))
    _close(np.asarray(image), dirty_image(uvw, freq, vis, plan)[0])
    _close(np.asarray(model), predict_visibilities(x, uvw, freq, plan))


def test_dispatch_selects_the_device_backend():
    device_array = SIMULATOR_BACKEND.zeros((4,), dtype=np.float64)
    assert type(device_array) is SimulatedDeviceArray
    assert backend_for(device_array) is SIMULATOR_BACKEND
    assert backend_for(device_array).grid is cuda_gridder.grid_visibilities
    assert backend_for(np.zeros(4)).grid is gridder.grid_visibilities
    assert type(SIMULATOR_BACKEND.to_numpy(device_array)) is np.ndarray


def test_support_beyond_the_device_limit_is_refused():
    uvw, freq, vis, cell = _data(1, nrow=10)
    plan = plan_gridding(N, N, cell, 1.0, gridder="2d", support=cuda_gridder.MAX_SUPPORT + 2)
    sv = sort_for_plan(uvw, freq, (vis,), plan)
    with pytest.raises(ValueError, match="exceeds"):
        cuda_gridder.grid_visibilities(sv.pu, sv.pv, sv.w, sv.values[0], _grids(plan),
                                       table=plan.table)
