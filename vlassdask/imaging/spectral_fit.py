"""Per-pixel power-law spectral index across image planes (a coarse cube's Stokes I planes).

For each pixel, ``S(nu) = S_0 (nu / nu_0)^alpha`` is fitted by weighted least squares in
log space: ``y_k = ln S_k`` with ``sigma_y,k = rms_k / S_k`` (first order), ``x_k =
ln(nu_k / nu_0)``. The error is the fit's formal one, ``sqrt(sum w / Delta)``. Planes where the
pixel is below ``min_snr`` x its rms (or not finite) are left out; pixels with fewer than
``min_planes`` planes get NaN. Lazy over dask chunks: peak memory per task is the planes of one
chunk (``n_planes x 2`` of them, float64).
"""

from __future__ import annotations

import dask.array as da
import numpy as np


def fit_power_law(flux: np.ndarray, rms: np.ndarray, freqs_hz: np.ndarray, ref_hz: float, *,
                  min_snr: float = 5.0, min_planes: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Spectral index and its error per pixel.

    Parameters
    ----------
    flux, rms
        (plane, ...) flux densities and their noise (same units).
    freqs_hz
        (plane,) frequencies.
    ref_hz
        Reference frequency nu_0.
    min_snr, min_planes
        See the module docstring.

    Returns
    -------
    alpha, error : numpy.ndarray
        float32 of shape ``flux.shape[1:]``; NaN where not measured.
    """
    flux = np.asarray(flux, dtype=np.float64)
    rms = np.asarray(rms, dtype=np.float64)
    x = np.log(np.asarray(freqs_hz, dtype=np.float64) / ref_hz).reshape((-1,) + (1,) * (
        flux.ndim - 1))
    with np.errstate(divide="ignore", invalid="ignore"):
        good = np.isfinite(flux) & np.isfinite(rms) & (rms > 0) & (flux > min_snr * rms)
        w = np.where(good, (flux / np.where(good, rms, 1.0)) ** 2, 0.0)
        y = np.where(good, np.log(np.where(good, flux, 1.0)), 0.0)
    sw, swx, swy = w.sum(0), (w * x).sum(0), (w * y).sum(0)
    swxx, swxy = (w * x * x).sum(0), (w * x * y).sum(0)
    delta = sw * swxx - swx * swx
    usable = (good.sum(0) >= min_planes) & (delta > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        alpha = np.where(usable, (sw * swxy - swx * swy) / delta, np.nan)
        error = np.where(usable, np.sqrt(sw / delta), np.nan)
    return alpha.astype(np.float32), error.astype(np.float32)


def _fit_block(flux, rms, *, freqs, ref_hz, min_snr, min_planes):
    alpha, error = fit_power_law(flux, rms, freqs, ref_hz, min_snr=min_snr,
                                 min_planes=min_planes)
    return np.stack([alpha, error])


def spectral_index_images(flux: da.Array, rms: da.Array, freqs_hz: np.ndarray, ref_hz: float,
                          *, min_snr: float = 5.0, min_planes: int = 3
                          ) -> tuple[da.Array, da.Array]:  # fmt: skip
    """Lazy :func:`fit_power_law` of (plane, x, y) dask images.

    Returns
    -------
    alpha, error : dask.array.Array
        float32 (x, y), chunked as the inputs' pixels.
    """
    flux = flux.rechunk({0: -1})
    rms = rms.rechunk(flux.chunks)
    out = da.map_blocks(_fit_block, flux, rms, dtype=np.float32,
                        chunks=((2,),) + flux.chunks[1:], freqs=np.asarray(freqs_hz),
                        ref_hz=float(ref_hz), min_snr=float(min_snr),
                        min_planes=int(min_planes))
    return out[0], out[1]
