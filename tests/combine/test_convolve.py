"""Chunked normalised convolution with the Gaussian difference kernel."""

import dask.array as da
import numpy as np
import pytest
import scipy.fft
import scipy.signal

from vlassdask.combine.beam import GaussianBeam, deconvolve
from vlassdask.combine.convolve import (
    SHIFT_HALF_WIDTH,
    convolve_image,
    convolve_plane,
    difference_kernel,
    kernel_halo,
    kernel_spectrum,
)


def gaussian_image(shape, cov, centre):
    """Sampled unit-peak Gaussian with pixel covariance ``cov`` (independent of the module)."""
    inverse = np.linalg.inv(cov)
    x = np.arange(shape[0])[:, None] - centre[0]
    y = np.arange(shape[1])[None, :] - centre[1]
    return np.exp(-0.5 * (inverse[0, 0] * x**2 + 2 * inverse[0, 1] * x * y + inverse[1, 1] * y**2))


def as_tuple(cov):
    return (cov[0, 0], cov[0, 1], cov[1, 1])


def test_wide_kernel_is_the_sampled_gaussian_and_its_spectrum_the_fft():
    """For sigma >~ 2 px the discrete Gaussian and the sampled one agree to ~1e-5 of the peak."""
    cov = np.array([[6.0, 1.5], [1.5, 4.0]])
    halo = kernel_halo(as_tuple(cov), (0.0, 0.0), 6.0)
    kernel = difference_kernel(as_tuple(cov), (0.0, 0.0), halo)
    sampled = gaussian_image((2 * halo + 1,) * 2, cov, (halo, halo))
    assert np.abs(kernel - sampled / sampled.sum()).max() < 5e-5 * kernel.max()
    assert kernel.sum() == pytest.approx(1.0, abs=1e-14)
    shape = (70, 64)
    grid = np.zeros(shape)
    offsets = np.arange(-halo, halo + 1)
    grid[np.ix_(offsets % shape[0], offsets % shape[1])] = kernel
    fft = scipy.fft.rfft2(grid)
    spectrum = kernel_spectrum(shape, as_tuple(cov), (0.0, 0.0), halo, 2.0, "float64")
    assert np.abs(spectrum - 2.0 * fft.real).max() < 1e-12
    wide = kernel_halo(as_tuple(cov), (0.3, -0.2), 6.0)
    assert wide == halo + SHIFT_HALF_WIDTH
    shifted = kernel_spectrum(shape, as_tuple(cov), (0.3, -0.2), wide, 1.0, "float64")
    grid[:] = 0.0
    offsets = np.arange(-wide, wide + 1)
    grid[np.ix_(offsets % shape[0], offsets % shape[1])] = difference_kernel(
        as_tuple(cov), (0.3, -0.2), wide)
    assert np.abs(shifted - scipy.fft.rfft2(grid)).max() < 1e-12


def test_beam_to_common_beam_in_jy_per_beam():
    cell = 0.5
    beam, target = GaussianBeam(3.0, 2.2, 25.0), GaussianBeam(4.0, 3.5, -30.0)
    kernel = deconvolve(target, beam)
    image = gaussian_image((96, 96), beam.pixel_covariance(cell), (47, 50)) * 0.02
    out = convolve_image(da.from_array(image, chunks=32),
                         cov=as_tuple(kernel.pixel_covariance(cell)),
                         scale=target.area_arcsec2 / beam.area_arcsec2, truncate_sigma=6.0,
                         min_support=0.25).compute()  # fmt: skip
    expected = gaussian_image((96, 96), target.pixel_covariance(cell), (47, 50)) * 0.02
    assert out[47, 50] == pytest.approx(0.02, rel=1e-6)  # a point source's peak stays its flux
    assert np.abs(out - expected).max() < 1e-7 * 0.02 / 1e-3
    # total flux density (sum / beam area in pixels) is conserved
    assert out.sum() / target.area_arcsec2 == pytest.approx(image.sum() / beam.area_arcsec2,
                                                            rel=1e-6)  # fmt: skip


