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
