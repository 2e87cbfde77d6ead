"""The image schema: construction, validation, header derivation, encoding and docs."""

from pathlib import Path

import dask.array as da
import numpy as np
import pytest

from vlassdask.errors import InputError
from vlassdask.io.image_schema import (
    IMAGE_DIMS,
    PRODUCT_KINDS,
    VARIABLES,
    celestial_wcs,
    check_image,
    default_encoding,
    make_image_dataset,
    schema_markdown,
    wcs_header,
)
from vlassdask.testing.images import ARCSEC, make_test_image

DOCS = Path(__file__).resolve().parents[2] / "docs" / "image-store.md"


def _dirty_vars(nx=8, ny=6, planes=(1, 1, 1)):
    return {
        "SKY": np.ones((*planes, nx, ny), np.float32),
        "POINT_SPREAD_FUNCTION": np.ones((*planes, nx, ny), np.float32),
        "SUM_OF_WEIGHTS": np.ones(planes),
        "GRID_CORRECTION_L": np.ones(nx),
        "GRID_CORRECTION_M": np.ones(ny),
    }


def _make(variables, **kwargs):
    options = dict(cell_rad=ARCSEC, phase_center_rad=(1.0, 0.5), frequency_hz=[3e9],
                   product_kind="dirty")  # fmt: skip
    options.update(kwargs)
    return make_image_dataset(variables, **options)


def test_coordinates_follow_the_pixel_convention():
    ds = _make(_dirty_vars(nx=8, ny=6))
    assert ds["SKY"].dims == IMAGE_DIMS
    x, y = np.arange(8), np.arange(6)
    np.testing.assert_allclose(ds["l"], -(x - 4) * ARCSEC)
    np.testing.assert_allclose(ds["m"], (y - 3) * ARCSEC)
    assert ds["l"][4] == 0 and ds["m"][3] == 0
    assert ds["SKY"].attrs["units"] == "Jy/beam"
    assert ds["SKY"].attrs["image_type"] == "dirty"
    assert ds.attrs["product_kind"] == "dirty"
    assert ds.attrs["schema_version"] == "1"
    assert ds.attrs["cell_arcsec"] == pytest.approx(1.0)
    np.testing.assert_allclose(ds.attrs["phase_center_deg"], np.degrees([1.0, 0.5]))


def test_header_attrs_have_the_fixed_keys():
    keys = _make(_dirty_vars()).attrs["fits_header"]
    assert (keys["CTYPE1"], keys["CTYPE2"]) == ("RA---SIN", "DEC--SIN")
    assert keys["CDELT1"] == pytest.approx(-1 / 3600) and keys["CDELT2"] == pytest.approx(1 / 3600)
    assert (keys["CRPIX1"], keys["CRPIX2"]) == (5.0, 4.0)
    assert (keys["RADESYS"], keys["EQUINOX"]) == ("FK5", 2000.0)
    assert (keys["CTYPE3"], keys["CTYPE4"], keys["CRVAL4"]) == ("FREQ", "STOKES", 1.0)
    assert keys["TELESCOP"] == "VLA" and keys["BUNIT"] == "Jy/beam"


def test_two_dimensional_and_dask_inputs_are_accepted():
    variables = _dirty_vars()
    variables["SKY"] = variables["SKY"][0, 0, 0]
    variables["POINT_SPREAD_FUNCTION"] = da.ones((1, 1, 1, 8, 6), chunks=4)
    ds = _make(variables)
    assert ds["SKY"].shape == (1, 1, 1, 8, 6)
    assert isinstance(ds["POINT_SPREAD_FUNCTION"].data, da.Array)


def test_integer_input_becomes_float_and_mask_bool():
    variables = _dirty_vars()
    variables["SKY"] = np.ones((1, 1, 1, 8, 6), np.int32)
    variables["MASK"] = np.ones((1, 1, 1, 8, 6), np.int8)
    ds = _make(variables)
    assert ds["SKY"].dtype == np.float64 and ds["MASK"].dtype == bool


def test_user_attrs_merge_into_the_header():
    ds = _make(_dirty_vars(), attrs={"fits_header": {"CDELT3": 2.0e9, "OBJECT": "J1"},
                                     "history": ["a"]})  # fmt: skip
    assert ds.attrs["fits_header"]["OBJECT"] == "J1"
    assert ds.attrs["history"] == ["a"]
    assert wcs_header(ds)["CDELT3"] == 2.0e9


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda v: v.pop("POINT_SPREAD_FUNCTION"), "missing variable"),
        (lambda v: v.update(SKY=np.ones((1, 1, 1, 8, 7))), "shape"),
        (lambda v: v.update(FOO=np.ones(3)), "unknown image variable"),
        (lambda v: v.update(GRID_CORRECTION_L=np.ones(9)), "shape"),
        (lambda v: v.update(SKY=np.full((1, 1, 1, 8, 6), np.nan)), "no finite values"),
    ],
)
def test_bad_inputs_give_one_clear_error(change, message):
    variables = _dirty_vars()
    change(variables)
    with pytest.raises(InputError, match=message):
        _make(variables)


