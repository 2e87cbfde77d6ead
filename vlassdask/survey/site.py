"""Observing geometry at the VLA: sidereal time, hour angle, zenith distance, parallactic angle.

Frames. The functions take RA/Dec in the equatorial frame that matches the sidereal time chosen:

* ``sidereal="mean"`` (default; SPEC.md and the NRAO pipeline's ``calc_zd_pa``): LST = GMST +
  longitude, with the image's ICRS/J2000 RA/Dec used as they are. Precession and nutation since
  J2000 are ignored, which moves the zenith distance by up to ~0.4 deg in 2017-2026 — under 1% of
  a w-term correction; this is the convention the published VLASS corrections used.
* ``sidereal="apparent"``: LST = GAST + longitude. Pass apparent (true equator and equinox of
  date, astropy ``TETE``) RA/Dec for the exact geometric zenith distance; it then agrees with
  astropy's ``AltAz`` (no refraction) to the Earth's polar motion (<~0.5 arcsec), or to rounding
  when the site's latitude/longitude are corrected for polar motion.

Sidereal time comes from astropy (UT1 from the bundled IERS tables; no downloads). Angles are
degrees in and out; every function is vectorised and broadcasts its array arguments (site
latitude and longitude may be arrays too).
"""

from __future__ import annotations

from dataclasses import dataclass

import astropy.units as u
import numpy as np
from astropy.time import Time
from numpy.typing import ArrayLike

from vlassdask.errors import ConfigError


@dataclass(frozen=True)
class Site:
    """An observatory position.

    Attributes
    ----------
    lon_deg
        East longitude in degrees.
    lat_deg
        Geodetic latitude in degrees.
    height_m
        Height above the WGS84 ellipsoid in metres.
    """

    lon_deg: float
    lat_deg: float
    height_m: float = 0.0

    def __post_init__(self) -> None:
        if not -90.0 <= self.lat_deg <= 90.0:
            raise ConfigError(f"site latitude {self.lat_deg} deg is outside -90..90")
        if not -360.0 <= self.lon_deg <= 360.0:
            raise ConfigError(f"site longitude {self.lon_deg} deg is outside -360..360")


VLA_SITE = Site(lon_deg=-107.6180, lat_deg=34.07883, height_m=2118.6)
"""The VLA (SPEC.md): longitude -107.6180 deg, geodetic latitude 34.07883 deg, 2118.6 m."""

SIDEREAL_KINDS = ("mean", "apparent")


def local_sidereal_time(
    mjd: ArrayLike, lon_deg: ArrayLike = VLA_SITE.lon_deg, *, sidereal: str = "mean"
) -> np.ndarray:
    """Local sidereal time in degrees [0, 360) at UTC ``mjd`` and east longitude ``lon_deg``.

    Parameters
    ----------
    mjd
        UTC Modified Julian Date(s).
    lon_deg
        East longitude(s) in degrees.
    sidereal
        ``"mean"`` (GMST + longitude) or ``"apparent"`` (GAST + longitude).
    """
    if sidereal not in SIDEREAL_KINDS:
        raise ConfigError(f"sidereal must be one of {SIDEREAL_KINDS}, got {sidereal!r}")
    time = Time(np.asarray(mjd, dtype=float), format="mjd", scale="utc")
    gst = time.sidereal_time(sidereal, longitude=0.0 * u.deg).deg
    return np.mod(gst + np.asarray(lon_deg, dtype=float), 360.0)


def hour_angle(
    ra_deg: ArrayLike,
    mjd: ArrayLike,
    lon_deg: ArrayLike = VLA_SITE.lon_deg,
    *,
    sidereal: str = "mean",
) -> np.ndarray:
    """Hour angle LST - RA in degrees, folded into [-180, 180)."""
    lst = local_sidereal_time(mjd, lon_deg, sidereal=sidereal)
    return np.mod(lst - np.asarray(ra_deg, dtype=float) + 180.0, 360.0) - 180.0


def zenith_distance_from_hour_angle(
    ha_deg: ArrayLike, dec_deg: ArrayLike, lat_deg: ArrayLike
) -> np.ndarray:
    """Zenith distance (deg) ``arccos(sin(lat) sin(dec) + cos(lat) cos(dec) cos(H))``."""
    h, d, p = np.radians(ha_deg), np.radians(dec_deg), np.radians(lat_deg)
    cos_z = np.sin(p) * np.sin(d) + np.cos(p) * np.cos(d) * np.cos(h)
    return np.degrees(np.arccos(np.clip(cos_z, -1.0, 1.0)))


def parallactic_angle_from_hour_angle(
    ha_deg: ArrayLike, dec_deg: ArrayLike, lat_deg: ArrayLike
) -> np.ndarray:
    """Parallactic angle (deg) ``chi = arctan(sin H / (cos(dec) tan(lat) - sin(dec) cos H))``.

    The hour angle is folded into [-180, 180) and ``chi`` placed in the half-plane with the sign
    of ``H`` (SPEC.md, as the pipeline's quadrant fix-up): an ``arctan2`` of the numerator and
    denominator, giving chi in (-180, 180], positive west of the meridian. This is the position
    angle of the zenith seen from the source, measured from north through east.
    """
    h = np.radians(np.mod(np.asarray(ha_deg, dtype=float) + 180.0, 360.0) - 180.0)
    d, p = np.radians(dec_deg), np.radians(lat_deg)
    # cos(lat) > 0 scales both terms: arctan2 keeps the quadrant of the SPEC form and is finite
    # at the poles of the site.
    num = np.sin(h) * np.cos(p)
    den = np.cos(d) * np.sin(p) - np.sin(d) * np.cos(h) * np.cos(p)
    return np.degrees(np.arctan2(num, den))


def _site_hour_angle(ra_deg, mjd, site: Site, lon_deg, lat_deg, sidereal: str):
    """Hour angle (deg) at the site (or the overriding longitude) and the latitude to use."""
    lon = site.lon_deg if lon_deg is None else lon_deg
    lat = site.lat_deg if lat_deg is None else lat_deg
    return hour_angle(ra_deg, mjd, lon, sidereal=sidereal), lat


def zenith_distance(
    ra_deg: ArrayLike,
    dec_deg: ArrayLike,
    mjd: ArrayLike,
    *,
    site: Site = VLA_SITE,
    lon_deg: ArrayLike | None = None,
    lat_deg: ArrayLike | None = None,
    sidereal: str = "mean",
) -> np.ndarray:
    """Zenith distance (deg) of RA/Dec (deg) at UTC ``mjd`` seen from ``site``.

    ``lon_deg``/``lat_deg`` override the site's (they may be arrays). See the module docstring
    for the RA/Dec frame that goes with each ``sidereal`` choice.
    """
    ha, lat = _site_hour_angle(ra_deg, mjd, site, lon_deg, lat_deg, sidereal)
    return zenith_distance_from_hour_angle(ha, dec_deg, lat)


def parallactic_angle(
    ra_deg: ArrayLike,
    dec_deg: ArrayLike,
    mjd: ArrayLike,
    *,
    site: Site = VLA_SITE,
    lon_deg: ArrayLike | None = None,
    lat_deg: ArrayLike | None = None,
    sidereal: str = "mean",
) -> np.ndarray:
    """Parallactic angle (deg, in (-180, 180], sign of the hour angle) of RA/Dec at UTC ``mjd``.

    Arguments as :func:`zenith_distance`.
    """
    ha, lat = _site_hour_angle(ra_deg, mjd, site, lon_deg, lat_deg, sidereal)
    return parallactic_angle_from_hour_angle(ha, dec_deg, lat)
