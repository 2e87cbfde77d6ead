"""Numba kernels of sums of elliptical Gaussians and their Jacobian (for least-squares fits).

A Gaussian is ``(amplitude, x0, y0, sigma_major, sigma_minor, theta)`` in pixels and radians,
theta turning from +y towards -x (a position angle east of north in the image schema's
orientation): ``u = -(x - x0) sin(theta) + (y - y0) cos(theta)`` runs along the major axis,
``v = (x - x0) cos(theta) + (y - y0) sin(theta)`` along the minor axis, and the value is
``amplitude * exp(-(u^2 / sigma_major^2 + v^2 / sigma_minor^2) / 2)``.
"""

from __future__ import annotations

import numba
import numpy as np

PARAMS = 6


@numba.njit(cache=True, nogil=True)
def gaussian_sum(params, x, y):
    """Sum of the Gaussians ``params`` (6 n,) at the pixels ``x``, ``y`` (m,): (m,) float64."""
    out = np.zeros(x.size)
    for k in range(params.size // PARAMS):
        amp, x0, y0, smaj, smin, theta = params[PARAMS * k:PARAMS * (k + 1)]
        s, c = np.sin(theta), np.cos(theta)
        for i in range(x.size):
            dx, dy = x[i] - x0, y[i] - y0
            u = -dx * s + dy * c
            v = dx * c + dy * s
            out[i] += amp * np.exp(-0.5 * (u * u / (smaj * smaj) + v * v / (smin * smin)))
    return out


@numba.njit(cache=True, nogil=True)
def gaussian_jacobian(params, x, y, weight):
    """d(sum of Gaussians)/d(params) at the pixels, each row times ``weight``: (m, 6 n)."""
    jac = np.zeros((x.size, params.size))
    for k in range(params.size // PARAMS):
        amp, x0, y0, smaj, smin, theta = params[PARAMS * k:PARAMS * (k + 1)]
        s, c = np.sin(theta), np.cos(theta)
        a2, b2 = smaj * smaj, smin * smin
        j = PARAMS * k
        for i in range(x.size):
            dx, dy = x[i] - x0, y[i] - y0
            u = -dx * s + dy * c
            v = dx * c + dy * s
            e = np.exp(-0.5 * (u * u / a2 + v * v / b2)) * weight[i]
            g = amp * e
            jac[i, j] = e
            jac[i, j + 1] = g * (-u * s / a2 + v * c / b2)
            jac[i, j + 2] = g * (u * c / a2 + v * s / b2)
            jac[i, j + 3] = g * u * u / (a2 * smaj)
            jac[i, j + 4] = g * v * v / (b2 * smin)
            jac[i, j + 5] = g * u * v * (1.0 / a2 - 1.0 / b2)
    return jac


@numba.njit(cache=True, nogil=True)
def _weighted_cost(params, x, y, data, weight):
    model = gaussian_sum(params, x, y)
    cost = 0.0
    for i in range(x.size):
        r = (model[i] - data[i]) * weight[i]
        cost += r * r
    return cost


@numba.njit(cache=True, nogil=True)
def fit_gaussians(params, x, y, data, weight, low, high, max_iter=100, tol=1e-10):
    """Weighted least-squares fit of a sum of Gaussians (Levenberg-Marquardt, without the GIL).

    Minimises ``sum(((gaussian_sum(p, x, y) - data) * weight) ** 2)`` from ``params`` with
    Marquardt's scaling of the damping by the largest diagonal of ``J^T J`` met so far (MINPACK's
    ``lmder`` with ``x_scale="jac"``); trial points are clipped into ``[low, high]`` (use
    infinite bounds for an unbounded fit).

    Parameters
    ----------
    params
        (6 n,) start values.
    x, y, data, weight
        (m,) pixel positions, values and weights (1 / rms).
    low, high
        (6 n,) bounds.
    max_iter
        Most Jacobian evaluations per parameter.
    tol
        Stop when an accepted step lowers the cost by less than ``tol`` relative, or moves every
        parameter by less than ``tol`` relative.

    Returns
    -------
    numpy.ndarray
        (6 n,) fitted parameters.
    """
    p = np.minimum(np.maximum(params.copy(), low), high)
    npar = p.size
    model = gaussian_sum(p, x, y)
    r = (model - data) * weight
    cost = np.sum(r * r)
    scale = np.zeros(npar)
    damping = 1e-3
    for _ in range(max_iter * npar):
        jac = gaussian_jacobian(p, x, y, weight)
        a = jac.T @ jac
        g = jac.T @ r
        largest = 0.0
        for k in range(npar):
            scale[k] = max(scale[k], a[k, k])
            largest = max(largest, scale[k])
        floor = max(largest * 1e-14, 1e-300)
        improved = False
        while damping < 1e16:
            m = a.copy()
            for k in range(npar):
                m[k, k] += damping * max(scale[k], floor)
            step = np.linalg.solve(m, -g)
            trial = np.minimum(np.maximum(p + step, low), high)
            new_cost = _weighted_cost(trial, x, y, data, weight)
            if new_cost < cost:
                improved = True
                break
            damping *= 10.0
        if not improved:
            break
        moved = 0.0
        for k in range(npar):
            moved = max(moved, abs(trial[k] - p[k]) / (abs(p[k]) + tol))
        drop = (cost - new_cost) / max(cost, 1e-300)
        p = trial
        cost = new_cost
        r = (gaussian_sum(p, x, y) - data) * weight
        damping = max(damping * 0.1, 1e-12)
        if drop < tol or moved < tol:
            break
    return p
