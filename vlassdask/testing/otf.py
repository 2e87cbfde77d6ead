"""Small on-the-fly (OTF) mosaics for Quick Look tests and benchmarks.

:func:`otf_config` lays out a VLASS-like raster (phase centres 2.98' apart along RA, rows 7.2'
apart) around the survey phase centre J095953+203000 (tile T16t14, observed in VLASS1.2 on
2019-04-18); :func:`otf_sources` places flat-spectrum point sources at given distances from their
nearest pointing, using the simulator's own layout, and returns them with their truth.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from vlassdask.simulate import from_dict
from vlassdask.simulate.config import SimulationConfig
from vlassdask.simulate.observation import build_layout
from vlassdask.simulate.sky import SkyModel, sky_from_records

#: The survey phase centre the helpers image, its exact position and the date VLASS observed it.
PHASE_CENTER = "J095953+203000"
RA_DEG, DEC_DEG = 149.97462222222222, 20.5
DATE = "2019-04-18"
ARCMIN_DEG = 1.0 / 60.0


def otf_config(*, rows: int = 2, fields_per_row: int = 17, spw_ids=(2, 7, 12),
               nchan_per_spw: int = 2, noise_sigma_jy: float = 0.0, seed: int = 1,
               **overrides: Any) -> SimulationConfig:  # fmt: skip
    """An OTF raster of ``rows`` x ``fields_per_row`` phase centres (0.9 s each) centred on
    :data:`PHASE_CENTER`, 30 minutes before transit."""
    duration = rows * fields_per_row * 2 * 0.45
    values = dict(ra_deg=RA_DEG, dec_deg=DEC_DEG, date=DATE, hour_angle_h=-0.5,
                  duration_s=duration, mode="otf", otf_rows=rows, spw_ids=list(spw_ids),
                  nchan_per_spw=nchan_per_spw, noise_sigma_jy=noise_sigma_jy, seed=seed,
                  rows_per_chunk=20000)
    values.update(overrides)
    return from_dict(values)


def pointings_deg(config: SimulationConfig) -> np.ndarray:
    """(n_fields, 2) RA, Dec of the raster's pointings, degrees."""
    layout = build_layout(config)
    return np.degrees(np.stack([layout.field_ra_rad, layout.field_dec_rad], axis=1))


def offset_position(ra_deg: float, dec_deg: float, east_arcmin: float,
                    north_arcmin: float) -> tuple[float, float]:  # fmt: skip
    """The position ``east``/``north`` arcmin from (ra, dec) (small offsets)."""
    dec = dec_deg + north_arcmin * ARCMIN_DEG
    return ra_deg + east_arcmin * ARCMIN_DEG / math.cos(math.radians(dec)), dec


def nearest_pointing_arcmin(config: SimulationConfig, ra_deg: float, dec_deg: float) -> float:
    """Distance of a position from the raster's nearest pointing, arcmin."""
    p = np.radians(pointings_deg(config))
    ra, dec = math.radians(ra_deg), math.radians(dec_deg)
    cos_r = np.sin(p[:, 1]) * math.sin(dec) + np.cos(p[:, 1]) * math.cos(dec) * np.cos(
        p[:, 0] - ra)
    return float(np.degrees(np.arccos(np.clip(cos_r, -1, 1))).min() * 60.0)


def otf_sources(config: SimulationConfig, placements: list[tuple[str, float, float, float]]
                ) -> tuple[SkyModel, pd.DataFrame]:  # fmt: skip
    """Point sources at positions relative to the raster, and their truth.

    Parameters
    ----------
    config
        The raster.
    placements
        ``(label, east_arcmin, north_arcmin, flux_jy)`` offsets from the raster centre.

    Returns
    -------
    sky : SkyModel
        Flat-spectrum point sources.
    truth : pandas.DataFrame
        ``label, ra_deg, dec_deg, flux_jy, nearest_pointing_arcmin``.
    """
    rows = []
    for label, east, north, flux in placements:
        ra, dec = offset_position(config.ra_deg, config.dec_deg, east, north)
        rows.append({"label": label, "ra_deg": ra, "dec_deg": dec, "flux_jy": flux,
                     "nearest_pointing_arcmin": nearest_pointing_arcmin(config, ra, dec)})
    truth = pd.DataFrame(rows)
    sky = sky_from_records([{"ra_deg": r.ra_deg, "dec_deg": r.dec_deg, "flux_jy": r.flux_jy,
                             "spectral_index": 0.0} for r in truth.itertuples()], "OTF sources")
    return sky, truth


def quicklook_placements(config: SimulationConfig) -> list[tuple[str, float, float, float]]:
    """Sources 0', 3' and 6' from the nearest pointing and one near a 896" sub-image's edge, for
    the two-row raster of :func:`otf_config` (rows at -3.6' and +3.6')."""
    half_row = 0.5 * config.otf_row_spacing_arcmin * (config.otf_rows - 1)
    step = config.otf_scan_rate_arcmin_s * config.otf_integrations_per_phase_centre \
        * config.integration_s
    return [
        ("0arcmin", 0.0, -half_row, 0.10),
        ("3arcmin", 2 * step, half_row + 3.0, 0.06),
        ("6arcmin", -2 * step, -half_row - 6.0, 0.08),
        ("subimage_edge", 7.0, 0.5, 0.05),
    ]
