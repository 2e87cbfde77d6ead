"""Numba kernels of the CLEAN minor cycle: Hogbom, Clark's active-set loop and multiscale.

All kernels work in place on float64 arrays indexed ``[x, y]``. The PSF (and each multiscale
cross-scale PSF) has the image's shape with its peak at ``(nx // 2, ny // 2)``; a component at
pixel ``(px, py)`` subtracts the PSF shifted so that its centre lies on that pixel, over the part
that overlaps the image. ``mask`` is a bool (nx, ny) array, True where components may be placed;
pixels outside it are still updated but never selected.

The peak search is fused with the subtraction: each pass over a row updates it and records that
row's masked maximum of ``|R|`` (``row_peak``, ``row_arg``), so rows the shifted PSF does not
reach keep their cached maximum and the next peak is the best of ``nx`` row maxima. One
iteration therefore costs one read-modify-write pass over the overlap, with no separate search.
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, nogil=True)
def _scan_row(image, mask, x, weight, row_peak, row_arg):
    """Set ``row_peak[x]`` / ``row_arg[x]`` to the masked max of ``weight * |image[x, :]|``."""
    best = -1.0
    arg = -1
    for y in range(image.shape[1]):
        if mask[x, y]:
            value = abs(image[x, y]) * weight
            if value > best:
                best = value
                arg = y
    row_peak[x] = best
    row_arg[x] = arg


@numba.njit(cache=True, nogil=True)
def _subtract_shifted(image, kernel, px, py, amplitude, mask, weight, row_peak, row_arg):
    """``image -= amplitude * kernel`` centred on (px, py), rescanning the rows it touches."""
    nx, ny = image.shape
    cx, cy = kernel.shape[0] // 2, kernel.shape[1] // 2
    x0, x1 = max(0, px - cx), min(nx, px - cx + kernel.shape[0])
    y0, y1 = max(0, py - cy), min(ny, py - cy + kernel.shape[1])
    for x in range(x0, x1):
        kx = x - px + cx
        for y in range(y0, y1):
            image[x, y] -= amplitude * kernel[kx, y - py + cy]
        _scan_row(image, mask, x, weight, row_peak, row_arg)


@numba.njit(cache=True, nogil=True, parallel=True)
def _subtract_shifted_parallel(image, kernel, px, py, amplitude, mask, weight, row_peak,
                               row_arg):
    """:func:`_subtract_shifted` with the rows shared among numba's threads (each row is
    updated and rescanned by one thread, so the result is the same)."""
    nx, ny = image.shape
    cx, cy = kernel.shape[0] // 2, kernel.shape[1] // 2
    x0, x1 = max(0, px - cx), min(nx, px - cx + kernel.shape[0])
    y0, y1 = max(0, py - cy), min(ny, py - cy + kernel.shape[1])
    for x in numba.prange(x0, x1):
        kx = x - px + cx
        for y in range(y0, y1):
            image[x, y] -= amplitude * kernel[kx, y - py + cy]
        _scan_row(image, mask, x, weight, row_peak, row_arg)


@numba.njit(cache=True, nogil=True)
def _best_row(row_peak):
    best = 0
    for x in range(row_peak.shape[0]):
        if row_peak[x] > row_peak[best]:
            best = x
    return best


@numba.njit(cache=True, nogil=True)
def masked_peak(image, mask):
    """Max of ``|image|`` over ``mask`` (0.0 for an empty mask)."""
    peak = 0.0
    for x in range(image.shape[0]):
        for y in range(image.shape[1]):
            if mask[x, y] and abs(image[x, y]) > peak:
                peak = abs(image[x, y])
    return peak


@numba.njit(cache=True, nogil=True)
def hogbom_clean(residual, psf, model, mask, *, gain, niter, threshold, parallel):
    """Hogbom CLEAN in place: subtract ``gain * peak * PSF`` at the masked peak of ``|R|``.

    Parameters
    ----------
    residual, psf, model : float64 (nx, ny)
        Residual (Jy/beam, updated), PSF (peak 1 at the centre) and model (Jy/pixel, added to).
    mask : bool (nx, ny)
    gain, niter, threshold
        Loop gain, the most components to subtract and the absolute peak at which to stop.
    parallel
        Share each subtraction's rows among numba's threads (``numba.set_num_threads``; the
        workqueue threading layer allows one such call at a time per process). The result is
        the same either way.

    Returns
    -------
    iterations : int
        Components subtracted.
    peak : float
        Masked max ``|R|`` at the end.
    """
    nx = residual.shape[0]
    row_peak = np.empty(nx)
    row_arg = np.empty(nx, dtype=np.int64)
    for x in range(nx):
        _scan_row(residual, mask, x, 1.0, row_peak, row_arg)
    iterations = 0
    px = _best_row(row_peak)
    while iterations < niter and row_arg[px] >= 0 and row_peak[px] > threshold:
        py = row_arg[px]
        amplitude = gain * residual[px, py]
        model[px, py] += amplitude
        if parallel:
            _subtract_shifted_parallel(residual, psf, px, py, amplitude, mask, 1.0, row_peak,
                                       row_arg)
        else:
            _subtract_shifted(residual, psf, px, py, amplitude, mask, 1.0, row_peak, row_arg)
        iterations += 1
        px = _best_row(row_peak)
    return iterations, max(row_peak[px], 0.0)


@numba.njit(cache=True, nogil=True)
def clark_active_clean(values, xs, ys, patch, components, *, gain, niter, limit, sidelobe):
    """Hogbom CLEAN on Clark's active pixel list with a PSF patch, in place.

    Parameters
    ----------
    values : float64 (npix,)
        Residual at the active pixels (updated).
    xs, ys : int64 (npix,)
        Their pixel coordinates.
    patch : float64 (2 hx + 1, 2 hy + 1)
        The central part of the PSF, peak at the centre.
    components : float64 (npix,)
        Component flux per active pixel (added to).
    gain, niter, limit
        Loop gain, the most components and the active-set flux limit (stop at ``|peak| <= limit``).
    sidelobe : float
        Largest ``|PSF|`` outside the patch. The tracked values ignore that part of the PSF, so
        they may be off by up to ``sidelobe * sum(|components|)``; the loop also stops when the
        peak falls to that bound (then a full subtraction makes the residual exact again).

    Returns
    -------
    int
        Components subtracted.
    """
    hx, hy = patch.shape[0] // 2, patch.shape[1] // 2
    npix = values.shape[0]
    iterations = 0
    cleaned = 0.0
    while iterations < niter and npix > 0:
        best = 0
        for j in range(npix):
            if abs(values[j]) > abs(values[best]):
                best = j
        if abs(values[best]) <= max(limit, sidelobe * cleaned):
            break
        amplitude = gain * values[best]
        cleaned += abs(amplitude)
        components[best] += amplitude
        px, py = xs[best], ys[best]
        for j in range(npix):
            dx, dy = xs[j] - px, ys[j] - py
            if -hx <= dx <= hx and -hy <= dy <= hy:
                values[j] -= amplitude * patch[hx + dx, hy + dy]
        iterations += 1
    return iterations


@numba.njit(cache=True, nogil=True)
def _add_shifted(image, kernel, px, py, amplitude):
    """``image += amplitude * kernel`` centred on (px, py), over the overlap."""
    nx, ny = image.shape
    cx, cy = kernel.shape[0] // 2, kernel.shape[1] // 2
    for x in range(max(0, px - cx), min(nx, px - cx + kernel.shape[0])):
        for y in range(max(0, py - cy), min(ny, py - cy + kernel.shape[1])):
            image[x, y] += amplitude * kernel[x - px + cx, y - py + cy]


@numba.njit(cache=True, nogil=True)
def multiscale_clean(scaled, cross_psfs, scale_functions, model, masks, weights, candidate, *,
                     gain, niter, threshold, tie_rtol):
    """Multiscale CLEAN (Cornwell 2008, as CASA's MatrixCleaner) in place.

    Track 0 is the unconvolved residual ``R``; the other tracks are ``R`` convolved with each
    scale function. A component is placed on the cleaned track (``candidate``) and pixel with the
    largest ``weights[t] * |track|`` (the "strength"); its amplitude is ``gain * weights[t] *
    track`` there, as in CASA, and every track loses ``amplitude * cross_psfs[j, t]`` there. The
    loop stops after ``niter`` components or when the masked max of ``|R|`` is at most
    ``threshold``.

    Parameters
    ----------
    scaled : float64 (ntrack, nx, ny)
        Track residuals (updated); ``scaled[0]`` is the image-plane residual.
    cross_psfs : float64 (ntrack, ntrack, nx, ny)
        ``cross_psfs[j, k]``: s_j * (s_k * PSF), each convolution cut to (nx, ny) (peak at the
        centre), i.e. the change of track j per unit component of scale k.
    scale_functions : float64 (ntrack, kx, ky)
        Unit-sum scale functions (centre at ``(kx // 2, ky // 2)``; track 0 the delta).
    model : float64 (nx, ny)
        Model (Jy/pixel, added to).
    masks : bool (ntrack, nx, ny)
        Where a component of each track's scale may be centred (``masks[0]``: the user's mask).
    weights : float64 (ntrack,)
        Selection weight per track (small-scale bias / peak of PSF * s_t); ``weights[0]`` must be
        1, so that track 0's row maxima are those of ``|R|``.
    candidate : bool (ntrack,)
        Which tracks are cleaned scales.
    gain, niter, threshold
        Loop gain, the most components and the stop level.
    tie_rtol : float
        A larger scale must beat the best smaller one by this fraction: a point source scores
        the same on every scale, and round-off must not hand it to a large one.

    Returns
    -------
    iterations : int
    peak : float
        Masked max ``|R|`` at the end.
    """
    ntrack, nx = scaled.shape[0], scaled.shape[1]
    row_peak = np.empty((ntrack, nx))
    row_arg = np.empty((ntrack, nx), dtype=np.int64)
    for t in range(ntrack):
        for x in range(nx):
            _scan_row(scaled[t], masks[t], x, weights[t], row_peak[t], row_arg[t])
    iterations = 0
    peak = max(row_peak[0, _best_row(row_peak[0])], 0.0)
    while iterations < niter and peak > threshold:
        best_t, best_x, best_value = -1, 0, 0.0
        for t in range(ntrack):
            if candidate[t]:
                x = _best_row(row_peak[t])
                if row_arg[t, x] >= 0 and row_peak[t, x] > best_value * (1.0 + tie_rtol):
                    best_t, best_x, best_value = t, x, row_peak[t, x]
        if best_t < 0:
            break
        px, py = best_x, row_arg[best_t, best_x]
        amplitude = gain * weights[best_t] * scaled[best_t, px, py]
        for t in range(ntrack):
            _subtract_shifted(scaled[t], cross_psfs[t, best_t], px, py, amplitude,
                              masks[t], weights[t], row_peak[t], row_arg[t])
        _add_shifted(model, scale_functions[best_t], px, py, amplitude)
        peak = max(row_peak[0, _best_row(row_peak[0])], 0.0)
        iterations += 1
    return iterations, peak


@numba.njit(cache=True, nogil=True)
def downhill_lobe(image, *, floor):
    """The 4-connected region grown from the centre over pixels ``> floor`` that do not rise.

    A neighbour joins when its value is above ``floor`` and at most that of the pixel it is
    reached from, so the region stops at the first null (``floor = 0``) or at the first local
    minimum of a noisy PSF, whichever comes first.

    Parameters
    ----------
    image : float64 (nx, ny)
        Peak at ``(nx // 2, ny // 2)``.

    Returns
    -------
    bool (nx, ny)
    """
    nx, ny = image.shape
    lobe = np.zeros((nx, ny), dtype=np.bool_)
    stack = np.empty((nx * ny, 2), dtype=np.int64)
    stack[0, 0], stack[0, 1] = nx // 2, ny // 2
    lobe[nx // 2, ny // 2] = image[nx // 2, ny // 2] > floor
    top = 1 if lobe[nx // 2, ny // 2] else 0
    while top > 0:
        top -= 1
        x, y = stack[top, 0], stack[top, 1]
        for dx, dy in ((1, 0), (-1, 0), (0, 1), (0, -1)):
            u, v = x + dx, y + dy
            if 0 <= u < nx and 0 <= v < ny and not lobe[u, v]:
                if floor < image[u, v] <= image[x, y]:
                    lobe[u, v] = True
                    stack[top, 0], stack[top, 1] = u, v
                    top += 1
    return lobe
