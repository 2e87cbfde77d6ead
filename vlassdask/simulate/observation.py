"""Time, field and spectral-window layout of a simulated observation.

Single mode: one field at (ra_deg, dec_deg), ``floor(duration / integration)`` integrations.

OTF mode (as VLASS): the antennas scan in RA at constant Dec at ``otf_scan_rate_arcmin_s``; the
phase centre advances every ``otf_integrations_per_phase_centre`` integrations, i.e. by
rate x integrations x integration_s on the sky (3.31'/s x 2 x 0.45 s = 2.98'). Each phase centre is
one FIELD row; the pointing centre is modelled as stepping with the phase centre (the beam's
motion within one 0.9 s step, < 1.5', is not modelled). ``otf_rows`` raster rows, one scan each,
alternate in direction and are ``otf_row_spacing_arcmin`` apart in Dec; the raster is centred on
(ra_deg, dec_deg) and the total duration is split evenly between rows.

Start time: ``start_utc`` if given, else the first instant on ``date`` (UTC) at which
(ra_deg, dec_deg) has apparent hour angle ``hour_angle_h`` at the VLA, where the hour angle is
local apparent sidereal time minus the apparent (true equator and equinox of date) RA.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from astropy import units as u
from astropy.coordinates import TETE, SkyCoord
from astropy.time import Time
from numpy.typing import NDArray

from vlassdask.simulate.array import VLA_LONGITUDE_DEG
from vlassdask.simulate.config import (
    VLASS_BAND_START_HZ,
    VLASS_SPW_BANDWIDTH_HZ,
    SimulationConfig,
)

#: Ratio of sidereal to solar time rates.
SIDEREAL_PER_SOLAR = 1.002737909350795


@dataclass(frozen=True)
class ObservationLayout:
    """Integrations, fields and spectral windows of an observation.

    Attributes
    ----------
    start : astropy.time.Time
        Start of the first integration (UTC).
    integration_s : float
        Integration time, seconds.
    time_mjd_s : numpy.ndarray
        Integration mid-times, MJD seconds (UTC), shape (time,).
    time_field : numpy.ndarray
        Field index of each integration, int32, shape (time,).
    time_scan : numpy.ndarray
        Scan number (1-based) of each integration, int32, shape (time,).
    field_ra_rad, field_dec_rad : numpy.ndarray
        ICRS phase centres, radians, shape (field,).
    field_names : tuple of str
        Length (field,).
    spw_ids : numpy.ndarray
        VLASS spectral-window index (0-15) of each simulated window, shape (spw,).
    chan_freq_hz : numpy.ndarray
        Channel centre frequencies, Hz, shape (spw, chan).
    channel_width_hz : float
        Channel width, Hz.
    """

    start: Time
    integration_s: float
    time_mjd_s: NDArray[np.float64]
    time_field: NDArray[np.int32]
    time_scan: NDArray[np.int32]
    field_ra_rad: NDArray[np.float64]
    field_dec_rad: NDArray[np.float64]
    field_names: tuple[str, ...]
    spw_ids: NDArray[np.int32]
    chan_freq_hz: NDArray[np.float64]
    channel_width_hz: float

    @property
    def n_times(self) -> int:
        """Number of integrations."""
        return self.time_mjd_s.size

    @property
    def n_fields(self) -> int:
        """Number of fields (phase centres)."""
        return self.field_ra_rad.size

    def field_time_range(self, field: int) -> tuple[float, float]:
        """(first start, last end) of a field's integrations, MJD seconds."""
        times = self.time_mjd_s[self.time_field == field]
        half = 0.5 * self.integration_s
        return float(times.min() - half), float(times.max() + half)


def time_at_hour_angle(ra_deg: float, dec_deg: float, date: str, hour_angle_h: float) -> Time:
    """First UTC instant on ``date`` when (ra, dec) has the given apparent hour angle at the VLA.

    Parameters
    ----------
    ra_deg, dec_deg
        ICRS direction, degrees.
    date
        UTC date, ``YYYY-MM-DD`` (its 00:00 UTC starts the search).
    hour_angle_h
        Hour angle, hours (negative: east of the meridian, before transit).

    Returns
    -------
    astropy.time.Time
        The UTC time, accurate to well below a millisecond.
    """
    midnight = Time(Time(date, scale="utc").strftime("%Y-%m-%d"), scale="utc")
    coord = SkyCoord(ra_deg * u.deg, dec_deg * u.deg, frame="icrs")
    time = midnight
    for iteration in range(4):
        lst = time.sidereal_time("apparent", longitude=VLA_LONGITUDE_DEG * u.deg).hour
        ra_apparent = coord.transform_to(TETE(obstime=time)).ra.hour
        error = hour_angle_h - (lst - ra_apparent)
        error = np.mod(error, 24.0) if iteration == 0 else np.mod(error + 12.0, 24.0) - 12.0
        time = time + (error / SIDEREAL_PER_SOLAR) * u.hour
    return time


