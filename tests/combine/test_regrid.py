"""Grid comparison, integer alignment and windowed-sinc regridding onto the reference grid."""

import math

import dask.array as da
import numpy as np
import pytest

from vlassdask.combine.regrid import align_grids, interpolate_to_grid, shift_to_reference
from vlassdask.errors import InputError
from vlassdask.io.image_schema import celestial_wcs, make_image_dataset

ARCSEC = math.pi / 180 / 3600


def grid(n=(64, 64), cell=1.0, centre=(150.0, 30.0), offset_arcsec=(0.0, 0.0)):
    dec = centre[1] + offset_arcsec[1] / 3600
    ra = centre[0] + offset_arcsec[0] / 3600 / math.cos(math.radians(dec))
    ds = make_image_dataset({"SKY": np.zeros(n)}, cell_rad=cell * ARCSEC,
                            phase_center_rad=(math.radians(ra), math.radians(dec)),
                            frequency_hz=[3e9], product_kind="image")  # fmt: skip
    return celestial_wcs(ds), n


def align(src, ref, **kw):
    return align_grids(*src, *ref, regrid_tolerance=0.1, shift_tolerance_pixels=0.01,
                       what="epoch 1", **kw)  # fmt: skip


def test_grid_classification():
    ref = grid()
    same = align(grid(offset_arcsec=(0.05, 0.05)), ref)
    assert same.method == "same" and same.max_offset_pixels == pytest.approx(0.0707, rel=0.01)
    shifted = align(grid(offset_arcsec=(0.37, -1.52)), ref)
    assert shifted.method == "shift"
    # The epoch pixel at reference pixel p is p + shift: east is -x, north is +y.
    total = np.add(shifted.integer_shift, shifted.fraction)
    assert total == pytest.approx((0.37, 1.52), abs=1e-3)
    assert shifted.integer_shift == (0, 2) and abs(shifted.fraction[1]) <= 0.5
    assert align(grid(n=(80, 64), offset_arcsec=(3.0, 0.0)), ref).method == "shift"
    assert align(grid(cell=0.8), ref).method == "interpolate"
    with pytest.raises(InputError, match="epoch 1 does not overlap the reference image"):
        align(grid(offset_arcsec=(200.0, 0.0)), ref)


def test_shift_to_reference_pads_with_nan():
    src = da.from_array(np.arange(30.0).reshape(1, 5, 6), chunks=2)
    out = shift_to_reference(src, (2, -1), (4, 6)).compute()[0]
    assert out.shape == (4, 6)
    assert np.array_equal(out[0, 1:], np.arange(30.0).reshape(5, 6)[2, :5])
    assert np.isnan(out[:, 0]).all() and np.isnan(out[3:]).all()


def gaussian_on(src_wcs, ref_wcs, shape, centre, sigma):
    """A Gaussian defined on the source pixel grid, evaluated at the reference pixels."""
    x, y = np.meshgrid(np.arange(shape[0]), np.arange(shape[1]), indexing="ij")
    sx, sy = src_wcs.world_to_pixel_values(*ref_wcs.pixel_to_world_values(x, y))
    return np.exp(-((sx - centre[0]) ** 2 + (sy - centre[1]) ** 2) / (2 * sigma**2))


def test_regrid_accuracy_flux_and_blanks():
    src_wcs, _ = grid((96, 96), 1.0)
    ref_wcs, ref_shape = grid((100, 90), 0.8, offset_arcsec=(2.3, -1.7))
    sigma = 2.5  # source pixels (FWHM 5.9")
    x, y = np.meshgrid(np.arange(96), np.arange(96), indexing="ij")
    image = np.exp(-((x - 50.3) ** 2 + (y - 44.6) ** 2) / (2 * sigma**2))
    image[5:9, 80:84] = np.nan
    out = interpolate_to_grid(da.from_array(image[None], chunks=40), src_wcs, ref_wcs, ref_shape,
                              chunk_pixels=32).compute()[0]  # fmt: skip
    expected = gaussian_on(src_wcs, ref_wcs, ref_shape, (50.3, 44.6), sigma)
    assert np.nanmax(np.abs(out - expected)) < 2.5e-3  # 8-tap windowed sinc, 2-D
    # surface brightness is interpolated: flux (sum x pixel area) is conserved
    assert np.nansum(out) * 0.8**2 == pytest.approx(np.nansum(image), rel=1e-3)
    # the blank spreads by at most the bilinear footprint; the outside of the epoch is blank
    sx, sy = src_wcs.world_to_pixel_values(*ref_wcs.pixel_to_world_values(
        *np.meshgrid(np.arange(ref_shape[0]), np.arange(ref_shape[1]), indexing="ij")))
    near_blank = (sx > 3) & (sx < 10) & (sy > 78) & (sy < 85)
    outside = (sx < -0.5) | (sx > 95.5) | (sy < -0.5) | (sy > 95.5)
    assert np.isfinite(out[~near_blank & ~outside]).all()
    assert np.isnan(out[outside]).all()
    again = interpolate_to_grid(da.from_array(image[None], chunks=96), src_wcs, ref_wcs,
                                ref_shape, chunk_pixels=64).compute()[0]  # fmt: skip
    assert np.array_equal(np.isnan(again), np.isnan(out))
    assert np.nanmax(np.abs(again - out)) == 0.0
