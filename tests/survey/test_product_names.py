"""VLASS product file names <-> records, and product header keywords."""

import pytest

import vlassdask  # noqa: F401
from vlassdask.errors import InputError
from vlassdask.survey import (
    ProductName,
    parse_product_name,
    product_header_keywords,
    product_name_for,
)

REAL_NAMES = [
    "VLASS1.1.ql.T06t24.J152614-163000.10.2048.v1.I.iter1.image.pbcor.tt0.subim.fits",
    "VLASS1.1.ql.T06t24.J152614-163000.10.2048.v1.I.iter1.image.pbcor.tt0.rms.subim.fits",
    "VLASS1.2.ql.T20t12.J092604+383000.10.2048.v2.I.iter1.image.pbcor.tt0.subim.fits",
    "VLASS2.1.se.T13t10.J063820+113000.06.2048.v1.I.iter3.image.pbcor.tt0.subim.fits",
    "VLASS2.1.se.T10t01.J000200-003000.06.2048.v1.I.iter3.alpha.subim.fits",
    "VLASS2.1.se.T10t01.J000200-003000.06.2048.v1.I.iter3.alpha.error.subim.fits",
    "VLASS2.1.se.T10t01.J000200-003000.06.2048.v1.I.iter3.image.pbcor.tt0.rms.subim.fits",
    "VLASS2.1.cc.T10t02.J005000-023000.06.2048.v1.spw10.IQU.iter3.image.pbcor.tt0.subim.fits",
]


@pytest.mark.parametrize("name", REAL_NAMES)
def test_round_trip(name):
    record = parse_product_name(name)
    assert record.file_name == name
    assert parse_product_name(record.file_name) == record


def test_fields_of_each_product_type():
    ql = parse_product_name(REAL_NAMES[0])
    assert (ql.epoch, ql.product, ql.tile, ql.phase_center) == (
        "VLASS1.1",
        "ql",
        "T06t24",
        "J152614-163000",
    )
    assert (ql.pixel_size_arcsec, ql.bandwidth_mhz, ql.version, ql.iteration) == (1.0, 2048, 1, 1)
    assert (ql.stokes, ql.image_type, ql.taylor_term, ql.rms, ql.spw) == (
        "I",
        "image.pbcor",
        0,
        False,
        None,
    )
    se = parse_product_name(REAL_NAMES[5])
    assert (se.pixel_size_arcsec, se.image_type, se.taylor_term) == (0.6, "alpha.error", None)
    cc = parse_product_name("/archive/VLASS2.1/T10t02/" + REAL_NAMES[-1])
    assert (cc.product, cc.spw, cc.stokes) == ("cc", 10, "IQU")


def test_defaults_per_product_type():
    assert product_name_for("VLASS2.1", "se", "T13t10", "J063820+113000").file_name == REAL_NAMES[3]
    ql = product_name_for("VLASS1.1", "ql", "T06t24", "J152614-163000", rms=True)
    assert ql.file_name == REAL_NAMES[1]
    cc = product_name_for("VLASS2.1", "cc", "T10t02", "J005000-023000", spw=10)
    assert cc.file_name == REAL_NAMES[-1]


def test_header_keywords_match_a_real_header():
    # FILNAMnn of VLASS1.1.ql.T06t24.J152614-163000...rms.subim.fits as CASA wrote them
    keys = product_header_keywords(parse_product_name(REAL_NAMES[1]), 231.56045, -16.5)
    expected = ["VLASS1", "1", "ql", "T06t24", "J152614-163000", "10", "2048", "v1", "I"]
    expected += ["iter1", "image", "tt0"]
    assert [keys[f"FILNAM{i:02d}"] for i in range(1, 13)] == expected
    assert keys["NFILNAM"] == 12 and "FILNAM13" not in keys
    assert keys["OBJECT"] == "J152614-163000" and keys["TELESCOP"] == "EVLA"
    assert (keys["OBSRA"], keys["OBSDEC"], keys["ITER"]) == (231.56045, -16.5, 1)
    cc = product_header_keywords(parse_product_name(REAL_NAMES[-1]), 12.501525, -2.5)
    assert cc["FILNAM09"] == "spw10" and cc["FILNAM10"] == "IQU"


@pytest.mark.parametrize(
    "name",
    [
        "VLASS2.1.se.T13t10.J063820+113000.06.2048.v1.I.iter3.image.pbcor.tt0.subim",
        "VLASS2.1.xx.T13t10.J063820+113000.06.2048.v1.I.iter3.image.pbcor.tt0.subim.fits",
        "VLASS2.1.se.T13t10.J063820113000.06.2048.v1.I.iter3.image.pbcor.tt0.subim.fits",
        "VLASS2.1.se.T13t10.J063820+113000.6.2048.v1.I.iter3.image.pbcor.tt0.subim.fits",
        "VLASS2.1.se.T13t10.J063820+113000.06.2048.v1.I.iter3.picture.tt0.subim.fits",
        "VLASS2.1.se.T13t10.J063820+113000.06.2048.v1.spw3.I.iter3.image.pbcor.tt0.subim.fits",
        "VLASS2.1.se.T33t10.J063820+113000.06.2048.v1.I.iter3.image.pbcor.tt0.subim.fits",
        "VLASS2.1.se.T13t10.J063880+113000.06.2048.v1.I.iter3.image.pbcor.tt0.subim.fits",
        "random.fits",
    ],
)
def test_malformed_names(name):
    with pytest.raises(InputError):
        parse_product_name(name)


def test_record_validation():
    fields = {
        "epoch": "VLASS2.1",
        "product": "se",
        "tile": "T13t10",
        "phase_center": "J063820+113000",
        "pixel_size_arcsec": 0.6,
        "bandwidth_mhz": 2048,
        "version": 1,
        "stokes": "I",
        "iteration": 3,
    }
    assert ProductName(**fields).file_name == REAL_NAMES[3]
    with pytest.raises(InputError, match="epoch"):
        ProductName(**{**fields, "epoch": "VLASS21"})
    with pytest.raises(InputError, match="spw"):
        ProductName(**{**fields, "spw": 4})
