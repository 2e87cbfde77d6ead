"""Simulated rotation measures, linear feeds, parallel-hand-only data and per-window flags."""

import numpy as np
import pandas as pd
import pytest

from vlassdask.errors import ConfigError
from vlassdask.imaging.stokes import circular_to_linear
from vlassdask.simulate.array import load_vla_b_configuration
from vlassdask.simulate.config import SpwFlagRule, from_dict, to_dict
from vlassdask.testing.ms import make_test_ms
from vlassdask.testing.otf import otf_config

from .helpers import read_table

C = 299792458.0
POLARISED = pd.DataFrame({"ra_deg": [150.0], "dec_deg": [34.0], "flux_jy": [1.0],
                          "pol_fraction": [0.3], "pol_angle_deg": [20.0],
                          "rotation_measure": [40.0]})


def test_rotation_measure_turns_the_angle_with_wavelength_squared(tmp_path):
    ms = make_test_ms(tmp_path, sky=POLARISED, duration_s=0.45, spw_ids=[0, 15],
                      nchan_per_spw=4)
    main = read_table(ms, ["DATA", "DATA_DESC_ID"])
    freqs = read_table(ms, ["CHAN_FREQ"], "SPECTRAL_WINDOW")["CHAN_FREQ"][main["DATA_DESC_ID"]]
    q_iu = main["DATA"][..., 1]  # RL = Q + iU of the source at the phase centre (beam 1)
    chi = np.radians(20.0) + 40.0 * (C / freqs) ** 2
    np.testing.assert_allclose(q_iu, 0.3 * np.exp(2j * chi), atol=1e-6)
    assert np.ptp(chi) > 0.5  # the angle turns by more than 0.5 rad across the band


def test_linear_feeds_carry_the_same_sky(tmp_path):
    common = {"sky": POLARISED, "duration_s": 0.9, "spw_ids": [3], "nchan_per_spw": 2}
    circular = make_test_ms(tmp_path, name="circ.ms", **common)
    linear = make_test_ms(tmp_path, name="lin.ms", feeds="linear", **common)
    a, b = (read_table(ms, ["DATA"])["DATA"] for ms in (circular, linear))
    np.testing.assert_allclose(b, circular_to_linear(a), atol=1e-6)
    pol = read_table(linear, ["CORR_TYPE", "CORR_PRODUCT"], "POLARIZATION")
    assert pol["CORR_TYPE"].tolist() == [[9, 10, 11, 12]]
    assert pol["CORR_PRODUCT"].tolist() == [[[0, 0], [0, 1], [1, 0], [1, 1]]]
    feed = read_table(linear, ["POLARIZATION_TYPE"], "FEED")["POLARIZATION_TYPE"]
    assert sorted(set(feed["array"])) == ["X", "Y"]


def test_parallel_hands_only(tmp_path):
    ms = make_test_ms(tmp_path, sky=POLARISED, duration_s=0.45, spw_ids=[3],
                      correlations="parallel", weight_spectrum=True)
    main = read_table(ms, ["DATA", "FLAG", "WEIGHT", "WEIGHT_SPECTRUM"])
    assert main["DATA"].shape[-1] == main["FLAG"].shape[-1] == 2
    assert main["WEIGHT"].shape[-1] == main["WEIGHT_SPECTRUM"].shape[-1] == 2
    np.testing.assert_allclose(main["DATA"], 1.0, atol=1e-6)  # RR = LL = I at the centre
    assert read_table(ms, ["CORR_TYPE"], "POLARIZATION")["CORR_TYPE"].tolist() == [[5, 8]]


def test_spw_flag_rules_flag_exactly_what_they_say(tmp_path):
    rules = [{"spw": 2, "fields": [0, 1, 2]},
             {"spw": 7, "longer_than_m": 3000.0},
             {"spw": 12, "fraction": 0.5}]
    sim = otf_config(fields_per_row=4, flag_spws=rules)
    from vlassdask.products.simulation import simulate_observation

    ms = simulate_observation(sim, POLARISED.assign(ra_deg=sim.ra_deg, dec_deg=sim.dec_deg),
                              tmp_path / "flags.ms")
    main = read_table(ms, ["FLAG", "DATA_DESC_ID", "FIELD_ID", "ANTENNA1", "ANTENNA2"])
    flagged = main["FLAG"].all(axis=2)
    assert (main["FLAG"].any(axis=2) == flagged).all()  # all correlations alike
    positions = load_vla_b_configuration().positions_itrf_m
    length = np.linalg.norm(positions[main["ANTENNA1"]] - positions[main["ANTENNA2"]], axis=1)
    ddid, field = main["DATA_DESC_ID"], main["FIELD_ID"]
    np.testing.assert_array_equal(flagged[ddid == 0].all(axis=1), np.isin(field[ddid == 0],
                                                                         [0, 1, 2]))
    assert not flagged[ddid == 0][~np.isin(field[ddid == 0], [0, 1, 2])].any()
    np.testing.assert_array_equal(flagged[ddid == 1].all(axis=1), length[ddid == 1] > 3000.0)
    assert not flagged[ddid == 1][length[ddid == 1] <= 3000.0].any()
    assert 0 < (length > 3000.0).mean() < 1
    assert flagged[ddid == 2].mean() == pytest.approx(0.5, abs=0.03)


@pytest.mark.parametrize("values, says", [
    ({"feeds": "elliptical"}, "feeds must be one of circular, linear"),
    ({"correlations": "cross"}, "correlations must be one of all, parallel"),
    ({"spw_ids": [0, 1], "flag_spws": [{"spw": 5}]}, "flag_spws: spw 5 is not in spw_ids"),
    ({"flag_spws": [{"spw": 0, "fraction": 1.5}]}, "fraction must be in"),
    ({"flag_spws": [{"spw": 0, "colour": 1}]}, "unknown flag_spws key"),
    ({"flag_spws": [{"fields": [1]}]}, "need an spw"),
    ({"flag_spws": [{"spw": 0, "fields": "some"}]}, "must be a list"),
    ({"flag_spws": [3]}, "entries must be mappings"),
])  # fmt: skip
def test_bad_new_keys_are_refused(values, says):
    with pytest.raises(ConfigError, match=says):
        from_dict(values)


def test_flag_rules_round_trip_through_the_config_mapping():
    config = from_dict({"flag_spws": [{"spw": 3, "fields": [1, 2], "fraction": 0.95},
                                      {"spw": 4, "fields": "all", "longer_than_m": 2500}]})
    assert config.flag_spws == (SpwFlagRule(3, (1, 2), 0.95, 0.0), SpwFlagRule(4, None, 1.0,
                                                                               2500.0))
    assert from_dict(to_dict(config)) == config
