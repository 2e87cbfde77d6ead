"""Configuration and sky-model validation and parsing."""

import numpy as np
import pytest
import yaml

from vlassdask.errors import ConfigError, InputError
from vlassdask.imaging.primary_beam import vla_primary_beam
from vlassdask.io.config_files import load_config, load_sky_model
from vlassdask.simulate import SimulationConfig, from_dict, random_sky
from vlassdask.simulate.config import to_dict
from vlassdask.simulate.sky import SKY_COLUMNS, SkyModel


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"dec_deg": 95.0}, "dec_deg"),
        ({"nchan_per_spw": 0}, "nchan_per_spw"),
        ({"spw_ids": [0, 16]}, "spw_ids"),
        ({"spw_ids": [1, 1]}, "duplicates"),
        ({"mode": "mosaic"}, "mode"),
        ({"duration_s": -1}, "duration_s"),
        ({"flag_fraction": 1.5}, "flag_fraction"),
        ({"noise_sigma_jy": "big"}, "noise_sigma_jy"),
        ({"antennas": ["ea99"]}, "unknown antenna"),
        ({"start_utc": "yesterday"}, "start_utc"),
        ({"hour_angle": -1}, "unknown simulation config key"),
        ({"flag_time_ranges_s": [[5, 1]]}, "end > start"),
    ],
)
def test_bad_config_raises(values, message):
    with pytest.raises(ConfigError, match=message):
        from_dict(values)


def test_yaml_round_trip(tmp_path):
    config = from_dict({"mode": "otf", "spw_ids": [0, 3], "flag_baselines": [["ea01", "N08"]]})
    path = tmp_path / "sim.yaml"
    path.write_text(yaml.safe_dump({"simulate": to_dict(config)}))
    assert load_config(path) == config
    assert config.spw_ids == (0, 3) and isinstance(config, SimulationConfig)
    path.write_text("- not a mapping\n")
    with pytest.raises(ConfigError, match="mapping"):
        load_config(path)


def test_vlass_defaults():
    config = SimulationConfig()
    assert config.integration_s == 0.45 and len(config.spw_ids) == 16
    assert config.otf_scan_rate_arcmin_s == 3.31 and config.otf_integrations_per_phase_centre == 2


def test_sky_from_csv_and_yaml(tmp_path):
    csv = tmp_path / "sky.csv"
    csv.write_text(
        "ra_deg,dec_deg,flux_jy,major_arcsec,minor_arcsec\n10,20,1.5,4,2\n10.1,20,0.5,,\n"
    )
    sky = load_sky_model(csv)
    assert list(sky.table.columns) == list(SKY_COLUMNS)
    np.testing.assert_allclose(sky.column("major_arcsec"), [4.0, 0.0])
    yml = tmp_path / "sky.yaml"
    yml.write_text(yaml.safe_dump({"sources": [{"ra_deg": 10, "dec_deg": 20, "flux_jy": 1}]}))
    assert len(load_sky_model(yml)) == 1
    stokes = SkyModel(sky.table.assign(pol_fraction=0.1, pol_angle_deg=22.5)).stokes_per_channel(
        np.array([3e9])
    )
    np.testing.assert_allclose(stokes[0, 0], [1.5, 0.15 / np.sqrt(2), 0.15 / np.sqrt(2), 0.0])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("ra_deg,flux_jy\n1,2\n", "dec_deg"),
        ("ra_deg,dec_deg,flux_jy,colour\n1,2,3,red\n", "unknown column"),
        ("ra_deg,dec_deg,flux_jy\n1,2,abc\n", "non-numeric"),
        ("ra_deg,dec_deg,flux_jy,major_arcsec,minor_arcsec\n1,2,3,1,2\n", "minor_arcsec"),
    ],
)
def test_bad_sky_raises(tmp_path, text, message):
    path = tmp_path / "sky.csv"
    path.write_text(text)
    with pytest.raises(InputError, match=message):
        load_sky_model(path)


def test_random_sky_is_seeded_and_inside_radius():
    from astropy.coordinates import SkyCoord

    sky = random_sky(50, ra_deg=359.95, dec_deg=-30.0, radius_deg=0.2, seed=4)
    assert sky.table.equals(
        random_sky(50, ra_deg=359.95, dec_deg=-30.0, radius_deg=0.2, seed=4).table
    )
    coords = SkyCoord(sky.column("ra_deg"), sky.column("dec_deg"), unit="deg")
    assert coords.separation(SkyCoord(359.95, -30.0, unit="deg")).deg.max() <= 0.2 + 1e-9


def test_primary_beam():
    assert vla_primary_beam(0.0, 3e9) == 1.0
    arcmin = np.radians(1 / 60)
    # 5' at 3.1 GHz uses the 3052 MHz coefficients with x = 15.5
    x = 15.5
    expected = 1 - 1.467e-3 * x**2 + 8.05e-7 * x**4 - 1.70e-10 * x**6
    assert vla_primary_beam(5 * arcmin, 3.1e9) == pytest.approx(expected)
    # clamping: 1 GHz uses the 2052 MHz coefficients with x = r * 1
    x = 20.0
    expected = 1 - 1.429e-3 * x**2 + 7.52e-7 * x**4 - 1.47e-10 * x**6
    assert vla_primary_beam(20 * arcmin, 1.0e9) == pytest.approx(expected)
    radii = np.linspace(0, 30, 301) * arcmin
    beam = vla_primary_beam(radii, 3e9)
    assert np.all(np.diff(beam) <= 0) and beam[-1] == 0.0
    half_power_arcmin = radii[np.argmin(np.abs(beam - 0.5))] / arcmin
    assert 6.5 < half_power_arcmin < 8.0  # FWHM ~ 15' at 3 GHz
