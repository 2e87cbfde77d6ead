"""Image phase centres: the rule of SPEC.md, per tile and for the whole sky, and covering images.

Rule (reconstructed from real image names and headers). Each tile is cut into 1 deg Dec rows
``[d0, d0 + 1]``; the centre Dec is ``d0 + 0.5``. The RA spacing is ``D = 1 deg / cos(de)`` with
``de = min(|d0|, |d0 + 1|)`` the row edge nearest the equator, so neighbouring images are exactly
1 deg apart on the sky there and closer elsewhere. With ``W`` the tile's RA width, ``n =
floor(W / D)`` centres sit at ``ra_min + (k + 1/2) D`` (k = 0..n-1) and a leftover strip
``L = W - n D > 0`` gets one more centre at ``ra_min + n D + L / 2``.

Every tile of a tier has the same width, so the pattern of one row is computed once per tier and
shifted to every tile: the whole sky (35,000+ centres) takes milliseconds.

Images: a published sub-image is a square in the SIN projection about its phase centre, 3722
pixels of 1 arcsec for Quick Look (:data:`QL_SUBIMAGE_DEG`), 6202 of 0.6 arcsec for Single Epoch.
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd

from vlassdask.errors import InputError
from vlassdask.survey.coordinates import jname, parse_jname, sin_offsets
from vlassdask.survey.tiles import TIERS, check_survey_dec, get_tile, tile_of

QL_SUBIMAGE_DEG = 3722 * 1.0 / 3600.0
"""Side of a Quick Look sub-image (3722 x 1 arcsec) in degrees."""
SE_SUBIMAGE_DEG = 6202 * 0.6 / 3600.0
"""Side of a Single Epoch sub-image (6202 x 0.6 arcsec) in degrees."""
_EPS = 1e-9


def row_ra_offsets(d0: float, ra_width_deg: float) -> np.ndarray:
    """RA offsets (deg, from the tile's ``ra_min``) of the centres of the Dec row ``[d0, d0+1]``."""
    edge = min(abs(d0), abs(d0 + 1.0))
    spacing = 1.0 / np.cos(np.radians(edge))
    n = int(np.floor(ra_width_deg / spacing + _EPS))
    offsets = (np.arange(n) + 0.5) * spacing
    leftover = ra_width_deg - n * spacing
    if leftover > _EPS:
        offsets = np.append(offsets, n * spacing + leftover / 2.0)
    return offsets


def _tier_pattern(tier_index: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(row number, RA offset, Dec) of the centres of one tile of a tier."""
    tier = TIERS[tier_index]
    rows, ra_off, decs = [], [], []
    n_rows = int(round(tier.dec_max - tier.dec_min))
    for row in range(n_rows):
        d0 = tier.dec_min + row
        offsets = row_ra_offsets(d0, tier.ra_width_deg)
        rows.append(np.full(offsets.size, row + 1))
        ra_off.append(offsets)
        decs.append(np.full(offsets.size, d0 + 0.5))
    return np.concatenate(rows), np.concatenate(ra_off), np.concatenate(decs)


@functools.cache
def _all_phase_centers() -> pd.DataFrame:
    frames = []
    for i, tier in enumerate(TIERS):
        rows, ra_off, decs = _tier_pattern(i)
        k = np.arange(tier.n_tiles)
        ra = (k[:, None] * tier.ra_width_deg + ra_off[None, :]).ravel()
        frames.append(
            pd.DataFrame(
                {
                    "tile": np.repeat([f"{tier.name}t{j + 1:02d}" for j in k], ra_off.size),
                    "tier": tier.number,
                    "row": np.tile(rows, tier.n_tiles),
                    "ra": ra,
                    "dec": np.tile(decs, tier.n_tiles),
                }
            )
        )
    df = pd.concat(frames, ignore_index=True)
    df.insert(0, "name", jname(df["ra"].to_numpy(), df["dec"].to_numpy()))
    return df


def phase_centers(tile: str | None = None) -> pd.DataFrame:
    """Image phase centres of one tile, or of the whole sky.

    Parameters
    ----------
    tile
        Tile name ``TNNtMM``; None for all 899 tiles.

    Returns
    -------
    pandas.DataFrame
        One row per image: ``name`` (``Jhhmmss+ddmmss``), ``tile``, ``tier``, ``row`` (1-based Dec
        row within the tile), ``ra``, ``dec`` (deg), ordered by tile, then Dec row, then RA.

    Raises
    ------
    InputError
        If the tile name is malformed or unknown.
    """
    df = _all_phase_centers()
    if tile is None:
        return df.copy()
    get_tile(tile)
    return df[df["tile"] == tile].reset_index(drop=True)


def count_phase_centers() -> int:
    """Number of image phase centres over the survey (one epoch's images)."""
    return len(_all_phase_centers())


def covering_images(
    ra_deg: float, dec_deg: float, *, image_size_deg: float = QL_SUBIMAGE_DEG
) -> pd.DataFrame:
    """Images whose square sub-image contains a sky position.

    Parameters
    ----------
    ra_deg, dec_deg
        The position in degrees.
    image_size_deg
        Side of the sub-image (SIN projection, centred on the phase centre); the Quick Look
        sub-image by default.

    Returns
    -------
    pandas.DataFrame
        The rows of :func:`phase_centers` that cover the position, plus ``l_arcsec``, ``m_arcsec``
        (offset of the position from the phase centre) and ``separation_deg``, nearest first.

    Raises
    ------
    InputError
        If the Dec is outside the survey or the size is not positive.
    """
    dec = float(check_survey_dec(dec_deg))
    if not image_size_deg > 0:
        raise InputError(f"image size must be positive, got {image_size_deg}")
    df = _all_phase_centers()
    near = df[np.abs(df["dec"].to_numpy() - dec) <= image_size_deg].reset_index(drop=True)
    l_, m_, front = sin_offsets(ra_deg, dec, near["ra"].to_numpy(), near["dec"].to_numpy())
    half = np.radians(image_size_deg / 2.0)
    inside = front & (np.abs(l_) <= half) & (np.abs(m_) <= half)
    out = near[inside].copy()
    out["l_arcsec"] = np.degrees(l_[inside]) * 3600.0
    out["m_arcsec"] = np.degrees(m_[inside]) * 3600.0
    out["separation_deg"] = np.degrees(np.arcsin(np.minimum(np.hypot(l_[inside], m_[inside]), 1)))
    return out.sort_values("separation_deg").reset_index(drop=True)


def locate_phase_center(name: str) -> tuple[float, float, str, bool]:
    """Position and tile of a phase centre given by its ``Jhhmmss+ddmmss`` name.

    Names truncate the position (to 1 s of RA, 1" of Dec), so the exact centre of a survey phase
    centre comes from the survey's table (:func:`phase_centers`); a name that is not a survey
    phase centre stands for the position it spells.

    Returns
    -------
    ra_deg, dec_deg : float
        The centre.
    tile : str
        The tile it belongs to.
    in_survey : bool
        True when the name is a survey phase centre.

    Raises
    ------
    InputError
        A malformed name, or a position outside the survey's declinations.
    """
    ra, dec = parse_jname(name)
    table = _all_phase_centers()
    hit = table[table["name"] == name]
    if len(hit):
        row = hit.iloc[0]
        return float(row["ra"]), float(row["dec"]), str(row["tile"]), True
    return ra, dec, str(tile_of(ra, dec)), False
