"""Survey catalogs: merging the catalogs of overlapping images, duplicate and quality flags.

CIRADA rules (SPEC.md "Catalogs"):

* Components of *different* images within ``radius_arcsec`` (1") of each other are the same
  source seen twice; such groups (joined transitively) keep the component of highest S/N
  (``Peak_flux / Isl_rms``), ``Duplicate_flag = 1``, and mark the others 2. Components with no
  counterpart in another image have ``Duplicate_flag = 0``.
* ``NN_dist`` is the distance to the nearest other component among those kept (flag < 2).
* ``Quality_flag`` bits: +1 if ``NN_dist >= 20"`` and ``Peak_to_ring < 2`` (an isolated
  component that is not much brighter than its surroundings: a likely sidelobe); +2 if
  ``Peak_flux < 5 Isl_rms``; +4 if ``Peak_flux > Total_flux``.
"""

from __future__ import annotations

from collections.abc import Sequence

import astropy.units as u
import numpy as np
import pandas as pd
from astropy.coordinates import SkyCoord
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from vlassdask.errors import InputError
from vlassdask.io.catalog_schema import make_catalog

DUPLICATE_RADIUS_ARCSEC = 1.0
ISOLATED_ARCSEC = 20.0
RING_LIMIT = 2.0
PEAK_SNR_LIMIT = 5.0


def _coords(table: pd.DataFrame) -> SkyCoord:
    return SkyCoord(table["RA"].to_numpy() * u.deg, table["DEC"].to_numpy() * u.deg)


def duplicate_flags(table: pd.DataFrame, radius_arcsec: float = DUPLICATE_RADIUS_ARCSEC
                    ) -> np.ndarray:  # fmt: skip
    """``Duplicate_flag`` of every row of a concatenated catalog (column ``Image`` tells the
    images apart)."""
    n = len(table)
    flags = np.zeros(n, dtype=np.int8)
    if n < 2:
        return flags
    coords = _coords(table)
    i, j, _, _ = coords.search_around_sky(coords, radius_arcsec * u.arcsec)
    images = table["Image"].to_numpy()
    cross = (i < j) & (images[i] != images[j])
    graph = coo_matrix((np.ones(cross.sum()), (i[cross], j[cross])), shape=(n, n))
    _, group = connected_components(graph, directed=False)
    snr = (table["Peak_flux"] / table["Isl_rms"]).to_numpy()
    sizes = np.bincount(group)
    for g in np.flatnonzero(sizes > 1):
        members = np.flatnonzero(group == g)
        flags[members] = 2
        flags[members[np.argmax(snr[members])]] = 1
    return flags


def nearest_neighbour_arcsec(table: pd.DataFrame) -> np.ndarray:
    """Distance of every row to the nearest other row (inf for a single row)."""
    if len(table) < 2:
        return np.full(len(table), np.inf)
    coords = _coords(table)
    _, sep, _ = coords.match_to_catalog_sky(coords, nthneighbor=2)
    return sep.arcsec


def quality_flags(table: pd.DataFrame) -> np.ndarray:
    """``Quality_flag`` bits (module docstring); needs ``NN_dist``."""
    flags = np.zeros(len(table), dtype=np.int8)
    flags += np.where((table["NN_dist"] >= ISOLATED_ARCSEC)
                      & (table["Peak_to_ring"] < RING_LIMIT), 1, 0).astype(np.int8)
    flags += np.where(table["Peak_flux"] < PEAK_SNR_LIMIT * table["Isl_rms"], 2, 0
                      ).astype(np.int8)  # fmt: skip
    flags += np.where(table["Peak_flux"] > table["Total_flux"], 4, 0).astype(np.int8)
    return flags


def add_flags(table: pd.DataFrame, radius_arcsec: float = DUPLICATE_RADIUS_ARCSEC
              ) -> pd.DataFrame:  # fmt: skip
    """``table`` with ``Duplicate_flag``, ``NN_dist`` (among the kept rows; for rows flagged 2
    the distance to the second-nearest kept row, the nearest being their preferred twin, so
    that both copies get the same neighbour) and ``Quality_flag``."""
    out = table.reset_index(drop=True).copy()
    out["Duplicate_flag"] = duplicate_flags(out, radius_arcsec)
    kept = out["Duplicate_flag"].to_numpy() < 2
    nn = np.full(len(out), np.inf)
    nn[kept] = nearest_neighbour_arcsec(out[kept])
    if (~kept).any() and kept.sum() >= 2:
        _, sep, _ = _coords(out[~kept]).match_to_catalog_sky(_coords(out[kept]), nthneighbor=2)
        nn[~kept] = sep.arcsec
    out["NN_dist"] = nn
    out["Quality_flag"] = quality_flags(out)
    return out


def merge_catalogs(catalogs: Sequence[pd.DataFrame], *,
                   radius_arcsec: float = DUPLICATE_RADIUS_ARCSEC,
                   keep_duplicates: bool = False) -> pd.DataFrame:  # fmt: skip
    """Merge the component catalogs of several (overlapping) images into a survey catalog.

    Parameters
    ----------
    catalogs
        One catalog per image; their ``Image`` values must differ.
    radius_arcsec
        Duplicate match radius.
    keep_duplicates
        Keep the rows flagged ``Duplicate_flag = 2`` (default: drop them, so that every source
        appears once).

    Returns
    -------
    pandas.DataFrame
        Schema columns plus ``Duplicate_flag``, ``NN_dist``, ``Quality_flag``; ``Source_id``
        renumbered over the survey catalog.

    Raises
    ------
    InputError
        If two catalogs have the same ``Image``.
    """
    names = [str(c["Image"].iloc[0]) for c in catalogs if len(c)]
    if len(set(names)) != len(names):
        raise InputError("catalogs to merge must come from different images (Image column)")
    frames = [c for c in catalogs if len(c)]
    if not frames:
        return make_catalog(pd.DataFrame(columns=[]))
    merged = add_flags(pd.concat(frames, ignore_index=True), radius_arcsec)
    if not keep_duplicates:
        merged = merged[merged["Duplicate_flag"] < 2]
    merged = merged.sort_values(["RA", "DEC"]).reset_index(drop=True)
    merged["Source_id"] = np.arange(len(merged))
    return make_catalog(merged)
