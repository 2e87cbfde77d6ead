"""Tiers and tiles: the SPEC.md table, the packaged observing log, sky position -> tile."""

import numpy as np
import pytest

import vlassdask  # noqa: F401
from vlassdask.errors import InputError
from vlassdask.survey import (
    TIERS,
    all_tiles,
    get_tile,
    observing_log_source,
    read_observing_log,
    tier_of,
    tile_of,
    tile_table,
    tiles_touching,
)

# SPEC.md "Tiles and image phase centres": (first tier, last tier, Dec low, Dec high, tiles, RA min)
SPEC_TABLE = [
    (1, 2, -40, -32, 48, 30),
    (3, 14, -32, 16, 36, 40),
    (15, 18, 16, 32, 32, 45),
    (19, 20, 32, 40, 30, 48),
    (21, 23, 40, 52, 24, 60),
    (24, 24, 52, 57, 24, 60),
    (25, 26, 57, 65, 18, 80),
    (27, 27, 65, 69, 15, 96),
    (28, 28, 69, 73, 12, 120),
    (29, 30, 73, 81, 9, 160),
    (31, 31, 81, 85, 4, 360),
    (32, 32, 85, 90, 2, 720),
]


def test_899_tiles_in_32_tiers():
    assert len(TIERS) == 32
    assert len(all_tiles()) == 899
    assert len(tile_table()) == 899
    assert len({t.name for t in all_tiles()}) == 899


@pytest.mark.parametrize(("first", "last", "dec_lo", "dec_hi", "n", "minutes"), SPEC_TABLE)
def test_tier_bounds_and_counts_match_spec(first, last, dec_lo, dec_hi, n, minutes):
    tiers = TIERS[first - 1 : last]
    assert tiers[0].dec_min == dec_lo and tiers[-1].dec_max == dec_hi
    for tier in tiers:
        assert tier.n_tiles == n
        assert tier.ra_width_deg * 4.0 == pytest.approx(minutes)  # 1 deg of RA = 4 min
        assert tier.dec_max - tier.dec_min == (5 if tier.number in (24, 32) else 4)


def test_tiers_are_contiguous_and_tiles_cover_the_sky():
    for lower, upper in zip(TIERS[:-1], TIERS[1:], strict=True):
        assert lower.dec_max == upper.dec_min
    total = tile_table()["area_deg2"].sum()
    # the sky north of -40 deg: 2 pi (1 + sin 40 deg) sr
    assert total == pytest.approx(2 * np.pi * (1 + np.sin(np.radians(40))) * (180 / np.pi) ** 2)
    assert total == pytest.approx(33_885, rel=1e-3)  # the paper's 33,885 deg^2


def test_tiles_agree_with_the_packaged_observing_log():
    log = read_observing_log().drop_duplicates("tile").set_index("tile")
    table = tile_table().set_index("tile")
    assert set(log.index) == set(table.index)
    joined = table.merge(log, left_index=True, right_index=True, suffixes=("", "_log"))
    np.testing.assert_array_equal(joined["dec_min"], joined["dec_min_log"])
    np.testing.assert_array_equal(joined["dec_max"], joined["dec_max_log"])
    # the log rounds RA bounds to 0.01 h
    np.testing.assert_allclose(joined["ra_min_h"], joined["ra_min_h_log"], atol=0.0051)
    np.testing.assert_allclose(joined["ra_max_h"], joined["ra_max_h_log"], atol=0.0051)
    assert "NRAO" in observing_log_source()


def test_observing_log_has_epochs_and_dates():
    log = read_observing_log()
    assert set(log["epoch"]) >= {"VLASS1.1", "VLASS1.2", "VLASS2.1", "VLASS2.2", "VLASS3.1"}
    row = log[(log["tile"] == "T01t01") & (log["epoch"] == "VLASS1.1")].iloc[0]
    assert str(row["date"].date()) == "2018-02-07"


def test_tile_of_vectorised_and_edges():
    names = tile_of([231.56, 0.0, 359.9999, 360.0, 12.0], [-16.5, 90.0, -40.0, -36.0, 85.0])
    assert names.tolist() == ["T06t24", "T32t01", "T01t48", "T02t01", "T32t01"]
    assert tier_of([-40.0, -36.0, -36.000001, 89.99]).tolist() == [1, 2, 1, 32]
    tile = get_tile("T13t10")
    assert (tile.dec_min, tile.dec_max, tile.ra_min, tile.ra_max) == (8.0, 12.0, 90.0, 100.0)
    ra = np.random.default_rng(3).uniform(0, 360, 500)
    dec = np.random.default_rng(4).uniform(-40, 90, 500)
    for name, r, d in zip(tile_of(ra, dec), ra, dec, strict=True):
        t = get_tile(name)
        assert t.dec_min <= d < t.dec_max and t.ra_min <= r < t.ra_max


def test_tiles_touching_an_edge():
    assert [t.name for t in tiles_touching(230.0, -16.0)] == [
        "T06t23",
        "T06t24",
        "T07t23",
        "T07t24",
    ]
    assert [t.name for t in tiles_touching(231.0, -17.0)] == ["T06t24"]


@pytest.mark.parametrize("name", ["T33t01", "T06t37", "T00t01", "t06T24", "T6t24", "", "T06t24 "])
def test_unknown_or_malformed_tile_name(name):
    with pytest.raises(InputError, match="tile"):
        get_tile(name)


@pytest.mark.parametrize("dec", [-40.0001, 90.0001, np.nan, -90])
def test_dec_outside_survey(dec):
    with pytest.raises(InputError, match="outside the survey"):
        tile_of(10.0, dec)
