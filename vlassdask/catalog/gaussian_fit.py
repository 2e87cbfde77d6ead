"""Least-squares decomposition of one island into elliptical Gaussians.

Pixel convention: arrays are indexed ``[x, y]`` with RA increasing towards smaller x (the image
schema's orientation), so a position angle east of north turns from +y towards -x. A Gaussian is
``(amplitude, x, y, sigma_major, sigma_minor, theta)`` in pixels and radians (theta: that PA).

The decomposition starts from one Gaussian of the beam's shape on the brightest pixel; while the
residual still holds an island pixel above ``thresh_pix`` sigma, a Gaussian is added there and all
are refitted (Levenberg-Marquardt, :func:`vlassdask.kernels.gaussians.fit_gaussians`, residuals
weighted by the local rms; numba without the GIL, so the fits of several islands run in parallel
threads). Gaussians that fail PyBDSF-like checks (peak below ``flag_minsnr * thresh_pix`` sigma,
centre outside the island's bounding box, larger than twice the island, or collapsed below a
third of a pixel) are dropped and the rest refitted.
"""

from __future__ import annotations

import numpy as np

from vlassdask.kernels.gaussians import fit_gaussians, gaussian_sum

PARAMS = 6
MIN_SIGMA_PIXELS = 1.0 / 3.0
#: Jacobian evaluations per parameter and relative tolerance of the fits (passed explicitly:
#: numba dispatches calls that omit arguments through its slow path).
MAX_ITERATIONS, TOLERANCE = 100, 1e-10


def gaussian_model(params: np.ndarray, dx: np.ndarray, dy: np.ndarray) -> np.ndarray:
    """Sum of the Gaussians ``params`` (n, 6) at pixel positions ``dx``, ``dy`` (same shape)."""
    x, y = np.broadcast_arrays(np.asarray(dx, dtype=np.float64), np.asarray(dy, dtype=np.float64))
    flat = gaussian_sum(np.ascontiguousarray(params, dtype=np.float64).ravel(), x.ravel(),
                        y.ravel())  # fmt: skip
    return flat.reshape(x.shape)


def normalise(params: np.ndarray) -> np.ndarray:
    """Gaussians with ``sigma_major >= sigma_minor > 0`` and theta in [0, pi)."""
    out = np.reshape(np.array(params, dtype=np.float64), (-1, PARAMS))
    out[:, 3:5] = np.abs(out[:, 3:5])
    swap = out[:, 4] > out[:, 3]
    out[swap, 3], out[swap, 4] = out[swap, 4], out[swap, 3].copy()
    out[swap, 5] += np.pi / 2
    out[:, 5] = np.mod(out[:, 5], np.pi)
    return out


def _fit(start: np.ndarray, x: np.ndarray, y: np.ndarray, data: np.ndarray, weight: np.ndarray,
         shape: tuple[int, int]) -> np.ndarray:  # fmt: skip
    """Levenberg-Marquardt with the analytic Jacobian (:func:`fit_gaussians`), unbounded;
    bounded (amplitude >= 0, centre inside the cut-out, sigma >= 1/6 pixel) when the island has
    fewer pixels than parameters."""
    begin = np.asarray(start, dtype=np.float64).ravel()
    n = start.shape[0]
    if x.size >= begin.size:
        low, high = np.full(begin.size, -np.inf), np.full(begin.size, np.inf)
    else:
        low = np.tile([0.0, -0.5, -0.5, MIN_SIGMA_PIXELS * 0.5, MIN_SIGMA_PIXELS * 0.5, -np.inf], n)
        high = np.tile([np.inf, shape[0] - 0.5, shape[1] - 0.5, np.inf, np.inf, np.inf], n)
    fitted = fit_gaussians(begin, x.astype(np.float64), y.astype(np.float64),
                           np.asarray(data, dtype=np.float64), np.asarray(weight, dtype=np.float64),
                           low, high, MAX_ITERATIONS, TOLERANCE)  # fmt: skip
    return normalise(fitted)


def _keep(params: np.ndarray, rms: float, box: tuple[int, int, int, int], thresh: float
          ) -> np.ndarray:  # fmt: skip
    """Mask of Gaussians passing the checks of the module docstring."""
    x0, x1, y0, y1 = box
    size = max(x1 - x0, y1 - y0)
    return ((params[:, 0] >= thresh * rms)
            & (params[:, 1] >= x0 - 0.5) & (params[:, 1] <= x1 - 0.5)
            & (params[:, 2] >= y0 - 0.5) & (params[:, 2] <= y1 - 0.5)
            & (params[:, 3] * 2.3548 <= 2.0 * size + 2.0)
            & (params[:, 4] >= MIN_SIGMA_PIXELS))  # fmt: skip


def fit_island(data: np.ndarray, rms: np.ndarray, island: np.ndarray,
               beam_sigma: tuple[float, float, float], *, thresh_pix: float,
               flag_minsnr: float, max_gaussians: int) -> np.ndarray:  # fmt: skip
    """Decompose one island into Gaussians.

    Parameters
    ----------
    data
        (nx, ny) cut-out, background mean subtracted.
    rms
        (nx, ny) local rms.
    island
        (nx, ny) bool: the island's pixels.
    beam_sigma
        Restoring beam ``(sigma_major, sigma_minor, theta)`` in pixels and radians.
    thresh_pix, flag_minsnr, max_gaussians
        See :class:`vlassdask.catalog.config.CatalogConfig`.

    Returns
    -------
    numpy.ndarray
        (n, 6) Gaussians in cut-out pixel coordinates (n >= 0), brightest first.
    """
    xs, ys = np.nonzero(island)
    values, noise = data[xs, ys], rms[xs, ys]
    weight = 1.0 / noise
    box = (int(xs.min()), int(xs.max()) + 1, int(ys.min()), int(ys.max()) + 1)
    island_rms = float(np.mean(noise))
    params = np.empty((0, PARAMS))
    residual = values.copy()
    for _ in range(max_gaussians):
        k = int(np.argmax(residual / noise))
        if params.shape[0] and residual[k] / noise[k] < thresh_pix:
            break
        guess = [max(residual[k], 0.0), xs[k], ys[k], *beam_sigma]
        params = _fit(np.vstack([params, guess]), xs, ys, values, weight, data.shape)
        residual = values - gaussian_model(params, xs, ys)
    keep = _keep(params, island_rms, box, flag_minsnr * thresh_pix)
    if not keep.all() and keep.any():
        params = _fit(params[keep], xs, ys, values, weight, data.shape)
        params = params[_keep(params, island_rms, box, flag_minsnr * thresh_pix)]
    elif not keep.any():
        params = params[keep]
    return params[np.argsort(-params[:, 0])]
