"""Which phase centres a survey run makes: selection and manifest rows (no files here).

A survey plan is one row per image phase centre (:func:`vlassdask.survey.phase_centers.
phase_centers`) with the Measurement Set it is imaged from: one MS for every row, or a pattern
with ``{tile}`` (one MS per tile, e.g. ``/data/{tile}.ms``). Phase centres are chosen by tile
(``all`` for the whole sky: 35,446 rows), by name, or, given an MS's field centres, as those
whose published sub-image (1 deg^2) contains at least one of the MS's pointings.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from vlassdask.errors import InputError
from vlassdask.survey.coordinates import sin_offsets
from vlassdask.survey.phase_centers import QL_SUBIMAGE_DEG, phase_centers
from vlassdask.survey.tiles import get_tile


def config_hash(product: str, document: dict[str, Any], preset: str | None) -> str:
    """A short hash of what a product is made with (product, configuration, preset)."""
    text = json.dumps({"product": product, "config": document, "preset": preset},
                      sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def select_phase_centers(*, tiles: Sequence[str] | None = None,
                         names: Sequence[str] | None = None,
                         pointings_deg: np.ndarray | None = None) -> pd.DataFrame:  # fmt: skip
    """The phase centres of a plan.

    Parameters
    ----------
    tiles
        Tile names, or ``["all"]`` for the whole sky.
    names
        Phase-centre names ``Jhhmmss+ddmmss`` (of the given tiles, if any).
    pointings_deg
        (n, 2) RA/Dec of an MS's fields: without ``tiles`` or ``names``, the phase centres
        whose 1 deg^2 sub-image contains one of them.

    Returns
    -------
    pandas.DataFrame
        Rows of :func:`~vlassdask.survey.phase_centers.phase_centers` (``name``, ``tile``, ...).

    Raises
    ------
    InputError
        Unknown tiles or names, or nothing selected.
    """
    table = phase_centers()
    if tiles and list(tiles) != ["all"]:
        for tile in tiles:
            get_tile(tile)
        table = table[table["tile"].isin(list(tiles))]
    if names:
        missing = sorted(set(names) - set(table["name"]))
        if missing:
            raise InputError(f"phase centre(s) {', '.join(missing)} are not VLASS phase centres"
                             + (f" of tile(s) {', '.join(tiles)}" if tiles else ""))
        table = table[table["name"].isin(list(names))]
    elif not tiles and pointings_deg is not None:
        table = table[_contains_pointing(table, np.asarray(pointings_deg, dtype=np.float64))]
    if table.empty:
        raise InputError("no phase centre selected")
    return table.reset_index(drop=True)


def _contains_pointing(table: pd.DataFrame, pointings: np.ndarray) -> np.ndarray:
    """Phase centres whose sub-image contains a pointing (near ones first checked)."""
    half = np.radians(QL_SUBIMAGE_DEG / 2)
    ra_c, dec_c = pointings[:, 0].mean(), pointings[:, 1].mean()
    near = (np.abs(table["dec"].to_numpy() - dec_c) < 3.0) & (np.abs(
        (table["ra"].to_numpy() - ra_c + 180.0) % 360.0 - 180.0) < 3.0 / max(
        np.cos(np.radians(dec_c)), 0.05))
    keep = np.zeros(len(table), dtype=bool)
    for i in np.flatnonzero(near):
        l_val, m_val, front = sin_offsets(pointings[:, 0], pointings[:, 1],
                                          float(table["ra"].iloc[i]), float(table["dec"].iloc[i]))
        keep[i] = bool((front & (np.abs(l_val) <= half) & (np.abs(m_val) <= half)).any())
    return keep


def ms_for(pattern: str, tile: str) -> str:
    """The MS of a tile: ``pattern`` with ``{tile}`` replaced (a plain path: the same MS)."""
    return pattern.replace("{tile}", tile)