def test_bad_grid_arguments():
    with pytest.raises(InputError, match="cell size"):
        _make(_dirty_vars(), cell_rad=0.0)
    with pytest.raises(InputError, match="declination"):
        _make(_dirty_vars(), phase_center_rad=(0.0, 2.0))
    with pytest.raises(InputError, match="product kind"):
        _make(_dirty_vars(), product_kind="nonsense")
    with pytest.raises(InputError, match="unknown polarization"):
        _make(_dirty_vars(), polarization=["Z"])


def test_check_image_reports_every_problem():
    ds = make_test_image(nx=16, ny=16)
    broken = ds.drop_vars("POINT_SPREAD_FUNCTION")
    broken["SKY"] = broken["SKY"].astype(np.int16)
    broken.attrs["fits_header"] = {"CTYPE1": "RA---TAN", "CTYPE2": "DEC--TAN"}
    with pytest.raises(InputError) as info:
        check_image(broken)
    text = str(info.value)
    for part in ("missing variable", "dtype int16", "RA---SIN"):
        assert part in text
    assert "\n" not in text
    check_image(ds)
    with pytest.raises(InputError, match="required for a 'clean'"):
        check_image(ds, "clean")
    with pytest.raises(InputError, match="xarray.Dataset"):
        check_image(ds["SKY"])


def test_check_image_rejects_a_broken_grid():
    ds = make_test_image(nx=16, ny=16)
    with pytest.raises(InputError, match="uniform grids"):
        check_image(ds.assign_coords(l=-ds["l"]))


def test_dask_values_are_checked_only_on_request():
    ds = make_test_image(nx=16, ny=16).chunk({"l": 8})
    ds["SKY"] = ds["SKY"] * np.nan
    check_image(ds)
    with pytest.raises(InputError, match="no finite values"):
        check_image(ds, check_values=True)


def test_wcs_follows_coordinates_of_a_cutout():
    ds = make_test_image(nx=32, ny=32, phase_center_deg=(10.0, -20.0))
    cut = ds.isel(l=slice(4, 20), m=slice(10, 30))
    header = wcs_header(cut)
    assert (header["CRPIX1"], header["CRPIX2"]) == (16 - 4 + 1, 16 - 10 + 1)
    full, part = celestial_wcs(ds), celestial_wcs(cut)
    np.testing.assert_allclose(full.wcs_pix2world([[7, 13]], 0), part.wcs_pix2world([[3, 3]], 0))


def test_polarization_axis_and_frequency_axis():
    ds = make_test_image(nx=16, ny=16, polarization=("I", "Q", "U", "V"),
                         frequency_hz=(2.0e9, 2.5e9, 3.0e9))  # fmt: skip
    header = wcs_header(ds)
    assert (header["CRVAL4"], header["CDELT4"]) == (1.0, 1.0)
    assert (header["CRVAL3"], header["CDELT3"]) == (2.0e9, 0.5e9)
    assert wcs_header(ds.isel(polarization=[0, 3]))["CDELT4"] == 3.0
    with pytest.raises(InputError, match="not evenly spaced"):
        wcs_header(ds.isel(polarization=[0, 1, 3]))


def test_default_encoding_chunks_planes():
    ds = make_test_image(nx=16, ny=16, frequency_hz=(2e9, 3e9))
    encoding = default_encoding(ds)
    assert encoding["SKY"]["chunks"] == (1, 1, 1, 16, 16)
    assert encoding["SUM_OF_WEIGHTS"]["chunks"] == (1, 2, 1)
    assert default_encoding(ds, chunk_pixels=8)["SKY"]["chunks"] == (1, 1, 1, 8, 8)
    assert "compressors" not in encoding["SKY"]


def test_schema_table_and_product_kinds():
    for kind in PRODUCT_KINDS.values():
        assert set(kind.required) <= set(VARIABLES)
    assert PRODUCT_KINDS["dirty"].required == (
        "SKY", "POINT_SPREAD_FUNCTION", "SUM_OF_WEIGHTS", "GRID_CORRECTION_L", "GRID_CORRECTION_M"
    )  # fmt: skip
    table = schema_markdown()
    assert all(f"`{name}`" in table for name in VARIABLES)


def test_docs_carry_the_generated_schema_table():
    assert schema_markdown() in DOCS.read_text(), (
        "docs/image-store.md is out of date: paste vlassdask.io.image_schema.schema_markdown()"
    )
