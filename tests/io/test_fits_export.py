"""FITS export: SIN-projection WCS as CASA/WSClean write it, data orientation, naming, errors."""

import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS

from vlassdask.errors import InputError, ProductExistsError
from vlassdask.io.fits_export import export_fits, fits_paths
from vlassdask.io.image_store import write_image_store
from vlassdask.testing.images import ARCSEC, make_test_image

N = 64
RA0, DEC0 = 150.0, 30.0
CELL_ARCSEC = 2.5


@pytest.fixture
def image():
    return make_test_image(nx=N, ny=N, cell_arcsec=CELL_ARCSEC, phase_center_deg=(RA0, DEC0))


def _read(path):
    with fits.open(path) as hdul:
        return hdul[0].header.copy(), hdul[0].data.copy()


def _sin_world(x, y, ra0, dec0, cell):
    """RA/Dec (deg) of 0-based pixel (x, y) from the SIN projection formulas."""
    l_dc, m_dc = -(x - N // 2) * cell, (y - N // 2) * cell
    ra0, dec0 = np.radians(ra0), np.radians(dec0)
    n = np.sqrt(1.0 - l_dc**2 - m_dc**2)
    dec = np.arcsin(m_dc * np.cos(dec0) + n * np.sin(dec0))
    ra = ra0 + np.arctan2(l_dc, n * np.cos(dec0) - m_dc * np.sin(dec0))
    return np.degrees(ra), np.degrees(dec)


def test_reference_pixel_is_the_phase_centre(tmp_path, image):
    (path,) = export_fits(image, tmp_path / "img.fits")
    header, data = _read(path)
    assert data.shape == (1, 1, N, N)
    assert [header[f"CTYPE{i}"] for i in range(1, 5)] == ["RA---SIN", "DEC--SIN", "FREQ", "STOKES"]
    assert (header["CRPIX1"], header["CRPIX2"]) == (N // 2 + 1, N // 2 + 1)
    assert header["CDELT1"] < 0 < header["CDELT2"]
    assert header["RADESYS"] == "FK5" and header["EQUINOX"] == 2000.0
    wcs = WCS(header).celestial
    ra, dec = wcs.wcs_pix2world([[header["CRPIX1"], header["CRPIX2"]]], 1)[0]
    assert (ra, dec) == pytest.approx((RA0, DEC0), abs=1e-12)
    centre = wcs.pixel_to_world(N // 2, N // 2)
    assert (centre.ra.deg, centre.dec.deg) == pytest.approx((RA0, DEC0), abs=1e-12)


def test_ra_increases_to_the_left(tmp_path, image):
    (path,) = export_fits(image, tmp_path / "img.fits")
    wcs = WCS(_read(path)[0]).celestial
    centre = wcs.pixel_to_world(N // 2, N // 2)
    left = wcs.pixel_to_world(N // 2 - 1, N // 2)
    up = wcs.pixel_to_world(N // 2, N // 2 + 1)
    assert left.ra.deg > centre.ra.deg
    assert up.dec.deg > centre.dec.deg


def test_pixels_follow_the_sin_projection(tmp_path, image):
    (path,) = export_fits(image, tmp_path / "img.fits")
    wcs = WCS(_read(path)[0])
    rng = np.random.default_rng(1)
    x, y = rng.uniform(0, N - 1, 20), rng.uniform(0, N - 1, 20)
    ra, dec, _, _ = wcs.wcs_pix2world(x, y, np.zeros(20), np.zeros(20), 0)
    ra_ref, dec_ref = _sin_world(x, y, RA0, DEC0, CELL_ARCSEC * ARCSEC)
    np.testing.assert_allclose(ra, ra_ref, rtol=0, atol=1e-9)
    np.testing.assert_allclose(dec, dec_ref, rtol=0, atol=1e-9)


def test_data_orientation(tmp_path, image):
    image["SKY"][0, 0, 0, 5, 9] = 100.0
    (path,) = export_fits(image, tmp_path / "img.fits")
    data = _read(path)[1]
    assert data[0, 0, 9, 5] == 100.0
    np.testing.assert_array_equal(data[0, 0], image["SKY"].values[0, 0, 0].T)


def test_stokes_and_frequency_axes(tmp_path):
    image = make_test_image(nx=16, ny=16, frequency_hz=(2e9, 3e9, 4e9), polarization=("I", "Q"))
    image["SKY"][0, 2, 1, 3, 4] = 50.0
    (path,) = export_fits(image, tmp_path / "cube.fits")
    header, data = _read(path)
    assert data.shape == (2, 3, 16, 16)
    assert data[1, 2, 4, 3] == 50.0
    _, _, freq, stokes = WCS(header).wcs_pix2world(0, 0, 2, 1, 0)
    assert (freq, stokes) == (4e9, 2.0)


def test_header_from_attrs_history_and_beam(tmp_path, image):
    image.attrs["fits_header"] = {**image.attrs["fits_header"], "CRVAL1": RA0 + 1e-4,
                                  "OBJECT": "J100000+300000"}  # fmt: skip
    image.attrs["fits_header"]["DATE-OBS"] = "2023-02-25T11:00:00.000"
    image.attrs["history"] = ["position corrected by 0.2 arcsec"]
    store = write_image_store(image, tmp_path / "img.zarr")
    (path,) = export_fits(store, tmp_path / "img.fits")
    header, _ = _read(path)
    assert header["DATE-OBS"] == "2023-02-25T11:00:00.000"
    assert header["CRVAL1"] == RA0 + 1e-4
    assert header["OBJECT"] == "J100000+300000"
    assert "position corrected by 0.2 arcsec" in str(header["HISTORY"])
    assert header["BMAJ"] == pytest.approx(3.0 / 3600)
    assert header["BUNIT"] == "Jy/beam"
    image.attrs["restoring_beam"] = None
    (path,) = export_fits(image, tmp_path / "nobeam.fits")
    assert "BMAJ" not in _read(path)[0]


def test_several_variables_from_a_store(tmp_path, image):
    image["MASK"] = image["SKY"] > 0.001
    image["MASK"].attrs["units"] = ""
    store = write_image_store(image, tmp_path / "img.zarr")
    paths = export_fits(store, tmp_path / "img.fits",
                        variables=["SKY", "POINT_SPREAD_FUNCTION", "MASK"])  # fmt: skip
    assert [p.name for p in paths] == ["img.sky.fits", "img.point_spread_function.fits",
                                       "img.mask.fits"]  # fmt: skip
    psf_header, psf = _read(paths[1])
    assert psf.max() == pytest.approx(1.0)
    assert psf_header["BUNIT"] == "" and "BTYPE" not in psf_header
    _, mask = _read(paths[2])
    assert mask.dtype == np.uint8
    np.testing.assert_array_equal(mask[0, 0], image["MASK"].values[0, 0, 0].T)
    assert fits_paths("img", ["A", "B"])[0].name == "img.a.fits"


def test_errors_and_overwrite(tmp_path, image):
    with pytest.raises(InputError, match="'FOO' is not in the image"):
        export_fits(image, tmp_path / "img.fits", variables=["FOO"])
    with pytest.raises(InputError, match="not an image"):
        export_fits(image, tmp_path / "img.fits", variables=["SUM_OF_WEIGHTS"])
    with pytest.raises(InputError, match="does not exist"):
        export_fits(tmp_path / "missing.zarr", tmp_path / "img.fits")
    assert list(tmp_path.iterdir()) == []
    (path,) = export_fits(image, tmp_path / "img.fits")
    before = path.read_bytes()
    with pytest.raises(ProductExistsError):
        export_fits(image, path)
    assert path.read_bytes() == before
    (tmp_path / "img.point_spread_function.fits").write_text("old")
    with pytest.raises(ProductExistsError):
        export_fits(image, path, variables=["SKY", "POINT_SPREAD_FUNCTION"])
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "img.fits",
        "img.point_spread_function.fits",
    ]
    export_fits(image, path, overwrite=True)


def test_several_times_are_refused(tmp_path):
    image = make_test_image(nx=16, ny=16)
    two = image.reindex(time=[60000.5, 60001.5], method="nearest")
    with pytest.raises(InputError, match="one time"):
        export_fits(two, tmp_path / "img.fits")


def test_cube_with_a_beam_per_plane_gets_a_casa_beams_table(tmp_path):
    from vlassdask.io.image_schema import make_image_dataset

    freqs = (2e9, 3e9, 4e9)
    sky = np.zeros((1, 3, 1, 16, 16), dtype=np.float32)
    beams = np.array([[[[6.0, 4.0, 10.0]], [[4.0, 2.7, 12.0]], [[3.0, 2.0, 14.0]]]])
    ds = make_image_dataset({"SKY": sky, "BEAM": beams}, cell_rad=np.radians(1 / 3600),
                            phase_center_rad=(1.0, 0.5), frequency_hz=freqs,
                            product_kind="image")
    assert ds.attrs["restoring_beam"] == {"major_arcsec": 6.0, "minor_arcsec": 4.0,
                                          "pa_deg": 10.0}
    (path,) = export_fits(ds, tmp_path / "cube.fits")
    with fits.open(path) as hdul:
        assert hdul[0].header["CASAMBM"] is True
        assert hdul[0].header["BMAJ"] == pytest.approx(6.0 / 3600)
        table = hdul["BEAMS"]
        assert (table.header["NCHAN"], table.header["NPOL"]) == (3, 1)
        np.testing.assert_allclose(table.data["BMAJ"], [6.0, 4.0, 3.0])
        np.testing.assert_allclose(table.data["BMIN"], [4.0, 2.7, 2.0], rtol=1e-6)
        np.testing.assert_allclose(table.data["BPA"], [10.0, 12.0, 14.0])
        assert list(table.data["CHAN"]) == [0, 1, 2] and list(table.data["POL"]) == [0, 0, 0]
        assert table.columns["BMAJ"].unit == "arcsec"
