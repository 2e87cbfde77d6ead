"""Per-spectral-window flag rules (``flag_spws``): exact effects on FLAG, and config errors.

One OTF raster of 2 rows x 17 phase centres (FIELD_IDs 0-33, 2 integrations each) carries the
cases the coarse-cube tests need, one spectral window each.
"""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from vlassdask.errors import ConfigError
from vlassdask.products.simulation import simulate_observation
from vlassdask.simulate import SimulationContext, simulate_chunk
from vlassdask.simulate.array import load_vla_b_configuration
from vlassdask.simulate.config import SpwFlagRule, check_flag_rule_fields, from_dict, to_dict
from vlassdask.simulate.observation import build_layout
from vlassdask.simulate.sky import SkyModel
from vlassdask.testing.otf import DEC_DEG, RA_DEG, otf_config

from .helpers import read_table

N_FIELDS, INTEGRATIONS_PER_FIELD, N_BASELINES, NCHAN = 34, 2, 351, 2
LONG_M = 3000.0
SPWS = (0, 2, 4, 6, 8, 10)
RULES = [
    {"spw": 2, "fields": list(range(14)), "fraction": 0.95},  # (a) > 90% in 14 of 34 fields
    {"spw": 4},                                              # (b) fully flagged
    {"spw": 6, "fraction": 0.85},                            # (c) >= 80% flagged overall
    {"spw": 8, "longer_than_m": LONG_M},                     # (d) long baselines: wider beam
    {"spw": 10, "fields": [0]},                              # two rules of one window add up
    {"spw": 10, "fields": list(range(17, 34)), "fraction": 0.5, "longer_than_m": 1000.0},
]
DOCS = Path(__file__).parents[2] / "docs" / "simulate.md"
SKY = pd.DataFrame({"ra_deg": [RA_DEG], "dec_deg": [DEC_DEG], "flux_jy": [1.0]})


def _config(**overrides):
    return otf_config(fields_per_row=17, spw_ids=SPWS, nchan_per_spw=NCHAN,
                      **{"flag_spws": RULES, **overrides})


@pytest.fixture(scope="module")
def flagged(tmp_path_factory):
    """The MS's FLAG, FLAG_ROW, FIELD_ID, baseline length (m) and UVW, keyed by VLASS spw."""
    ms = simulate_observation(_config(), SKY, tmp_path_factory.mktemp("spw_flags") / "otf.ms")
    main = read_table(ms, ["FLAG", "FLAG_ROW", "DATA_DESC_ID", "FIELD_ID", "ANTENNA1",
                           "ANTENNA2", "UVW"])
    positions = load_vla_b_configuration().positions_itrf_m
    length = np.linalg.norm(positions[main["ANTENNA1"]] - positions[main["ANTENNA2"]], axis=1)
    out = {}
    for index, spw in enumerate(SPWS):
        rows = main["DATA_DESC_ID"] == index
        out[spw] = {"flag": main["FLAG"][rows], "flag_row": main["FLAG_ROW"][rows],
                    "field": main["FIELD_ID"][rows], "length": length[rows],
                    "uvw": main["UVW"][rows]}
    return out


def _sample_flags(window):
    """(row, chan) flags of a window, after checking that every correlation agrees."""
    flag = window["flag"]
    assert (flag == flag[..., :1]).all()
    np.testing.assert_array_equal(window["flag_row"], flag.all(axis=(1, 2)))
    return flag[..., 0]


def _per_field_fraction(window):
    flag = _sample_flags(window)
    return np.array([flag[window["field"] == f].mean() for f in range(N_FIELDS)])


def test_layout_of_the_raster(flagged):
    window = flagged[0]
    assert window["field"].size == N_FIELDS * INTEGRATIONS_PER_FIELD * N_BASELINES
    assert np.bincount(window["field"]).tolist() == [INTEGRATIONS_PER_FIELD * N_BASELINES] * 34
    assert not _sample_flags(window).any()  # no rule, no other flags: nothing flagged


def test_a_window_mostly_flagged_in_some_fields(flagged):
    fraction = _per_field_fraction(flagged[2])
    assert (fraction[:14] > 0.9).all() and (fraction[:14] < 1.0).all()
    assert (fraction[14:] == 0).all()
    assert 12 < (fraction > 0.9).sum() < N_FIELDS


def test_a_fully_flagged_window(flagged):
    flag = _sample_flags(flagged[4])
    assert flag.all() and flagged[4]["flag_row"].all()


def test_a_window_flagged_at_random_everywhere(flagged):
    flag = _sample_flags(flagged[6])
    n = flag.size
    assert abs(flag.mean() - 0.85) < 5 * np.sqrt(0.85 * 0.15 / n)  # binomial, 5 sigma
    assert flag.mean() >= 0.8
    assert (_per_field_fraction(flagged[6]) > 0.8).all()
    assert 0.8 < flag.mean(axis=0).min() and flag.mean(axis=0).max() < 0.9  # every channel


