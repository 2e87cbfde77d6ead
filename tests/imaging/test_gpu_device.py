"""On a CUDA device (cupy): the dirty image and a residual equal the CPU path's to 1e-5 of the
peak on a 4096^2 w-projection case. Skipped without cupy or a device."""

from __future__ import annotations

import math

import numpy as np
import pytest

from vlassdask.imaging.backend import NUMPY_BACKEND, backend_for, resolve_backend
from vlassdask.imaging.operator import (
    add_layer_to_image,
    apply_grid_correction,
    dirty_image,
    grid_residual_layer,
    model_layer_grids,
    sort_for_plan,
    to_backend,
)
from vlassdask.imaging.wplan import plan_gridding
from vlassdask.kernels.constants import SPEED_OF_LIGHT

cupy = pytest.importorskip("cupy", reason="needs cupy (pip install 'vlassdask[gpu]')")
pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(resolve_backend("auto") is NUMPY_BACKEND,
                       reason="needs cupy and a CUDA device"),
]
N = 4096
ARCSEC = math.pi / 180 / 3600


@pytest.fixture(scope="module")
def case():
    rng = np.random.default_rng(12)
    freq = np.linspace(2.0e9, 4.0e9, 8)
    cell = 1.0 * ARCSEC
    umax = 0.45 / cell / (freq.max() / SPEED_OF_LIGHT)
    uvw = rng.uniform(-1, 1, size=(200_000, 3)) * np.array([umax, umax, 0.5 * umax])
    vis = (rng.normal(size=(200_000, 8)) + 1j * rng.normal(size=(200_000, 8))).astype(
        np.complex64)
    w_max = np.abs(uvw[:, 2]).max() * freq.max() / SPEED_OF_LIGHT
    plan = plan_gridding(N, N, cell, w_max, gridder="wproject", epsilon=1e-5,
                         n_vis=vis.size)
    assert plan.w_projection
    return uvw, freq, vis, plan


def _residual(uvw, freq, vis, model, plan):
    """The fused residual path of the imaging operator, on the backend of ``model``."""
    backend = backend_for(model)
    host = backend.to_numpy(vis)
    weights = (host != 0).astype(np.complex64)
    sv = to_backend(sort_for_plan(uvw, freq, (host, weights), plan, mask=host != 0), backend)
    corrected = apply_grid_correction(model.astype(np.float64), plan)
    image = backend.zeros((plan.nx, plan.ny), dtype=np.float64)
    for layer in range(plan.n_layers):
        grids = model_layer_grids(corrected, plan, layer)
        grid, _ = grid_residual_layer(sv, grids, plan, layer)
        if grid is not None:
            add_layer_to_image(image, grid, plan, layer, nthreads=8)
    return backend.to_numpy(apply_grid_correction(image, plan))


def test_dirty_image_equals_cpu(case):
    uvw, freq, vis, plan = case
    cpu, _ = dirty_image(uvw, freq, vis, plan, nthreads=8)
    gpu, _ = dirty_image(uvw, freq, cupy.asarray(vis), plan)
    assert isinstance(gpu, cupy.ndarray)
    assert np.abs(cupy.asnumpy(gpu) - cpu).max() <= 1e-5 * np.abs(cpu).max()


def test_residual_equals_cpu(case):
    uvw, freq, vis, plan = case
    model = np.zeros((N, N))
    model[2048, 2048], model[300, 3900], model[3500, 700] = 1.0, 0.5, -0.2
    cpu = _residual(uvw, freq, vis, model, plan)
    gpu = _residual(uvw, freq, cupy.asarray(vis), cupy.asarray(model), plan)
    assert np.abs(gpu - cpu).max() <= 1e-5 * np.abs(cpu).max()
