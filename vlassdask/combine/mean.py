"""RMS-weighted mean of epochs on one grid: combined image, combined rms and epoch coverage.

With ``w_i = 1 / (f_i rms_i)^2`` per pixel (``f_i`` the epoch's rms scale factor at the common
beam), the combined image is ``sum w_i S_i / sum w_i``, its rms ``(sum w_i)^(-1/2)`` and the
coverage the number of epochs that contribute (finite image value, finite positive rms). Pixels no
epoch covers are NaN (coverage 0).
"""

from __future__ import annotations

from collections.abc import Sequence

import dask.array as da
import numpy as np

from vlassdask.kernels.weighted_mean import accumulate_weighted, finish_weighted_mean

#: Index of each product in the stacked block returned by :func:`weighted_mean_block`.
SKY, RMS, COVERAGE = 0, 1, 2


def weighted_mean_block(*blocks: np.ndarray, rms_scales: Sequence[float]) -> np.ndarray:
    """Combine co-registered blocks: ``n`` images then their ``n`` rms maps.

    Parameters
    ----------
    *blocks
        ``S_1 ... S_n, rms_1 ... rms_n``, equal shapes; NaN marks a blank pixel.
    rms_scales
        ``f_1 ... f_n``.

    Returns
    -------
    numpy.ndarray
        Shape ``(3,) + block shape``, the images' dtype: combined image, combined rms and coverage
        (stacked along the first axis at :data:`SKY`, :data:`RMS`, :data:`COVERAGE`).

    Notes
    -----
    Peak memory: the inputs plus the output (3 blocks); numba kernels, one pass per input.
    """
    n = len(rms_scales)
    skies, rmss = blocks[:n], blocks[n:]
    dtype = skies[0].dtype
    out = np.zeros((3,) + skies[0].shape, dtype=dtype)
    for index in np.ndindex(skies[0].shape[:-2]):
        numerator, weight_sum, coverage = (out[(k, *index)] for k in (SKY, RMS, COVERAGE))
        for sky, rms, scale in zip(skies, rmss, rms_scales, strict=True):
            accumulate_weighted(sky[index], rms[index], dtype.type(scale), numerator, weight_sum,
                                coverage)  # fmt: skip
        finish_weighted_mean(numerator, weight_sum, coverage)
    return out


def weighted_mean(
    skies: Sequence[da.Array], rmss: Sequence[da.Array], rms_scales: Sequence[float]
) -> tuple[da.Array, da.Array, da.Array]:
    """Lazily combine epochs that are already on one grid with equal chunks.

    Parameters
    ----------
    skies, rmss
        Per epoch, the image at the common beam and its rms map (same shapes and chunks).
    rms_scales
        Per epoch, the factor applied to its rms map before weighting.

    Returns
    -------
    sky, rms, coverage : dask.array.Array
        Combined image and rms (the images' dtype) and coverage (uint8).
    """
    dtype = np.result_type(*(s.dtype for s in skies))
    skies = [s.astype(dtype) for s in skies]
    rmss = [r.rechunk(skies[0].chunks) for r in rmss]
    stacked = da.map_blocks(
        weighted_mean_block, *skies, *rmss, rms_scales=[float(f) for f in rms_scales],
        new_axis=0, chunks=((3,),) + skies[0].chunks, dtype=dtype,
        meta=np.empty((0,) * (skies[0].ndim + 1), dtype=dtype),
    )  # fmt: skip
    return stacked[SKY], stacked[RMS], stacked[COVERAGE].astype(np.uint8)
