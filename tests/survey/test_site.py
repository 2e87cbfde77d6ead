"""Zenith distance and parallactic angle against astropy's AltAz frame and independent formulas."""

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import TETE, AltAz, EarthLocation, SkyCoord
from astropy.time import Time

import vlassdask  # noqa: F401
from vlassdask.errors import ConfigError
from vlassdask.survey import (
    VLA_SITE,
    Site,
    hour_angle,
    local_sidereal_time,
    parallactic_angle,
    parallactic_angle_from_hour_angle,
    zenith_distance,
    zenith_distance_from_hour_angle,
)

TOL_RAD = 1e-6


@pytest.fixture(scope="module")
def grid():
    """RA x Dec x time grid, taken as apparent (TETE) coordinates, with astropy's geometry."""
    ra, dec, mjd = np.meshgrid(
        np.arange(0.0, 360.0, 22.5),
        np.array([-40.0, -20.0, -5.0, 0.0, 20.0, 34.0, 50.0, 70.0, 89.0]),
        np.linspace(58_000.0, 60_800.0, 5) + 0.137,
        indexing="ij",
    )
    ra, dec, mjd = ra.ravel(), dec.ravel(), mjd.ravel()
    loc = EarthLocation.from_geodetic(
        VLA_SITE.lon_deg * u.deg, VLA_SITE.lat_deg * u.deg, VLA_SITE.height_m * u.m
    )
    t = Time(mjd, format="mjd", scale="utc")
    src = SkyCoord(ra * u.deg, dec * u.deg, frame=TETE(obstime=t, location=loc))
    altaz = AltAz(obstime=t, location=loc, pressure=0 * u.hPa)  # no refraction
    zd_astropy = 90.0 - src.transform_to(altaz).alt.deg
    # the site's zenith in the same apparent frame: its Dec is the latitude and its RA the local
    # sidereal time as astropy realises them (they include polar motion)
    zenith = SkyCoord(alt=90 * u.deg, az=0 * u.deg, frame=altaz).transform_to(
        TETE(obstime=t, location=loc)
    )
    pa_astropy = src.position_angle(zenith).deg
    gast0 = t.sidereal_time("apparent", longitude=0 * u.deg).deg
    return {
        "ra": ra,
        "dec": dec,
        "mjd": mjd,
        "zd": zd_astropy,
        "pa": pa_astropy,
        "lat_eff": zenith.dec.deg,
        "lon_eff": zenith.ra.deg - gast0,
        "lst": zenith.ra.deg,
    }


def _angle_diff_rad(a_deg, b_deg):
    return np.abs(np.radians((np.asarray(a_deg) - b_deg + 180.0) % 360.0 - 180.0))


def test_zenith_distance_matches_astropy_altaz(grid):
    kw = {"lat_deg": grid["lat_eff"], "lon_deg": grid["lon_eff"], "sidereal": "apparent"}
    zd = zenith_distance(grid["ra"], grid["dec"], grid["mjd"], **kw)
    assert _angle_diff_rad(zd, grid["zd"]).max() < TOL_RAD
    # with the nominal site the only difference is polar motion (< 0.5 arcsec)
    zd_nominal = zenith_distance(grid["ra"], grid["dec"], grid["mjd"], sidereal="apparent")
    assert _angle_diff_rad(zd_nominal, grid["zd"]).max() < 3e-6


def test_parallactic_angle_matches_astropy(grid):
    kw = {"lat_deg": grid["lat_eff"], "lon_deg": grid["lon_eff"], "sidereal": "apparent"}
    pa = parallactic_angle(grid["ra"], grid["dec"], grid["mjd"], **kw)
    ok = grid["zd"] > 0.01  # the angle is undefined at the zenith itself
    assert _angle_diff_rad(pa[ok], grid["pa"][ok]).max() < TOL_RAD