def test_chunked_equals_unchunked_with_blanks_across_chunk_edges():
    rng = np.random.default_rng(3)
    image = scipy.signal.fftconvolve(rng.normal(size=(150, 130)),
                                     gaussian_image((15, 15), np.eye(2) * 2.0, (7, 7)), "same")
    image[40:70, 60:75] = np.nan  # a blank region across chunk boundaries
    image[100, 5] = np.nan
    r = np.hypot(*np.meshgrid(np.arange(150) - 75, np.arange(130) - 65, indexing="ij"))
    image[r > 70] = np.nan  # primary-beam-masked edge
    kwargs = dict(cov=(2.5, 0.8, 1.2), shift=(0.3, -0.45), scale=1.3, truncate_sigma=6.0,
                  min_support=0.25)  # fmt: skip
    whole = convolve_image(da.from_array(image, chunks=-1), **kwargs).compute()
    for chunks in (32, (50, 47)):
        parts = convolve_image(da.from_array(image, chunks=chunks), **kwargs).compute()
        assert np.array_equal(np.isnan(parts), np.isnan(whole))
        assert np.nanmax(np.abs(parts - whole)) < 1e-12


def test_normalised_convolution_keeps_constant_images_and_does_not_spread_nans():
    image = np.full((120, 120), 2.0)
    r = np.hypot(*np.meshgrid(np.arange(120) - 60, np.arange(120) - 60, indexing="ij"))
    image[r > 50] = np.nan
    image[30:33, 70] = np.nan
    out = convolve_image(da.from_array(image, chunks=40), cov=(4.0, 1.0, 3.0), scale=1.5,
                         truncate_sigma=6.0, min_support=0.25).compute()  # fmt: skip
    blank = np.isnan(image)
    assert np.isnan(out[blank]).all()  # blank pixels stay blank, nothing is invented
    # NaNs spread at most to a sub-pixel rim at the edge of large blank regions
    grown = np.isnan(out) & ~blank
    assert grown.sum() < 0.05 * blank.sum()
    assert (r[grown] > 49).all()
    assert np.nanmax(np.abs(out - 3.0)) < 1e-12  # scale * conv(data * valid) / conv(valid)


@pytest.mark.parametrize(
    ("shape", "frames"),
    [((80, 70), ("x-", "y+")), ((83, 71), ("x+",)), ((83, 71), ("x-", "x+", "y-", "y+")),
     ((90, 67), ("y-",))],
)
def test_frame_fast_path_equals_the_full_mask_convolution(shape, frames):
    rng = np.random.default_rng(0)
    cov, halo = (3.0, -1.0, 2.0), 12
    plane = rng.normal(size=shape)
    sides = {"x-": (slice(None, halo), slice(None)), "x+": (slice(-halo, None), slice(None)),
             "y-": (slice(None), slice(None, halo)), "y+": (slice(None), slice(-halo, None))}
    for frame in frames:  # the image edge beyond these sides of the block
        plane[sides[frame]] = np.nan
    plane[-halo:, : 2 * halo] = np.nan  # and a blank corner within the halo
    fast = convolve_plane(plane, cov=cov, scale=1.0, halo=halo, min_support=0.25)
    kernel = difference_kernel(cov, (0.0, 0.0), halo)
    valid = np.isfinite(plane)
    num = scipy.signal.fftconvolve(np.where(valid, plane, 0), kernel, "same")
    den = scipy.signal.fftconvolve(valid.astype(float), kernel, "same")
    core = (slice(halo, -halo), slice(halo, -halo))
    expected = np.where(den[core] >= 0.25, num[core] / den[core], np.nan)
    assert np.array_equal(np.isnan(fast), np.isnan(expected))
    assert np.nanmax(np.abs(fast - expected)) < 1e-10


def test_sub_pixel_shift_and_precision():
    cov = np.eye(2) * 9.0
    image = gaussian_image((64, 64), cov, (30.0, 33.0)).astype(np.float32)
    out = convolve_image(da.from_array(image, chunks=32), cov=(0.0, 0.0, 0.0), shift=(0.4, -0.3),
                         truncate_sigma=6.0, min_support=0.25).compute()  # fmt: skip
    assert out.dtype == np.float32
    expected = gaussian_image((64, 64), cov, (30.0 - 0.4, 33.0 + 0.3))
    assert np.abs(out - expected).max() < 5e-5  # windowed-sinc shift of a well-sampled image


def test_halo_covers_the_kernel_and_the_shift():
    assert kernel_halo((4.0, 0.0, 1.0), (0.0, 0.0), 6.0) == 12
    assert kernel_halo((0.0, 0.0, 0.0), (0.4, 0.1), 6.0) == 8 + SHIFT_HALF_WIDTH
    assert kernel_halo((100.0, 0.0, 100.0), (0.5, 0.0), 6.0) == 60 + SHIFT_HALF_WIDTH
