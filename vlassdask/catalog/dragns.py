"""DRAGN (double radio sources associated with galactic nuclei) finding, exactly per SPEC.md.

1. Lobe candidates: resolved components (``DC_Maj > 3"``) with ``Total_flux > 1.2 mJy`` (the SE
   values; components flagged ``Duplicate_flag = 2`` are not used).
2. Each candidate is paired with its nearest neighbour among the candidates; a pair found from
   both ends is one pair.
3. Misalignment: ``psi = (|dPA_1| + |dPA_2|) / 2``, each lobe's ``DC_PA`` against the position
   angle of the pair axis folded to [-90, 90] deg. A pair is kept when ``sep > 6"`` and
   ``psi < -96.01351351 log10(sep") + 225.32323928``. A component in several kept pairs stays
   only in the closest of them (pairs taken in order of separation).
4. Core: among the compact components (``DC_Maj <= 3"``, not a lobe of the pair) within 30" of
   the pair midpoint and closer than ``sep / 2`` to it, the one nearest the flux-weighted
   centroid of the two lobes.
"""

from __future__ import annotations

from dataclasses import dataclass

import astropy.units as u
import numpy as np
import pandas as pd
from astropy.coordinates import SkyCoord

from vlassdask.catalog.names import component_names


@dataclass(frozen=True)
class DragnConfig:
    """DRAGN finder parameters (defaults: SPEC.md / the VLASS SE values)."""

    resolved_arcsec: float = 3.0
    min_flux_mjy: float = 1.2
    min_sep_arcsec: float = 6.0
    psi_slope: float = -96.01351351
    psi_intercept: float = 225.32323928
    core_radius_arcsec: float = 30.0


DRAGN_COLUMNS = ("Name", "RA", "DEC", "Sep", "Misalignment", "Total_flux", "E_Total_flux",
                 "Lobe_1", "Lobe_2", "Core", "Lobe_1_id", "Lobe_2_id", "Core_id")


def _fold(angle_deg: np.ndarray) -> np.ndarray:
    """Angle difference folded to [-90, 90) deg (position angles are axial)."""
    return np.mod(angle_deg + 90.0, 180.0) - 90.0


def _pairs(coords: SkyCoord) -> list[tuple[int, int]]:
    if len(coords) < 2:
        return []
    nearest, _, _ = coords.match_to_catalog_sky(coords, nthneighbor=2)
    return sorted({(min(i, int(j)), max(i, int(j))) for i, j in enumerate(nearest)})


def find_dragns(table: pd.DataFrame, config: DragnConfig | None = None) -> pd.DataFrame:
    """The DRAGNs of a component catalog.

    Parameters
    ----------
    table
        Component (survey) catalog: ``RA``, ``DEC``, ``Total_flux``, ``E_Total_flux``,
        ``DC_Maj``, ``DC_PA``, ``Component_name`` (and ``Duplicate_flag`` if merged).
    config
        Finder parameters.

    Returns
    -------
    pandas.DataFrame
        One row per DRAGN (:data:`DRAGN_COLUMNS`): name and flux-weighted position (deg),
        lobe separation (arcsec), misalignment psi (deg), summed lobe (+ core) flux (mJy), lobe
        and core component names and row numbers in ``table`` (``Core`` empty and ``Core_id``
        -1 without a core).
    """
    config = config or DragnConfig()
    t = table.reset_index(drop=True)
    usable = t["Duplicate_flag"] < 2 if "Duplicate_flag" in t else np.ones(len(t), bool)
    lobe_rows = np.flatnonzero(usable & (t["DC_Maj"] > config.resolved_arcsec)
                               & (t["Total_flux"] > config.min_flux_mjy))  # fmt: skip
    core_rows = np.flatnonzero(usable & (t["DC_Maj"] <= config.resolved_arcsec))
    coords = SkyCoord(t["RA"].to_numpy() * u.deg, t["DEC"].to_numpy() * u.deg)
    candidates = []
    for a, b in _pairs(coords[lobe_rows]):
        i, j = lobe_rows[a], lobe_rows[b]
        sep = coords[i].separation(coords[j]).arcsec
        axis = coords[i].position_angle(coords[j]).deg
        psi = 0.5 * (abs(_fold(t["DC_PA"][i] - axis)) + abs(_fold(t["DC_PA"][j] - axis)))
        limit = config.psi_slope * np.log10(sep) + config.psi_intercept
        if sep > config.min_sep_arcsec and psi < limit:
            candidates.append((sep, i, j, psi))
    used: set[int] = set()
    rows = []
    for sep, i, j, psi in sorted(candidates):
        if i in used or j in used:
            continue
        used.update((i, j))
        rows.append(_dragn_row(t, coords, i, j, sep, psi, core_rows, config))
    out = pd.DataFrame(rows, columns=list(DRAGN_COLUMNS))
    if len(out):
        out["Name"] = component_names(out["RA"].to_numpy(), out["DEC"].to_numpy(),
                                      prefix="VLASS DRAGN")
    return out


def _dragn_row(t: pd.DataFrame, coords: SkyCoord, i: int, j: int, sep: float, psi: float,
               core_rows: np.ndarray, config: DragnConfig) -> dict:  # fmt: skip
    fi, fj = float(t["Total_flux"][i]), float(t["Total_flux"][j])
    midpoint = SkyCoord(*_mean_position(coords[[i, j]], [1.0, 1.0]), unit="deg")
    centroid = SkyCoord(*_mean_position(coords[[i, j]], [fi, fj]), unit="deg")
    core = -1
    cores = core_rows[(core_rows != i) & (core_rows != j)]
    if cores.size:
        to_mid = coords[cores].separation(midpoint).arcsec
        near = cores[(to_mid <= config.core_radius_arcsec) & (to_mid < sep / 2.0)]
        if near.size:
            core = int(near[np.argmin(coords[near].separation(centroid).arcsec)])
    members = [i, j] + ([core] if core >= 0 else [])
    flux = float(t["Total_flux"][members].sum())
    error = float(np.sqrt((t["E_Total_flux"][members] ** 2).sum()))
    return {"Name": "", "RA": centroid.ra.deg, "DEC": centroid.dec.deg, "Sep": sep,
            "Misalignment": psi, "Total_flux": flux, "E_Total_flux": error,
            "Lobe_1": t["Component_name"][i], "Lobe_2": t["Component_name"][j],
            "Core": t["Component_name"][core] if core >= 0 else "",
            "Lobe_1_id": i, "Lobe_2_id": j, "Core_id": core}  # fmt: skip


def _mean_position(coords: SkyCoord, weights: list[float]) -> tuple[float, float]:
    """Weighted mean direction (unit vectors), as (ra, dec) in degrees."""
    xyz = coords.cartesian.xyz.value.T
    mean = np.average(xyz, axis=0, weights=weights)
    mean /= np.linalg.norm(mean)
    return float(np.degrees(np.arctan2(mean[1], mean[0])) % 360.0), float(
        np.degrees(np.arcsin(mean[2])))