def test_against_an_independent_vector_formula(grid):
    lst, lat = np.radians(grid["lst"]), np.radians(grid["lat_eff"])
    ra, dec = np.radians(grid["ra"]), np.radians(grid["dec"])
    src = np.stack([np.cos(dec) * np.cos(ra), np.cos(dec) * np.sin(ra), np.sin(dec)], -1)
    zen = np.stack([np.cos(lat) * np.cos(lst), np.cos(lat) * np.sin(lst), np.sin(lat)], -1)
    north = np.stack([-np.sin(dec) * np.cos(ra), -np.sin(dec) * np.sin(ra), np.cos(dec)], -1)
    east = np.stack([-np.sin(ra), np.cos(ra), np.zeros_like(ra)], -1)
    zd_vec = np.arctan2(np.linalg.norm(np.cross(src, zen), axis=-1), (src * zen).sum(-1))
    pa_vec = np.arctan2((zen * east).sum(-1), (zen * north).sum(-1))
    ha = grid["lst"] - grid["ra"]
    zd = zenith_distance_from_hour_angle(ha, grid["dec"], grid["lat_eff"])
    pa = parallactic_angle_from_hour_angle(ha, grid["dec"], grid["lat_eff"])
    assert _angle_diff_rad(zd, np.degrees(zd_vec)).max() < TOL_RAD
    ok = zd_vec > 1e-4
    assert _angle_diff_rad(pa[ok], np.degrees(pa_vec[ok])).max() < TOL_RAD


def test_nrao_pipeline_example():
    # calc_zd_pa docstring of the NRAO pipeline (CASA GMST1, geocentric VLA latitude)
    args = (239.9618166667, 33.5, 58089.82306510417)
    site = {"lon_deg": -107.61833, "lat_deg": 33.90049}
    zd = np.radians(zenith_distance(*args, **site))
    chi = np.radians(parallactic_angle(*args, **site))
    assert zd == pytest.approx(0.2981984027696312, abs=5e-7)
    assert chi == pytest.approx(1.4473222298324353, abs=5e-7)


def test_hour_angle_folding_and_quadrants():
    mjd = 58_500.25
    lst = float(local_sidereal_time(mjd))
    ha = hour_angle(lst - np.array([-179.0, -90.0, 0.0, 90.0, 179.0, 181.0]), mjd)
    np.testing.assert_allclose(ha, [-179.0, -90.0, 0.0, 90.0, 179.0, -179.0], atol=1e-9)
    assert ((ha >= -180) & (ha < 180)).all()
    lat = VLA_SITE.lat_deg
    h = np.array([-60.0, -1.0, 1.0, 60.0])
    # south of the zenith: chi near 0 at transit; north of it (Dec > lat): near +-180
    for dec in (0.0, 60.0, 80.0):
        chi = parallactic_angle_from_hour_angle(h, dec, lat)
        assert (np.sign(chi) == np.sign(h)).all()
    assert abs(parallactic_angle_from_hour_angle(0.5, 0.0, lat)) < 1.0
    assert abs(parallactic_angle_from_hour_angle(0.5, 60.0, lat)) > 179.0
    # folding: H and H + 360 give the same angle
    np.testing.assert_allclose(
        parallactic_angle_from_hour_angle(h + 360.0, 20.0, lat),
        parallactic_angle_from_hour_angle(h, 20.0, lat),
    )
    assert zenith_distance_from_hour_angle(0.0, lat, lat) == pytest.approx(0.0, abs=1e-6)


def test_mean_and_apparent_sidereal_time_differ_by_the_equation_of_equinoxes():
    mjd = np.linspace(58_000, 60_000, 7)
    diff = local_sidereal_time(mjd, sidereal="apparent") - local_sidereal_time(mjd)
    assert np.abs((diff + 180) % 360 - 180).max() * 240 < 1.2  # seconds of time


def test_bad_site_and_sidereal():
    with pytest.raises(ConfigError, match="latitude"):
        Site(lon_deg=0.0, lat_deg=95.0)
    with pytest.raises(ConfigError, match="sidereal"):
        local_sidereal_time(58_000.0, sidereal="gmst")
