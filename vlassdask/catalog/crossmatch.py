"""Cross-matching a catalog with an external catalog by position (astropy sky matching)."""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pandas as pd
from astropy.coordinates import SkyCoord

DEFAULT_RADIUS_ARCSEC = 1.5


def crossmatch(table: pd.DataFrame, external: pd.DataFrame, *, ra: str, dec: str,
               radius_arcsec: float = DEFAULT_RADIUS_ARCSEC, prefix: str = "X_"
               ) -> pd.DataFrame:  # fmt: skip
    """The nearest external source within ``radius_arcsec`` of every component.

    Parameters
    ----------
    table
        Component catalog (``RA``, ``DEC`` in degrees).
    external
        Any table with positions in degrees in the columns ``ra`` and ``dec``.
    ra, dec
        Those column names.
    radius_arcsec
        Cone radius (default 1.5").
    prefix
        Prefix of the external columns in the result.

    Returns
    -------
    pandas.DataFrame
        ``table`` with ``<prefix>sep_arcsec`` (NaN without a match), ``<prefix>index`` (row of
        ``external``, -1 without a match) and every external column, prefixed (NaN/None without
        a match).
    """
    out = table.reset_index(drop=True).copy()
    sep = np.full(len(out), np.nan)
    index = np.full(len(out), -1, dtype=np.int64)
    if len(out) and len(external):
        ours = SkyCoord(out["RA"].to_numpy() * u.deg, out["DEC"].to_numpy() * u.deg)
        theirs = SkyCoord(external[ra].to_numpy(dtype=float) * u.deg,
                          external[dec].to_numpy(dtype=float) * u.deg)
        nearest, distance, _ = ours.match_to_catalog_sky(theirs)
        hit = distance.arcsec <= radius_arcsec
        sep[hit], index[hit] = distance.arcsec[hit], nearest[hit]
    matched = external.reset_index(drop=True).reindex(np.where(index >= 0, index, -1))
    matched.index = out.index
    out[f"{prefix}sep_arcsec"] = sep
    out[f"{prefix}index"] = index
    for name in external.columns:
        out[f"{prefix}{name}"] = matched[name]
    return out
