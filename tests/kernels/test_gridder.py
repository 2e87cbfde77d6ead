"""Gridder/degridder adjointness, kernel accuracy and planner choices."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from vlassdask.errors import ConfigError
from vlassdask.imaging.operator import dirty_image, predict_visibilities
from vlassdask.imaging.wplan import fresnel_fit, plan_gridding
from vlassdask.kernels.antialias import choose_es_kernel
from vlassdask.kernels.constants import SPEED_OF_LIGHT
from vlassdask.kernels.dft import dft_dirty_image
from vlassdask.kernels.wkernels import chirp_kernels

ARCSEC = math.pi / 180 / 3600


def _random_data(seed: int, nrow: int = 3000, nchan: int = 3, dtype=np.complex64):
    rng = np.random.default_rng(seed)
    freq = np.linspace(2.0e9, 4.0e9, nchan)
    cell = 4.0 * ARCSEC
    umax = 0.4 / cell / (freq.max() / SPEED_OF_LIGHT)
    uvw = rng.uniform(-1, 1, size=(nrow, 3)) * np.array([umax, umax, 0.7 * umax])
    vis = (rng.normal(size=(nrow, nchan)) + 1j * rng.normal(size=(nrow, nchan))).astype(dtype)
    return uvw, freq, vis, cell


@pytest.mark.parametrize("gridder,first_order", [("2d", False), ("wproject", False),
                                                  ("wproject", True)])
def test_degridder_is_the_adjoint_of_the_gridder(gridder, first_order):
    """<D c, x> = Re<c, D^H x> to float32 precision (D: visibilities -> real dirty image),
    also with the first-order Fresnel companion grid."""
    uvw, freq, vis, cell = _random_data(1)
    n = 256
    w_max = np.abs(uvw[:, 2]).max() * freq.max() / SPEED_OF_LIGHT
    plan = plan_gridding(n, n, cell, w_max, gridder=gridder, epsilon=1e-5)
    assert plan.w_projection == (gridder == "wproject")
    plan = replace(plan, first_order=first_order)
    x = np.random.default_rng(2).normal(size=(n, n))
    image, dropped = dirty_image(uvw, freq, vis, plan)
    assert dropped == 0
    model = predict_visibilities(x, uvw, freq, plan, dtype=np.complex64)
    lhs = float(np.vdot(image.ravel(), x.ravel()))
    rhs = float(np.real(np.vdot(vis.astype(np.complex128).ravel(), model.ravel())))
    assert abs(lhs - rhs) <= 2e-6 * np.sqrt(np.sum(image**2) * np.sum(x**2))


def test_predict_matches_direct_fourier_sum():
    """Degridding a model image gives V = sum I exp(+2 pi i (u l + v m + w (n - 1)))."""
    uvw, freq, _, cell = _random_data(3, nrow=400)
    n = 128
    model = np.zeros((n, n))
    pix = [(10, 100), (64, 64), (120, 7)]
    for x, y in pix:
        model[x, y] = 1.0
    w_max = np.abs(uvw[:, 2]).max() * freq.max() / SPEED_OF_LIGHT
    plan = plan_gridding(n, n, cell, w_max, gridder="wproject", epsilon=1e-6,
                         single_precision=False)
    got = predict_visibilities(model, uvw, freq, plan, dtype=np.complex128)
    expect = np.zeros_like(got)
    for x, y in pix:
        l, m = -(x - n // 2) * cell, (y - n // 2) * cell
        nm1 = math.sqrt(1 - l * l - m * m) - 1
        phase = uvw[:, 0:1] * l + uvw[:, 1:2] * m + uvw[:, 2:3] * nm1
        expect += np.exp(2j * np.pi * phase * freq[None, :] / SPEED_OF_LIGHT)
    assert np.abs(got - expect).max() <= 1e-4 * len(pix)


def test_chirp_free_kernel_table_is_the_antialiasing_kernel():
    kernel = choose_es_kernel(1e-5, 2.0)
    table = chirp_kernels(kernel, np.array([0.0]), support=kernel.width + 2, oversample=64)[0]
    t = -0.5 * (kernel.width + 2) + np.arange(table.size) / 64
    assert np.abs(table - kernel.evaluate(t)).max() < 1e-5


@pytest.mark.parametrize("epsilon", [1e-3, 1e-5, 1e-7])
def test_kernel_choice_meets_epsilon(epsilon):
    kernel = choose_es_kernel(epsilon, 2.0)
    assert kernel.aliasing_error(2.0) <= epsilon
    assert kernel.width <= 12


def test_fresnel_fit_beats_taylor_over_the_disc():
    r2 = (1.0 * math.pi / 180) ** 2
    alpha, err = fresnel_fit(r2)
    s = np.linspace(0, r2, 1001)
    exact = 1 - np.sqrt(1 - s)
    assert np.abs(exact - alpha * s).max() == pytest.approx(err, rel=1e-2)
    assert err < np.abs(exact - 0.5 * s).max() / 5


def test_planner_picks_2d_when_w_term_is_negligible_and_w_projection_otherwise():
    small = plan_gridding(256, 256, 1 * ARCSEC, 2.0)  # 2 pi w |n - 1| ~ 5e-6 < epsilon
    assert not small.w_projection
    wide = plan_gridding(2048, 2048, 2 * ARCSEC, 50000.0)
    assert wide.w_projection and wide.table.n_planes > 1
    forced = plan_gridding(2048, 2048, 2 * ARCSEC, 50000.0, w_planes=1)
    assert not forced.w_projection
    classic = plan_gridding(1024, 1024, 2 * ARCSEC, 20000.0, gridder="wproject", n_layers=1,
                            epsilon=1e-3)
    assert classic.n_layers == 1 and classic.table.support > classic.kernel.width


def test_first_order_fresnel_correction_keeps_wide_fields_exact():
    """A 4 deg field imaged with few w-layers: the first-order grid removes the error of the
    separable (quadratic) w-kernels; without it the same layers miss epsilon by far."""
    rng = np.random.default_rng(7)
    freq = np.array([2.0e9, 2.5e9])
    cell = 20 * ARCSEC
    n = 720
    umax = 0.4 / cell / (freq.max() / SPEED_OF_LIGHT)
    uvw = rng.uniform(-1, 1, size=(300, 3)) * np.array([umax, umax, 0.5 * umax])
    vis = rng.normal(size=(300, 2)) + 1j * rng.normal(size=(300, 2))
    w_max = np.abs(uvw[:, 2]).max() * freq.max() / SPEED_OF_LIGHT
    x, y = rng.integers(0, n, 200), rng.integers(0, n, 200)
    ref = dft_dirty_image(uvw, freq, vis, np.ones(vis.shape), -(x - n // 2) * cell,
                          (y - n // 2) * cell) * vis.size
    plan = plan_gridding(n, n, cell, w_max, gridder="wproject", epsilon=1e-5, n_layers=2,
                         single_precision=False)
    assert plan.first_order
    image, _ = dirty_image(uvw, freq, vis, plan)
    assert np.abs(image[x, y] - ref).max() <= 1e-4 * np.abs(ref).max()
    plain = replace(plan, first_order=False)
    image0, _ = dirty_image(uvw, freq, vis, plain)
    assert np.abs(image0[x, y] - ref).max() > 10 * np.abs(image[x, y] - ref).max()


def test_planner_keeps_single_precision_paddings_accurate():
    """Small paddings amplify float32 rounding at the image edge: not used for epsilon 1e-5."""
    plan = plan_gridding(2048, 2048, ARCSEC, 1.0, gridder="2d", epsilon=1e-5, n_vis=10)
    assert plan.ngrid / 2048 >= 1.5
    loose = plan_gridding(2048, 2048, ARCSEC, 1.0, gridder="2d", epsilon=1e-3, n_vis=10)
    assert loose.ngrid / 2048 < 1.5  # FFT-bound: the cheapest (smallest) grid
    with pytest.raises(ConfigError, match="single-precision"):
        plan_gridding(256, 256, ARCSEC, 1.0, epsilon=1e-7)


@pytest.mark.parametrize("kwargs", [dict(nx=255), dict(epsilon=1.0), dict(padding=5.0),
                                    dict(gridder="fft"), dict(n_layers=0)])
def test_planner_rejects_bad_parameters(kwargs):
    args = dict(nx=256, ny=256, cell=ARCSEC, w_max=1000.0)
    args.update(kwargs)
    with pytest.raises(ConfigError):
        plan_gridding(args.pop("nx"), args.pop("ny"), args.pop("cell"), args.pop("w_max"),
                      gridder=args.pop("gridder", "wproject"), **args)
