"""The numba Gaussian fit of the source finder against known parameters and scipy."""

from __future__ import annotations

import numpy as np
from scipy.optimize import least_squares

from vlassdask.kernels.gaussians import fit_gaussians, gaussian_sum


def _pixels(size: int) -> tuple[np.ndarray, np.ndarray]:
    x, y = np.meshgrid(np.arange(size, dtype=np.float64), np.arange(size, dtype=np.float64),
                       indexing="ij")  # fmt: skip
    return x.ravel(), y.ravel()


def test_gaussian_fit_recovers_a_noiseless_pair():
    x, y = _pixels(24)
    truth = np.array([3.0, 9.3, 11.2, 2.5, 1.6, 0.7, 1.5, 15.1, 12.4, 1.8, 1.4, 2.0])
    data = gaussian_sum(truth, x, y)
    start = truth * np.array([1.2, 1, 1, 1.2, 0.8, 1, 0.8, 1, 1, 0.9, 1.1, 1]) + 0.3
    inf = np.full(truth.size, np.inf)
    fitted = fit_gaussians(start, x, y, data, np.ones_like(x), -inf, inf, 100, 1e-10)
    np.testing.assert_allclose(fitted[:5], truth[:5], rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(fitted[6:11], truth[6:11], rtol=1e-6, atol=1e-6)
    turns = (fitted[[5, 11]] - truth[[5, 11]]) / np.pi  # theta is defined modulo pi
    np.testing.assert_allclose(turns, np.round(turns), atol=1e-6)


def test_gaussian_fit_agrees_with_scipy_least_squares_on_noise():
    x, y = _pixels(16)
    truth = np.array([1.0, 7.6, 8.3, 1.9, 1.3, 0.4])
    rng = np.random.default_rng(7)
    data = gaussian_sum(truth, x, y) + rng.normal(0.0, 0.1, x.size)
    weight = np.full(x.size, 10.0)
    start = np.array([0.8, 8.0, 8.0, 1.5, 1.5, 0.0])
    inf = np.full(truth.size, np.inf)
    ours = fit_gaussians(start, x, y, data, weight, -inf, inf, 100, 1e-10)
    scipy = least_squares(lambda p: (gaussian_sum(p, x, y) - data) * weight, start,
                          method="lm", xtol=1e-12, ftol=1e-12).x  # fmt: skip

    def cost(p: np.ndarray) -> float:
        return float(np.sum(((gaussian_sum(p, x, y) - data) * weight) ** 2))

    # the same minimum (MINPACK lets theta wander by many turns and swaps the axes, so compare
    # the cost, the amplitude and centre, and the axes sorted)
    assert cost(ours) <= cost(scipy) * (1 + 1e-9)
    np.testing.assert_allclose(ours[:3], scipy[:3], rtol=1e-4)
    np.testing.assert_allclose(np.sort(ours[3:5]), np.sort(scipy[3:5]), rtol=1e-4)
