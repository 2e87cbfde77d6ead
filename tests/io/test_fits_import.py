"""FITS import: VLASS-style files read lazily onto the image schema with the right WCS."""

import pickle

import dask.array as da
import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS

from vlassdask.errors import InputError
from vlassdask.io.fits_export import export_fits
from vlassdask.io.fits_import import open_fits_image, vlass_companions
from vlassdask.io.image_schema import celestial_wcs, check_image
from vlassdask.testing.fits import write_vlass_fits
from vlassdask.testing.images import make_test_image

NAME = "VLASS2.1.ql.T08t10.J061820-113000.10.2048.v1.I.iter1.image.pbcor.tt0.subim.fits"
NX, NY = 48, 40


@pytest.fixture
def pixels():
    return np.random.default_rng(1).normal(size=(NX, NY)).astype(np.float32)


def test_vlass_file_maps_onto_the_schema(tmp_path, pixels):
    path = write_vlass_fits(tmp_path / NAME, pixels, cell_arcsec=1.0, center_deg=(94.5833, -11.5),
                            beam_arcsec=(2.9, 2.4, -40.0), frequency_hz=2.99e9)
    ds = open_fits_image(path, chunks=16)
    check_image(ds, "image")
    sky = ds["SKY"]
    assert isinstance(sky.data, da.Array) and sky.data.chunks[-2:] == ((16, 16, 16), (16, 16, 8))
    assert sky.dims == ("time", "frequency", "polarization", "l", "m")
    np.testing.assert_array_equal(sky.values[0, 0, 0], pixels)
    assert float(ds["frequency"][0]) == 2.99e9 and list(ds["polarization"].values) == ["I"]
    assert ds.attrs["restoring_beam"] == pytest.approx(
        {"major_arcsec": 2.9, "minor_arcsec": 2.4, "pa_deg": -40.0})
    assert ds.attrs["fits_header"]["BUNIT"] == "Jy/beam"
    assert ds["SKY"].attrs["fits_bunit"] == "Jy/beam"
    assert float(ds["time"][0]) == pytest.approx(58604.128, abs=1e-3)  # 2019-05-01T03:04:05


@pytest.mark.parametrize("crpix", [None, (10.0, 31.5)])
def test_world_coordinates_match_the_file(tmp_path, pixels, crpix):
    """Every pixel has the sky position astropy gives it from the original file."""
    path = write_vlass_fits(tmp_path / "img.fits", pixels, cell_arcsec=0.6,
                            center_deg=(239.96, 33.5), crpix=crpix)
    ds = open_fits_image(path)
    ours = celestial_wcs(ds)
    theirs = WCS(fits.getheader(path)).celestial
    x, y = np.meshgrid(np.arange(NX), np.arange(NY), indexing="ij")
    a = ours.pixel_to_world(x.ravel(), y.ravel())
    b = theirs.pixel_to_world(x.ravel(), y.ravel())
    assert np.max(a.separation(b).arcsec) < 1e-6


def test_frequency_axis_third_is_read_too(tmp_path, pixels):
    path = write_vlass_fits(tmp_path / "img.fits", pixels, stokes_third=False, frequency_hz=3.1e9)
    ds = open_fits_image(path)
    assert float(ds["frequency"][0]) == 3.1e9
    np.testing.assert_array_equal(ds["SKY"].values[0, 0, 0], pixels)


def test_round_trip_through_fits_export(tmp_path):
    image = make_test_image(nx=32, ny=32, cell_arcsec=2.0, phase_center_deg=(10.0, -20.0))
    (path,) = export_fits(image, tmp_path / "img.fits")
    back = open_fits_image(path)
    np.testing.assert_array_equal(back["SKY"].values, image["SKY"].values)
    np.testing.assert_allclose(back["l"].values, image["l"].values, rtol=0, atol=1e-15)
    np.testing.assert_allclose(back["m"].values, image["m"].values, rtol=0, atol=1e-15)
    assert back.attrs["restoring_beam"] == pytest.approx(image.attrs["restoring_beam"])


def test_companions_are_found_by_vlass_name_and_read(tmp_path, pixels):
    image = write_vlass_fits(tmp_path / NAME, pixels)
    rms = write_vlass_fits(tmp_path / NAME.replace(".subim", ".rms.subim"), np.abs(pixels))
    pb = write_vlass_fits(tmp_path / NAME.replace("image.pbcor", "pb"), np.ones((NX, NY)),
                          bunit="")
    found = vlass_companions(image)
    assert found == {"rms": rms, "pb": pb}
    ds = open_fits_image(image, **found)
    np.testing.assert_array_equal(ds["RMS"].values[0, 0, 0], np.abs(pixels))
    assert ds["PRIMARY_BEAM"].attrs["fits_bunit"] == ""
    assert ds.attrs["source_files"]["RMS"] == str(rms.absolute())
    assert vlass_companions(tmp_path / "not-a-vlass-name.fits") == {}


def test_graph_carries_paths_not_pixels(tmp_path):
    big = np.zeros((512, 512), np.float32)
    path = write_vlass_fits(tmp_path / "img.fits", big)
    graph = dict(open_fits_image(path, chunks=128)["SKY"].data.__dask_graph__())
    assert len(pickle.dumps(graph)) < big.nbytes / 20


def test_bad_inputs_give_clear_errors(tmp_path, pixels):
    with pytest.raises(InputError, match="does not exist"):
        open_fits_image(tmp_path / "missing.fits")
    (tmp_path / "junk.fits").write_bytes(b"not a fits file at all")
    with pytest.raises(InputError, match="cannot read FITS image"):
        open_fits_image(tmp_path / "junk.fits")
    good = write_vlass_fits(tmp_path / "img.fits", pixels)
    shifted = write_vlass_fits(tmp_path / "rms.fits", pixels, center_deg=(150.1, 30.0))
    with pytest.raises(InputError, match="not on the pixel grid"):
        open_fits_image(good, rms=shifted)
    smaller = write_vlass_fits(tmp_path / "pb.fits", pixels[:-2])
    with pytest.raises(InputError, match="not on the pixel grid"):
        open_fits_image(good, pb=smaller)
    tan = tmp_path / "tan.fits"
    with fits.open(good) as hdul:
        hdul[0].header["CTYPE1"], hdul[0].header["CTYPE2"] = "RA---TAN", "DEC--TAN"
        hdul.writeto(tan)
    with pytest.raises(InputError, match="expected RA---SIN"):
        open_fits_image(tan)
    fits.PrimaryHDU(np.zeros((4, 4), np.int16)).writeto(tmp_path / "int.fits")
    with pytest.raises(InputError, match="BITPIX"):
        open_fits_image(tmp_path / "int.fits")
