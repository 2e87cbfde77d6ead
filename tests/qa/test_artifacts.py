"""Synthetic QA images and artifact injection: geometry, statistics and what each injector does."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.fft
from scipy import ndimage

from vlassdask.qa.robust import MAD_TO_RMS
from vlassdask.testing.artifacts import (
    KINDS,
    inject_pb_hole,
    make_clean_qa_images,
    make_qa_case,
)
from vlassdask.testing.synthetic_field import (
    PB_MASK,
    QL_FULL_ARCSEC,
    box_rms,
    make_synthetic_field,
)
from vlassdask.testing.uv_coverage import fit_restoring_beam, gaussian_transfer

N = 512
SEED = 7000


def _robust_rms(values: np.ndarray) -> float:
    values = values[np.isfinite(values)]
    return MAD_TO_RMS * float(np.median(np.abs(values - np.median(values))))


@pytest.fixture(scope="module")
def clean():
    return make_qa_case("clean", SEED, N)[0]


def test_clean_image_geometry_and_noise(clean):
    assert clean.cell_arcsec == pytest.approx(QL_FULL_ARCSEC / N)
    x0, x1, y0, y1 = clean.subimage
    side = round(N * 3722 / 7290)  # centred on the phase centre, pixel N // 2
    assert x1 - x0 == y1 - y0 == side and x0 == y0 == N // 2 - side // 2
    pb = clean.pb.values
    assert pb.max() == pytest.approx(1.0)
    assert np.median(pb[x0:x1, y0:y1]) > 0.95  # the sub-image lies inside the mosaic
    masked = pb < PB_MASK
    assert masked[0, 0] and not masked[N // 2, N // 2]
    for plane in (clean.sky, clean.residual, clean.rms):
        values = plane.values
        assert values.shape == (N, N) and values.dtype == np.float32
        assert np.isnan(values[masked]).all() and np.isfinite(values[~masked]).all()
    residual = clean.residual.values[x0:x1, y0:y1]
    assert _robust_rms(residual) == pytest.approx(1.2e-4, rel=0.06)
    assert np.nanmedian(clean.rms.values[x0:x1, y0:y1]) == pytest.approx(1.2e-4, rel=0.1)
    beam = clean.restoring_beam
    assert 1.5 < beam["minor_arcsec"] / clean.cell_arcsec <= beam["major_arcsec"] / \
        clean.cell_arcsec < 8  # a QL-like beam of a few pixels
    assert np.nanmax(clean.sky.values) > 0.01  # bright sources are there


def test_same_seed_same_sky_for_every_kind(clean):
    again = make_clean_qa_images(n=N, seed=SEED)
    np.testing.assert_array_equal(again.sky.values, clean.sky.values)
    stripes, truth = make_qa_case("stripes", SEED, N)
    np.testing.assert_array_equal(stripes.pb.values, clean.pb.values)
    difference = stripes.residual.values - clean.residual.values
    # the only change is the fringe: its transform peaks at the injected frequency
    spectrum = np.abs(np.fft.rfft2(np.nan_to_num(difference)))
    kx, ky = (int(round(k)) for k in truth["k"])
    peak = np.unravel_index(np.argmax(spectrum), spectrum.shape)
    assert peak in {(kx % N, ky), ((-kx) % N, -ky)}
    assert np.nanmax(np.abs(difference)) <= truth["amplitude_sigma"] * 1.2e-4 * 1.0001


def test_pb_hole_masks_the_source_and_leaves_spikes():
    images, truth = make_qa_case("pb_hole", SEED, N)
    x, y = int(round(truth["x"])), int(round(truth["y"]))
    assert images.pb.values[x, y] < 0.15 and truth["pb_at_source"] < 0.15
    assert np.isnan(images.residual.values[x, y])
    r = np.hypot(*np.meshgrid(np.arange(N) - x, np.arange(N) - y, indexing="ij"))
    ring = images.residual.values[(r > 20) & (r < 40)]
    ring = ring[np.isfinite(ring)]
    assert np.std(ring) > 1.5 * 1.2e-4  # the uncleaned source's sidelobes


def test_pb_hole_radius_grows_until_masked():
    field = make_synthetic_field(n=256, seed=1)
    truth = inject_pb_hole(field, x=128.0, y=128.0, flux_jy=1.0, radius_arcmin=2.0, weight=0.01)
    assert truth["radius_arcmin"] > 2.0 and truth["pb_at_source"] < 0.15


def test_high_weights_lowers_the_normalised_pb_median():
    images, truth = make_qa_case("high_weights", SEED, N)
    x0, x1, y0, y1 = images.subimage
    pb = images.pb.values
    assert np.median(pb[x0:x1, y0:y1]) == pytest.approx(1 / truth["gain"], rel=0.15)
    peak = np.unravel_index(np.argmax(pb), pb.shape)
    assert math.hypot(peak[0] - truth["x"], peak[1] - truth["y"]) < 15


def test_rfi_raises_the_noise_by_the_requested_factor(clean):
    images, truth = make_qa_case("rfi", SEED, N)
    x, y = int(truth["x"]), int(truth["y"])
    box = (slice(x - 6, x + 7), slice(y - 6, y + 7))
    ratio = _robust_rms(images.residual.values[box]) / _robust_rms(clean.residual.values[box])
    assert ratio == pytest.approx(truth["rms_factor"], rel=0.3)
    assert np.nanmedian(images.rms.values[box]) / np.nanmedian(clean.rms.values[box]) == \
        pytest.approx(truth["rms_factor"], rel=0.3)


def test_poor_deconvolution_leaves_the_requested_peak(clean):
    images, truth = make_qa_case("poor_deconvolution", SEED, N)
    for source in truth["sources"]:
        x, y = source["x"], source["y"]
        left = images.residual.values[x, y] - clean.residual.values[x, y]
        # the left-over apparent flux, convolved with the PSF (peak 1), plus nearby sources'
        # sidelobes (a few percent of theirs)
        assert left == pytest.approx(source["leftover_sigma"] * 1.2e-4, rel=0.15)


def test_every_kind_and_an_unknown_one():
    for kind in KINDS:
        images, truth = make_qa_case(kind, 3, 128)
        assert truth["kind"] == kind and images.name == f"{kind}-3"
    with pytest.raises(ValueError, match="unknown artifact kind"):
        make_qa_case("aliens", 0)


def test_box_rms_matches_a_direct_mad():
    rng = np.random.default_rng(0)
    image = rng.normal(0.0, 2.0, (64, 64))
    rms = box_rms(image, 16)
    tile = image[16:32, 32:48]
    direct = MAD_TO_RMS * np.median(np.abs(tile - np.median(tile)))
    assert rms[23, 39] == pytest.approx(direct, rel=0.05)  # near the tile centre


def test_restoring_beam_fit_and_gaussian_transfer():
    n = 64
    transfer = gaussian_transfer(n, 5.0, 3.0, 30.0)
    kernel = scipy.fft.irfft2(transfer, s=(n, n))
    assert kernel[0, 0] == pytest.approx(1.0)
    major, minor, pa = fit_restoring_beam(np.fft.fftshift(kernel))
    assert (major, minor) == pytest.approx((5.0, 3.0), rel=1e-6)
    assert pa == pytest.approx(30.0, abs=1e-6)
    # PA 30 deg from north (+y) through east (-x): the major axis points to (-sin, cos); the
    # kernel is at half maximum major / 2 along it and minor / 2 across it
    centred = np.fft.fftshift(kernel)
    along = np.array([-math.sin(math.radians(30)), math.cos(math.radians(30))])
    across = np.array([along[1], -along[0]])
    for fwhm, direction in ((major, along), (minor, across)):
        point = n // 2 + fwhm / 2 * direction
        value = ndimage.map_coordinates(centred, point[:, None], order=3)[0]
        assert value == pytest.approx(0.5, abs=0.01)
    assert kernel.sum() == pytest.approx(math.pi / (4 * math.log(2)) * major * minor, rel=1e-3)
