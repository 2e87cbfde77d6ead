"""The catalog schema (declared once) and the catalog files it drives."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from astropy.table import Table

from vlassdask.catalog.names import component_names
from vlassdask.errors import InputError, ProductExistsError
from vlassdask.io.catalog_files import read_catalog, sky_columns, write_catalog
from vlassdask.io.catalog_schema import (
    COLUMNS,
    check_catalog,
    make_catalog,
    required_columns,
    schema_markdown,
)

DOCS = Path(__file__).resolve().parents[2] / "docs" / "catalogs.md"


def test_docs_table_is_the_schema():
    assert schema_markdown() in DOCS.read_text(), (
        "docs/catalogs.md is out of date: paste vlassdask.io.catalog_schema.schema_markdown()")
    for name in COLUMNS:
        assert f"`{name}`" in schema_markdown()


def test_units_are_mjy_and_arcsec():
    assert COLUMNS["Total_flux"].unit == "mJy" and COLUMNS["Peak_flux"].unit == "mJy/beam"
    assert {COLUMNS[c].unit for c in ("Maj", "Min", "DC_Maj", "E_RA", "E_DEC")} == {"arcsec"}


def test_check_catalog_lists_every_problem(source_catalog):
    bad = source_catalog.drop(columns=["Peak_flux"]).assign(S_Code="X", DEC=100.0)
    with pytest.raises(InputError) as info:
        check_catalog(bad)
    message = str(info.value)
    assert "Peak_flux" in message and "S_Code" in message and "DEC" in message
    with pytest.raises(InputError, match="lacks required"):
        make_catalog(source_catalog.drop(columns=["RA"]))


@pytest.mark.parametrize("suffix", [".parquet", ".fits", ".csv"])
def test_round_trip_in_every_format(source_catalog, tmp_path, suffix):
    path = write_catalog(source_catalog, tmp_path / f"cat{suffix}")
    back = read_catalog(path)
    assert list(back.columns) == list(source_catalog.columns) == required_columns()
    np.testing.assert_allclose(back["Total_flux"], source_catalog["Total_flux"], rtol=1e-12)
    assert list(back["Component_name"]) == list(source_catalog["Component_name"])
    if suffix == ".fits":
        assert str(Table.read(path)["DC_Maj"].unit) == "arcsec"
    with pytest.raises(ProductExistsError):
        write_catalog(source_catalog, path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]


def test_external_sky_columns_are_found_in_any_case():
    assert sky_columns(pd.DataFrame(columns=["RAJ2000", "DEJ2000", "S"])) == ("RAJ2000",
                                                                               "DEJ2000")
    with pytest.raises(InputError, match="no RA/Dec"):
        sky_columns(pd.DataFrame(columns=["x", "y"]))


def test_component_names_truncate():
    names = component_names(np.array([15 * (1 + 2 / 60 + 3.4567 / 3600)]),
                            np.array([-(4 + 5 / 60 + 6.789 / 3600)]))
    assert names == ["VLASS J010203.45-040506.7"]