def test_long_baselines_flagged_widen_the_beam(flagged):
    window = flagged[8]
    flag = _sample_flags(window)
    long = window["length"] > LONG_M
    np.testing.assert_array_equal(flag, np.repeat(long[:, None], NCHAN, axis=1))
    per_field = np.bincount(window["field"], weights=flag.sum(axis=1))
    assert per_field.tolist() == [INTEGRATIONS_PER_FIELD * 216 * NCHAN] * N_FIELDS
    uv = np.hypot(window["uvw"][:, 0], window["uvw"][:, 1])
    # natural-weighting beam width ~ 1 / rms uv distance: the flags widen it by > 2 times
    assert np.sqrt(np.mean(uv**2)) / np.sqrt(np.mean(uv[~long] ** 2)) > 2.0


def test_rules_of_one_window_add_up(flagged):
    window = flagged[10]
    flag = _sample_flags(window)
    field, long = window["field"], window["length"] > 1000.0
    assert flag[field == 0].all()
    assert not flag[(field >= 1) & (field < 17)].any()
    second_row = field >= 17
    assert not flag[second_row & ~long].any()
    hit = flag[second_row & long]
    assert abs(hit.mean() - 0.5) < 5 * np.sqrt(0.25 / hit.size)


def test_flags_are_seeded():
    """The same configuration gives the same flags; another seed other random flags (but the
    same deterministic ones)."""
    context = SimulationContext.build(_config(), SkyModel(SKY))
    again = SimulationContext.build(_config(), SkyModel(SKY))
    other = SimulationContext.build(_config(seed=2), SkyModel(SKY))
    for spw_index, random in ((3, True), (4, False)):  # spw 6 (fraction 0.85), 8 (long only)
        flags = [simulate_chunk(c, spw_index, 0, 10)["FLAG"] for c in (context, again, other)]
        np.testing.assert_array_equal(flags[0], flags[1])
        assert (flags[0] != flags[2]).any() == random


@pytest.mark.parametrize("rule, says", [
    ({"spw": 5}, "flag_spws: spw 5 is not in spw_ids \\[0, 2, 4, 6, 8, 10\\]"),
    ({"spw": 2, "fraction": 1.5}, "flag_spws: fraction must be in \\[0, 1\\], got 1.5"),
    ({"spw": 2, "fraction": -0.1}, "flag_spws: fraction must be in \\[0, 1\\], got -0.1"),
    ({"spw": 2, "fraction": "most"}, "'flag_spws' fraction must be a number, got 'most'"),
    ({"spw": 2, "longer_than_m": -1}, "flag_spws: longer_than_m must be >= 0, got -1.0"),
    ({"spw": 2, "fields": "some"}, "'flag_spws fields' must be a list, got 'some'"),
    ({"spw": 2, "fields": 3}, "'flag_spws fields' must be a list, got 3"),
    ({"spw": 2, "fields": ["a"]}, "'flag_spws fields' must be an integer, got 'a'"),
    ({"spw": 2, "fields": []}, "non-empty list of FIELD_IDs >= 0, got \\[\\]$"),
    ({"spw": 2, "fields": [-1]}, "non-empty list of FIELD_IDs >= 0, got \\[-1\\]$"),
    ({"spw": 2, "colour": 1}, "unknown flag_spws key\\(s\\): colour"),
    ({"fields": [1]}, "'flag_spws' entries need an spw"),
    (3, "'flag_spws' entries must be mappings, got 3"),
])  # fmt: skip
def test_bad_rules_are_refused_with_one_line(rule, says):
    with pytest.raises(ConfigError, match=says) as info:
        from_dict({"spw_ids": list(SPWS), "flag_spws": [rule]})
    assert "\n" not in str(info.value)


def test_fields_beyond_the_observation_are_refused(tmp_path):
    config = _config(flag_spws=[{"spw": 2, "fields": [0, 33, 34, 40]}])
    with pytest.raises(ConfigError, match="flag_spws: spw 2: field\\(s\\) \\[34, 40\\] not in "
                                          "this observation's FIELD_IDs 0-33"):
        simulate_observation(config, SKY, tmp_path / "bad.ms")
    assert not (tmp_path / "bad.ms").exists()
    single = from_dict({"spw_ids": [2], "flag_spws": [{"spw": 2, "fields": [1]}]})
    with pytest.raises(ConfigError, match="FIELD_IDs 0-0"):
        SimulationContext.build(single, SkyModel(SKY))


def test_rules_round_trip_through_the_config_mapping():
    config = from_dict({"flag_spws": [{"spw": 3, "fields": [1, 2], "fraction": 0.95},
                                      {"spw": 4, "fields": "all", "longer_than_m": 2500}]})
    assert config.flag_spws == (SpwFlagRule(3, (1, 2), 0.95, 0.0),
                                SpwFlagRule(4, None, 1.0, 2500.0))
    assert from_dict(to_dict(config)) == config


def test_the_documented_example_is_valid():
    """docs/simulate.md's flag_spws example parses and names only fields its raster has."""
    section = DOCS.read_text().split("### Per-window flag rules")[1]
    config = from_dict(yaml.safe_load(section.split("```yaml\n")[1].split("```")[0])["simulate"])
    assert build_layout(config).n_fields == N_FIELDS
    check_flag_rule_fields(config, N_FIELDS)
    assert [r.spw for r in config.flag_spws] == [r["spw"] for r in RULES[:4]]
