"""Component spectral indices from an alpha image (SPEC.md "Catalogs").

``Alpha`` is the mean of the finite pixels of the 3x3 block of the alpha image around the
component's peak pixel (``RA_max``, ``DEC_max``); ``E_Alpha`` the mean of the same block of the
alpha-error image (pixels correlated over the beam: no 1/3 reduction), or without one the standard
deviation of the 3x3 alpha pixels. Components outside the alpha image or with no finite pixel get
NaN. The alpha image may be on another pixel grid than the searched image: positions are mapped
through its own WCS. Only 9 pixels per component are read (dask ``vindex``).
"""

from __future__ import annotations

import warnings

import dask.array as da
import numpy as np
import pandas as pd
from astropy.wcs import WCS

BLOCK = 3


def spectral_indices(table: pd.DataFrame, alpha: da.Array, wcs: WCS,
                     alpha_error: da.Array | None = None, *,
                     scheduler: str | None = None) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """``(Alpha, E_Alpha)`` of every component.

    Parameters
    ----------
    table
        Catalog with ``RA_max`` and ``DEC_max`` (deg).
    alpha, alpha_error
        (nx, ny) alpha and alpha-error planes (indexed ``[x, y]``).
    wcs
        Celestial WCS of those planes (pixel axis 0 = x).
    scheduler
        dask scheduler of the pixel reads.
    """
    n = len(table)
    if n == 0:
        return np.empty(0), np.empty(0)
    px, py = wcs.wcs_world2pix(table["RA_max"].to_numpy(), table["DEC_max"].to_numpy(), 0)
    cx, cy = np.rint(px).astype(np.int64), np.rint(py).astype(np.int64)
    dx, dy = np.meshgrid(np.arange(BLOCK) - BLOCK // 2, np.arange(BLOCK) - BLOCK // 2,
                         indexing="ij")
    xs, ys = cx[:, None, None] + dx, cy[:, None, None] + dy
    inside = (xs >= 0) & (xs < alpha.shape[0]) & (ys >= 0) & (ys < alpha.shape[1])
    fx, fy = np.where(inside, xs, 0).ravel(), np.where(inside, ys, 0).ravel()
    planes = [alpha] + ([alpha_error] if alpha_error is not None else [])
    values = da.compute(*[p.vindex[fx, fy] for p in planes], scheduler=scheduler)
    blocks = [np.where(inside, v.reshape(n, BLOCK, BLOCK), np.nan).reshape(n, -1)
              for v in values]  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN blocks give NaN
        mean = np.nanmean(blocks[0], axis=1)
        error = np.nanmean(blocks[1], axis=1) if alpha_error is not None else np.nanstd(
            blocks[0], axis=1)
    error = np.where(np.isfinite(mean), error, np.nan)
    return mean, error
