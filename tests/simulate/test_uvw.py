"""uvw and observing times against independent astropy computations."""

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import TETE, AltAz, SkyCoord
from astropy.time import Time

from vlassdask.simulate.array import VLA_LONGITUDE_DEG, load_vla_b_configuration, vla_location
from vlassdask.simulate.observation import time_at_hour_angle

from .helpers import independent_uvw, read_table


def _check_uvw(ms):
    main = read_table(ms, ["UVW", "TIME", "ANTENNA1", "ANTENNA2", "FIELD_ID"])
    field = read_table(ms, ["PHASE_DIR"], "FIELD")["PHASE_DIR"][:, 0]
    positions = read_table(ms, ["POSITION"], "ANTENNA")["POSITION"]
    pick = np.isin(main["TIME"], np.unique(main["TIME"])[[0, -1]])
    ra, dec = np.degrees(field[main["FIELD_ID"][pick]]).T
    expected = independent_uvw(
        main["TIME"][pick], main["ANTENNA1"][pick], main["ANTENNA2"][pick], positions, ra, dec
    )
    np.testing.assert_allclose(main["UVW"][pick], expected, atol=1e-3)
    baselines = positions[main["ANTENNA2"]] - positions[main["ANTENNA1"]]
    np.testing.assert_allclose(
        np.linalg.norm(main["UVW"], axis=1), np.linalg.norm(baselines, axis=1), atol=1e-6
    )


def test_pointed_uvw_match_astropy(pointed_ms):
    _check_uvw(pointed_ms)


def test_otf_uvw_match_astropy_with_each_field_centre(otf_ms):
    _check_uvw(otf_ms)


def test_antenna_table():
    array = load_vla_b_configuration()
    assert array.n_antennas == 27 and array.baselines()[0].size == 351
    assert np.all(array.dish_diameter_m == 25.0)
    site = np.array([c.to_value(u.m) for c in vla_location().to_geocentric()])
    offsets = np.linalg.norm(array.positions_itrf_m - site, axis=1)
    assert np.all(offsets < 12e3)  # B configuration arms are < 6 km long


@pytest.mark.parametrize("hour_angle", [-1.0, 0.0, 2.5])
def test_start_time_has_requested_hour_angle(hour_angle):
    start = time_at_hour_angle(150.0, -26.0, "2019-06-01", hour_angle)
    assert start.strftime("%Y-%m-%d") == "2019-06-01"
    lst = start.sidereal_time("apparent", longitude=VLA_LONGITUDE_DEG * u.deg).hour
    ra = SkyCoord(150.0, -26.0, unit="deg").transform_to(TETE(obstime=start)).ra.hour
    assert (lst - ra - hour_angle + 12) % 24 - 12 == pytest.approx(0.0, abs=1e-5)


def test_transit_zenith_distance_at_dec_minus_26():
    start = time_at_hour_angle(150.0, -26.0, "2019-06-01", 0.0)
    altaz = SkyCoord(150.0, -26.0, unit="deg").transform_to(
        AltAz(obstime=Time(start), location=vla_location())
    )
    assert 90.0 - altaz.alt.deg == pytest.approx(60.1, abs=0.2)
