"""Gridder choice per tile from the zenith distances of its images during a scheduled observation.

A tile needs w-projection when the median zenith distance of its image phase centres is >= 45 deg
or the maximum is >= 50 deg (SPEC.md, paper Sec. 3.3); otherwise 2-D/mosaic gridding plus the
w-term position correction suffices. The thresholds are a config (:class:`GridderThresholds`).

Schedule table (one row per tile observation; CSV or Parquet, read by
:func:`vlassdask.io.schedule.read_schedule`):

============  ========================================================================
column        meaning
============  ========================================================================
``tile``      tile name ``TNNtMM``
``start_utc`` start of the observation, ISO 8601 UTC (``2019-07-12T03:10:00``)
``stop_utc``  end of the observation, same format, after ``start_utc``
``epoch``     optional half-epoch label (``VLASS1.2``), carried to the output
============  ========================================================================

Time model: an OTF observation rasters the tile in RA along Dec rows stepping from ``dec_min`` to
``dec_max`` at an even pace, so an image centred at Dec ``d`` collects its data around
``start + (d - dec_min) / (dec_max - dec_min) * (stop - start)``; that is its mean observing time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from vlassdask.errors import ConfigError, InputError
from vlassdask.survey.phase_centers import phase_centers
from vlassdask.survey.position_correction import correction_magnitude
from vlassdask.survey.site import VLA_SITE, Site, parallactic_angle, zenith_distance
from vlassdask.survey.tiles import get_tile

SCHEDULE_COLUMNS = ("tile", "start_utc", "stop_utc")
GRIDDER_WPROJECT = "wproject"
GRIDDER_MOSAIC = "mosaic"
_MJD_EPOCH = pd.Timestamp("1858-11-17T00:00:00Z")


@dataclass(frozen=True)
class GridderThresholds:
    """Zenith-distance limits (deg) above which a tile is imaged with w-projection.

    Attributes
    ----------
    median_deg
        w-projection when the median zenith distance of the tile's images is >= this.
    max_deg
        w-projection when the maximum zenith distance is >= this.
    """

    median_deg: float = 45.0
    max_deg: float = 50.0

    def __post_init__(self) -> None:
        for name in ("median_deg", "max_deg"):
            value = getattr(self, name)
            if not 0.0 < value < 90.0:
                raise ConfigError(f"gridder threshold {name}={value} must lie in (0, 90) deg")


def choose_gridder(
    median_zd_deg: ArrayLike,
    max_zd_deg: ArrayLike,
    thresholds: GridderThresholds | None = None,
) -> np.ndarray:
    """``"wproject"`` or ``"mosaic"`` per tile from its median and maximum zenith distance."""
    th = thresholds or GridderThresholds()
    wproj = (np.asarray(median_zd_deg) >= th.median_deg) | (np.asarray(max_zd_deg) >= th.max_deg)
    return np.where(wproj, GRIDDER_WPROJECT, GRIDDER_MOSAIC)


def _to_mjd(values: pd.Series, column: str) -> np.ndarray:
    try:
        times = pd.to_datetime(values, utc=True, format="ISO8601")
    except (ValueError, TypeError) as exc:
        raise InputError(f"schedule column {column!r} has an unreadable UTC time: {exc}") from None
    if times.isna().any():
        raise InputError(f"schedule column {column!r} has missing times")
    return ((times - _MJD_EPOCH) / pd.Timedelta(days=1)).to_numpy(dtype=float)


def check_schedule(schedule: pd.DataFrame) -> pd.DataFrame:
    """Validate a schedule table; return it with ``start_mjd``/``stop_mjd`` columns added.

    Raises
    ------
    InputError
        On a missing column, unknown tile, unreadable time or ``stop_utc <= start_utc``.
    """
    missing = [c for c in SCHEDULE_COLUMNS if c not in schedule.columns]
    if missing:
        need = ", ".join(SCHEDULE_COLUMNS)
        raise InputError(f"schedule table lacks column(s) {', '.join(missing)}; needs {need}")
    if schedule.empty:
        raise InputError("schedule table has no rows")
    out = schedule.copy()
    out["tile"] = out["tile"].astype(str).str.strip()
    for name in out["tile"].unique():
        get_tile(name)
    out["start_mjd"] = _to_mjd(out["start_utc"], "start_utc")
    out["stop_mjd"] = _to_mjd(out["stop_utc"], "stop_utc")
    bad = out["stop_mjd"] <= out["start_mjd"]
    if bad.any():
        row = out[bad].iloc[0]
        raise InputError(f"schedule row for {row['tile']}: stop_utc is not after start_utc")
    return out.reset_index(drop=True)


def schedule_images(
    schedule: pd.DataFrame,
    *,
    site: Site = VLA_SITE,
    sidereal: str = "mean",
    freq_hz: float = 3.0e9,
) -> pd.DataFrame:
    """Every image of every scheduled tile observation, with its time and geometry.

    Returns
    -------
    pandas.DataFrame
        One row per (schedule row, image): ``observation`` (schedule row index), ``tile``,
        ``name``, ``ra``, ``dec``, ``mjd`` (mean observing time, raster model), ``zenith_distance``
        and ``parallactic_angle`` (deg) and ``shift_arcsec`` (w-term correction at ``freq_hz``).
    """
    sched = check_schedule(schedule)
    frames = []
    for obs, row in sched.iterrows():
        tile = get_tile(row["tile"])
        pcs = phase_centers(tile.name)[["tile", "name", "ra", "dec"]]
        frac = (pcs["dec"].to_numpy() - tile.dec_min) / (tile.dec_max - tile.dec_min)
        pcs.insert(0, "observation", obs)
        pcs["mjd"] = row["start_mjd"] + frac * (row["stop_mjd"] - row["start_mjd"])
        frames.append(pcs)
    images = pd.concat(frames, ignore_index=True)
    args = (images["ra"].to_numpy(), images["dec"].to_numpy(), images["mjd"].to_numpy())
    images["zenith_distance"] = zenith_distance(*args, site=site, sidereal=sidereal)
    images["parallactic_angle"] = parallactic_angle(*args, site=site, sidereal=sidereal)
    below = images["zenith_distance"] >= 90.0
    if below.any():
        first = images[below].iloc[0]
        raise InputError(
            f"{first['tile']} image {first['name']} is below the horizon at its scheduled time"
        )
    images["shift_arcsec"] = correction_magnitude(images["zenith_distance"].to_numpy(), freq_hz)
    return images


def plan_schedule(
    schedule: pd.DataFrame,
    *,
    thresholds: GridderThresholds | None = None,
    site: Site = VLA_SITE,
    sidereal: str = "mean",
) -> pd.DataFrame:
    """Per scheduled tile observation: zenith-distance statistics and the gridder to use.

    Parameters
    ----------
    schedule
        Schedule table (see the module docstring).
    thresholds
        Gridder thresholds (45 deg median, 50 deg maximum by default).
    site, sidereal
        As :func:`vlassdask.survey.site.zenith_distance`.

    Returns
    -------
    pandas.DataFrame
        One row per schedule row: ``tile``, ``epoch`` (if given), ``start_utc``, ``stop_utc``,
        ``n_images``, ``zd_min``, ``zd_median``, ``zd_max`` (deg), ``max_shift_arcsec`` (3 GHz)
        and ``gridder`` (``"wproject"`` or ``"mosaic"``).
    """
    images = schedule_images(schedule, site=site, sidereal=sidereal)
    stats = images.groupby("observation").agg(
        n_images=("name", "size"),
        zd_min=("zenith_distance", "min"),
        zd_median=("zenith_distance", "median"),
        zd_max=("zenith_distance", "max"),
        max_shift_arcsec=("shift_arcsec", "max"),
    )
    keep = [c for c in ("tile", "epoch", "start_utc", "stop_utc") if c in schedule.columns]
    out = schedule.reset_index(drop=True)[keep].join(stats)
    out["gridder"] = choose_gridder(out["zd_median"], out["zd_max"], thresholds)
    return out
