"""VLASS tiers and tiles: the survey's observing units as data, and sky position -> tile.

The sky above Dec -40 deg is cut into 32 tiers of 4 deg (5 deg for T24 and T32) in Dec; each
tier into equal tiles in RA, named ``TNNtMM`` (tier NN, tile MM counted up from RA 0h). The table
:data:`TIERS` is SPEC.md's tier table; the 899 tiles follow from it exactly (tile MM spans RA
``(MM-1) W`` to ``MM W`` with ``W = 360 deg / n_tiles``). The packaged observing log
(:mod:`vlassdask.survey.observing_log`) lists the same bounds rounded to 0.01 h.

Conventions: RA and Dec in degrees (ICRS/J2000, as the image headers); RA is wrapped into
[0, 360). A tile holds ``dec_min <= Dec < dec_max`` (T32 also holds Dec = 90) and
``ra_min <= RA < ra_max``.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from vlassdask.errors import InputError

SURVEY_DEC_MIN = -40.0
SURVEY_DEC_MAX = 90.0
TILE_NAME_PATTERN = re.compile(r"^T(\d{2})t(\d{2})$")


@dataclass(frozen=True)
class Tier:
    """One Dec band of the survey.

    Attributes
    ----------
    number
        Tier number 1..32 (``T01`` at Dec -40).
    dec_min, dec_max
        Dec bounds in degrees.
    n_tiles
        Number of equal-width tiles in RA.
    """

    number: int
    dec_min: float
    dec_max: float
    n_tiles: int

    @property
    def name(self) -> str:
        """``TNN``."""
        return f"T{self.number:02d}"

    @property
    def ra_width_deg(self) -> float:
        """RA width of each tile in degrees."""
        return 360.0 / self.n_tiles


def _build_tiers() -> tuple[Tier, ...]:
    # (first tier, last tier, Dec of the first tier's lower edge, height deg, tiles per tier)
    bands = [
        (1, 2, -40.0, 4.0, 48),
        (3, 14, -32.0, 4.0, 36),
        (15, 18, 16.0, 4.0, 32),
        (19, 20, 32.0, 4.0, 30),
        (21, 23, 40.0, 4.0, 24),
        (24, 24, 52.0, 5.0, 24),
        (25, 26, 57.0, 4.0, 18),
        (27, 27, 65.0, 4.0, 15),
        (28, 28, 69.0, 4.0, 12),
        (29, 30, 73.0, 4.0, 9),
        (31, 31, 81.0, 4.0, 4),
        (32, 32, 85.0, 5.0, 2),
    ]
    tiers = []
    for first, last, dec0, height, n_tiles in bands:
        for k, number in enumerate(range(first, last + 1)):
            low = dec0 + k * height
            tiers.append(Tier(number, low, low + height, n_tiles))
    return tuple(tiers)


TIERS: tuple[Tier, ...] = _build_tiers()
"""The 32 tiers (SPEC.md "Tiles and image phase centres")."""

_TIER_EDGES = np.array([t.dec_min for t in TIERS] + [TIERS[-1].dec_max])
_TIER_NTILES = np.array([t.n_tiles for t in TIERS])


@dataclass(frozen=True)
class Tile:
    """One tile (observing unit).

    Attributes
    ----------
    name
        ``TNNtMM``.
    tier
        Tier number.
    index
        Tile number MM within the tier (1-based, counting up from RA 0h).
    dec_min, dec_max, ra_min, ra_max
        Bounds in degrees.
    """

    name: str
    tier: int
    index: int
    dec_min: float
    dec_max: float
    ra_min: float
    ra_max: float

    @property
    def ra_width(self) -> float:
        """RA width in degrees."""
        return self.ra_max - self.ra_min

    @property
    def area_deg2(self) -> float:
        """Solid angle in square degrees."""
        dsin = np.sin(np.radians(self.dec_max)) - np.sin(np.radians(self.dec_min))
        return float(np.radians(self.ra_width) * dsin * (180.0 / np.pi) ** 2)


@functools.cache
def all_tiles() -> tuple[Tile, ...]:
    """All 899 tiles, ordered by tier then tile number."""
    tiles = []
    for tier in TIERS:
        width = tier.ra_width_deg
        for k in range(tier.n_tiles):
            tiles.append(
                Tile(
                    name=f"{tier.name}t{k + 1:02d}",
                    tier=tier.number,
                    index=k + 1,
                    dec_min=tier.dec_min,
                    dec_max=tier.dec_max,
                    ra_min=k * width,
                    ra_max=(k + 1) * width,
                )
            )
    return tuple(tiles)


@functools.cache
def _tiles_by_name() -> dict[str, Tile]:
    return {t.name: t for t in all_tiles()}


def get_tile(name: str) -> Tile:
    """Return the tile called ``name`` (``TNNtMM``).

    Raises
    ------
    InputError
        If the name is malformed or names no tile.
    """
    if not TILE_NAME_PATTERN.match(name):
        raise InputError(f"malformed tile name {name!r}: expected TNNtMM, e.g. T06t24")
    tile = _tiles_by_name().get(name)
    if tile is None:
        tier = int(name[1:3])
        if not 1 <= tier <= len(TIERS):
            raise InputError(f"unknown tile {name!r}: tiers run from T01 to T{len(TIERS):02d}")
        n = TIERS[tier - 1].n_tiles
        raise InputError(f"unknown tile {name!r}: tier T{tier:02d} has tiles t01..t{n:02d}")
    return tile


def tile_table(tier: int | None = None) -> pd.DataFrame:
    """The tiles as a table.

    Parameters
    ----------
    tier
        Only this tier (1..32); all tiers if None.

    Returns
    -------
    pandas.DataFrame
        One row per tile: ``tile``, ``tier``, ``index``, ``dec_min``, ``dec_max``, ``ra_min``,
        ``ra_max`` (deg), ``ra_min_h``, ``ra_max_h`` (hours), ``area_deg2``.
    """
    tiles = all_tiles()
    if tier is not None:
        if not 1 <= tier <= len(TIERS):
            raise InputError(f"tier {tier} does not exist: tiers run from 1 to {len(TIERS)}")
        tiles = tuple(t for t in tiles if t.tier == tier)
    df = pd.DataFrame(
        {
            "tile": [t.name for t in tiles],
            "tier": [t.tier for t in tiles],
            "index": [t.index for t in tiles],
            "dec_min": [t.dec_min for t in tiles],
            "dec_max": [t.dec_max for t in tiles],
            "ra_min": [t.ra_min for t in tiles],
            "ra_max": [t.ra_max for t in tiles],
        }
    )
    df["ra_min_h"] = df["ra_min"] / 15.0
    df["ra_max_h"] = df["ra_max"] / 15.0
    df["area_deg2"] = [t.area_deg2 for t in tiles]
    return df


def check_survey_dec(dec_deg: ArrayLike) -> np.ndarray:
    """Return ``dec_deg`` as a float array, raising if any value is outside the survey.

    Raises
    ------
    InputError
        If a Dec is not finite or lies outside -40..+90 deg.
    """
    dec = np.asarray(dec_deg, dtype=float)
    bad = ~np.isfinite(dec) | (dec < SURVEY_DEC_MIN) | (dec > SURVEY_DEC_MAX)
    if np.any(bad):
        value = dec[bad].flat[0]
        raise InputError(
            f"Dec {value:g} deg is outside the survey (VLASS covers Dec -40 to +90 deg)"
        )
    return dec


def tier_of(dec_deg: ArrayLike) -> np.ndarray:
    """Tier number (1..32) holding each Dec (deg), vectorised.

    Raises
    ------
    InputError
        If a Dec is outside -40..+90 deg.
    """
    dec = check_survey_dec(dec_deg)
    idx = np.searchsorted(_TIER_EDGES, dec, side="right") - 1
    return np.minimum(idx, len(TIERS) - 1) + 1


def tile_of(ra_deg: ArrayLike, dec_deg: ArrayLike) -> np.ndarray:
    """Name of the tile holding each sky position, vectorised.

    Parameters
    ----------
    ra_deg, dec_deg
        Positions in degrees (broadcast together); RA is wrapped into [0, 360).

    Returns
    -------
    numpy.ndarray
        Tile names (``<U6``) with the broadcast shape.

    Raises
    ------
    InputError
        If a Dec is outside -40..+90 deg.
    """
    ra, dec = np.broadcast_arrays(np.asarray(ra_deg, dtype=float), np.asarray(dec_deg, float))
    tier = tier_of(dec)
    n_tiles = _TIER_NTILES[tier - 1]
    index = np.floor(np.mod(ra, 360.0) / (360.0 / n_tiles)).astype(int)
    index = np.minimum(index, n_tiles - 1) + 1
    names = np.char.add(
        np.char.add("T", np.char.zfill(tier.astype(str), 2)),
        np.char.add("t", np.char.zfill(index.astype(str), 2)),
    )
    return names.astype("<U6")


def tiles_touching(ra_deg: float, dec_deg: float) -> list[Tile]:
    """All tiles whose closed bounds contain the position (several on a tile edge or corner)."""
    dec = float(check_survey_dec(dec_deg))
    ra = float(np.mod(ra_deg, 360.0))
    found = []
    for tile in all_tiles():
        if not tile.dec_min <= dec <= tile.dec_max:
            continue
        in_ra = tile.ra_min <= ra <= tile.ra_max or (tile.ra_max == 360.0 and ra == 0.0)
        if in_ra:
            found.append(tile)
    return found
