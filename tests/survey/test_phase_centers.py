"""Image phase centres: count, names, containment in tiles, overlap and coverage of the sky."""

import numpy as np
import pytest

import vlassdask  # noqa: F401
from vlassdask.errors import InputError
from vlassdask.survey import (
    QL_SUBIMAGE_DEG,
    SE_SUBIMAGE_DEG,
    TIERS,
    count_phase_centers,
    covering_images,
    get_tile,
    jname,
    parse_jname,
    phase_centers,
    sin_offsets,
    tile_of,
)

EXPECTED_COUNT = 35_446  # the rule of SPEC.md applied to the 899 tiles

# (tile, phase centre) pairs of real archive products (NRAO file names and FITS headers)
REAL_IMAGES = [
    ("T06t24", "J152614-163000"),
    ("T13t10", "J063820+113000"),
    ("T10t02", "J005000-023000"),
    ("T10t01", "J000200-003000"),
    ("T01t01", "J000228-363000"),
    ("T10t12", "J075402-033000"),
    ("T12t35", "J231013+073000"),
    ("T19t20", "J155950+333000"),
    ("T29t05", "J110448+763000"),
    ("T29t05", "J112120+763000"),
    ("T20t12", "J092604+383000"),
    ("T21t15", "J141833+413000"),
    ("T07t13", "J080202-123000"),
    ("T07t14", "J084202-123000"),
    ("T08t19", "J123816-103000"),
    ("T10t29", "J184200-033000"),
    ("T10t35", "J230600-003000"),
]


@pytest.fixture(scope="module")
def centres():
    return phase_centers()


def test_count_is_definite_and_near_the_paper(centres):
    assert len(centres) == EXPECTED_COUNT == count_phase_centers()
    assert abs(EXPECTED_COUNT - 35_500) / 35_500 < 0.005
    assert centres["name"].is_unique


def test_real_archive_images_are_reproduced(centres):
    by_name = centres.set_index("name")
    for tile, name in REAL_IMAGES:
        assert by_name.loc[name, "tile"] == tile


def test_real_header_position():
    # OBSRA/OBSDEC of VLASS1.1.ql.T06t24.J152614-163000...subim.fits: 231.56045, -16.5
    row = phase_centers("T06t24").set_index("name").loc["J152614-163000"]
    assert row["ra"] == pytest.approx(231.56045, abs=5e-6)
    assert row["dec"] == -16.5


def test_every_phase_centre_lies_in_its_tile(centres):
    assert (tile_of(centres["ra"].to_numpy(), centres["dec"].to_numpy()) == centres["tile"]).all()
    for name in ("T01t01", "T24t07", "T31t04", "T32t02"):
        tile, pcs = get_tile(name), phase_centers(name)
        assert ((pcs["ra"] > tile.ra_min) & (pcs["ra"] < tile.ra_max)).all()
        assert ((pcs["dec"] > tile.dec_min) & (pcs["dec"] < tile.dec_max)).all()
        assert sorted(pcs["row"].unique()) == list(range(1, int(tile.dec_max - tile.dec_min) + 1))


def test_spacing_rule_on_a_row():
    pcs = phase_centers("T06t24")
    row = pcs[pcs["dec"] == -16.5]["ra"].to_numpy()
    spacing = 1.0 / np.cos(np.radians(16.0))  # row edge nearest the equator
    n = int(10.0 // spacing)
    np.testing.assert_allclose(row[:n], 230.0 + (np.arange(n) + 0.5) * spacing, atol=1e-12)
    leftover = 10.0 - n * spacing
    assert row.size == n + 1 and row[-1] == pytest.approx(230.0 + n * spacing + leftover / 2)


def test_neighbouring_images_overlap_slightly(centres):
    for (_, _), g in centres.groupby(["tile", "row"]):
        ra, dec = g["ra"].to_numpy(), g["dec"].iloc[0]
        l_, m_, _ = sin_offsets(ra[1:], dec, ra[:-1], dec)  # neighbour offsets on the row
        separation = np.degrees(np.arcsin(np.hypot(l_, m_)))
        overlap = QL_SUBIMAGE_DEG - separation
        assert (overlap > 0).all()
        if abs(dec) < 80:  # regular neighbours (not the leftover strip's centre)
            assert (overlap[:-1] < 0.1).all()


@pytest.mark.parametrize("tier", TIERS, ids=lambda t: t.name)
def test_no_gaps_in_a_tier(centres, tier):
    rng = np.random.default_rng(tier.number)
    ra = rng.uniform(0.0, 360.0, 300)
    dec = rng.uniform(tier.dec_min, tier.dec_max, 300)
    ra[:4], dec[:4] = [0.0, 359.99, 180.0, 90.0], [tier.dec_min, tier.dec_max, tier.dec_min, 89.9]
    dec = np.minimum(dec, tier.dec_max)
    mine = centres[centres["tier"] == tier.number]
    l_, m_, front = sin_offsets(
        ra[:, None], dec[:, None], mine["ra"].to_numpy()[None], mine["dec"].to_numpy()[None]
    )
    half = np.radians(QL_SUBIMAGE_DEG / 2)
    covered = (front & (np.abs(l_) <= half) & (np.abs(m_) <= half)).any(axis=1)
    assert covered.all(), f"gap at {ra[~covered][:3]}, {dec[~covered][:3]}"


def test_jname_truncates_fields():
    # 15h26m14.508s -16d30m00s -> J152614-163000
    assert jname(231.56045, -16.5) == "J152614-163000"
    assert jname((15 + 26 / 60 + 14.9999 / 3600) * 15, 0.0) == "J152615+000000"  # ms rounding
    assert jname((15 + 26 / 60 + 14.9994 / 3600) * 15, 0.0) == "J152614+000000"
    assert jname(0.0, -(1 + 59 / 60 + 59.9999 / 3600)) == "J000000-020000"
    assert jname(359.9999999999, -0.0) == "J000000+000000"
    assert jname([93.5, 99.5838], [-1.5, 11.5]).tolist() == ["J061400-013000", "J063820+113000"]


def test_parse_jname_round_trip():
    assert parse_jname("J061400-013000") == pytest.approx((93.5, -1.5))
    for bad in ("J061400013000", "J2461400-013000", "J246000-013000", "061400-013000"):
        with pytest.raises(InputError, match="phase-centre name"):
            parse_jname(bad)


def test_covering_images():
    found = covering_images(231.5583333, -16.5)
    assert found["name"].tolist() == ["J152614-163000"]
    # a point between two rows and two images is covered by several, nearest first
    found = covering_images(231.0, -17.0)
    assert len(found) >= 2 and found["separation_deg"].is_monotonic_increasing
    assert (np.abs(found[["l_arcsec", "m_arcsec"]].to_numpy()) <= QL_SUBIMAGE_DEG * 1800).all()
    se = covering_images(231.0, -17.0, image_size_deg=SE_SUBIMAGE_DEG)
    assert set(se["name"]) <= set(found["name"])
    with pytest.raises(InputError, match="outside the survey"):
        covering_images(10.0, -41.0)


def test_unknown_tile():
    with pytest.raises(InputError, match="unknown tile"):
        phase_centers("T32t03")