def spectral_layout(config: SimulationConfig) -> tuple[NDArray[np.int32], NDArray[np.float64]]:
    """Spectral windows and channel centre frequencies.

    Returns
    -------
    tuple
        ``(spw_ids, chan_freq_hz)`` with shapes (spw,) and (spw, chan); spw k covers
        1.965 GHz + k x 128 MHz to 1.965 GHz + (k + 1) x 128 MHz.
    """
    spw_ids = np.asarray(config.spw_ids, dtype=np.int32)
    offsets = (np.arange(config.nchan_per_spw) + 0.5) * config.channel_width_hz
    starts = VLASS_BAND_START_HZ + spw_ids * VLASS_SPW_BANDWIDTH_HZ
    return spw_ids, starts[:, None] + offsets[None, :]


def build_layout(config: SimulationConfig) -> ObservationLayout:
    """Lay out integrations, fields and spectral windows for ``config``.

    Returns
    -------
    ObservationLayout
    """
    if config.start_utc is not None:
        start = Time(config.start_utc, scale="utc")
    else:
        start = time_at_hour_angle(config.ra_deg, config.dec_deg, config.date, config.hour_angle_h)
    if config.mode == "otf":
        fields = _otf_fields(config)
    else:
        n_times = max(1, int(np.floor(config.duration_s / config.integration_s + 1e-9)))
        fields = (
            np.array([np.radians(config.ra_deg)]),
            np.array([np.radians(config.dec_deg)]),
            (config.field_name,),
            np.zeros(n_times, dtype=np.int32),
            np.ones(n_times, dtype=np.int32),
        )
    ra, dec, names, time_field, time_scan = fields
    start_mjd_s = start.mjd * 86400.0
    mid = start_mjd_s + (np.arange(time_field.size) + 0.5) * config.integration_s
    spw_ids, chan_freq = spectral_layout(config)
    return ObservationLayout(
        start=start,
        integration_s=config.integration_s,
        time_mjd_s=mid,
        time_field=time_field,
        time_scan=time_scan,
        field_ra_rad=ra,
        field_dec_rad=dec,
        field_names=names,
        spw_ids=spw_ids,
        chan_freq_hz=chan_freq,
        channel_width_hz=config.channel_width_hz,
    )


def _otf_fields(config: SimulationConfig) -> tuple:
    """Phase centres and per-integration field/scan indices of an OTF raster."""
    per_step = config.otf_integrations_per_phase_centre
    n_int_row = int(np.floor(config.duration_s / config.otf_rows / config.integration_s + 1e-9))
    n_steps = max(1, n_int_row // per_step)
    step_deg = config.otf_scan_rate_arcmin_s * per_step * config.integration_s / 60.0
    offsets_deg = (np.arange(n_steps) - 0.5 * (n_steps - 1)) * step_deg
    ra, dec = [], []
    for row in range(config.otf_rows):
        row_dec = config.dec_deg + (row - 0.5 * (config.otf_rows - 1)) * (
            config.otf_row_spacing_arcmin / 60.0
        )
        direction = 1.0 if row % 2 == 0 else -1.0
        row_ra = config.ra_deg + direction * offsets_deg / np.cos(np.radians(row_dec))
        ra.append(np.radians(np.mod(row_ra, 360.0)))
        dec.append(np.full(n_steps, np.radians(row_dec)))
    n_fields = config.otf_rows * n_steps
    names = tuple(f"{config.field_name}_{i:05d}" for i in range(n_fields))
    time_field = np.repeat(np.arange(n_fields, dtype=np.int32), per_step)
    time_scan = np.repeat(np.arange(1, config.otf_rows + 1, dtype=np.int32), n_steps * per_step)
    return np.concatenate(ra), np.concatenate(dec), names, time_field, time_scan
