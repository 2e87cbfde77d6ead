"""Must-show tests of combined-epoch images on simulated epochs (vlassdask.testing.epochs)."""

import math

import numpy as np
import pytest
import scipy.signal
from astropy import units as u
from radio_beam import Beams

from vlassdask.combine.config import CombineConfig
from vlassdask.combine.epochs import combine_epochs, plan_combination
from vlassdask.testing.epochs import DEFAULT_BEAMS, DEFAULT_NOISE_JY, simulate_epochs

FWHM_PER_SIGMA = math.sqrt(8 * math.log(2))


def pixel_covariance(major, minor, pa_deg, cell):
    """Beam covariance on the image's (x west, y north) pixel axes, written independently."""
    t = math.radians(pa_deg)
    u_major, u_minor = np.array([-math.sin(t), math.cos(t)]), np.array([math.cos(t), math.sin(t)])
    s_maj, s_min = major / cell / FWHM_PER_SIGMA, minor / cell / FWHM_PER_SIGMA
    return s_maj**2 * np.outer(u_major, u_major) + s_min**2 * np.outer(u_minor, u_minor)


def plane(ds, name):
    return ds[name].values[0, 0, 0]


@pytest.fixture(scope="module")
def noiseless():
    sim = simulate_epochs(n_pixels=192, with_noise=False, chunks=64)
    return sim, combine_epochs(sim.images, CombineConfig(chunk_pixels=64)).compute()


def test_combined_beam_is_the_common_beam(noiseless):
    sim, combined = noiseless
    beams = np.array(DEFAULT_BEAMS)
    reference = Beams(major=beams[:, 0] * u.arcsec, minor=beams[:, 1] * u.arcsec,
                      pa=beams[:, 2] * u.deg).common_beam()  # fmt: skip
    beam = combined.attrs["restoring_beam"]
    assert beam["major_arcsec"] == pytest.approx(reference.major.to_value(u.arcsec), rel=1e-3)
    assert beam["minor_arcsec"] == pytest.approx(reference.minor.to_value(u.arcsec), rel=1e-3)
    # The image really has that beam: second moments around an isolated source.
    lone = simulate_epochs(n_pixels=96, n_sources=0, with_noise=False)
    image = plane(combine_epochs(lone.images).compute(), "SKY")
    x, y = np.meshgrid(np.arange(96) - 48.0, np.arange(96) - 48.0, indexing="ij")
    near = np.hypot(x, y) < 14
    w = image * near
    moments = np.array([[(w * x * x).sum(), (w * x * y).sum()],
                        [(w * x * y).sum(), (w * y * y).sum()]]) / w.sum()  # fmt: skip
    expected = pixel_covariance(beam["major_arcsec"], beam["minor_arcsec"], beam["pa_deg"], 1.0)
    assert np.abs(moments - expected).max() < 0.01 * expected.max()


def test_point_source_peaks_are_preserved(noiseless):
    sim, combined = noiseless
    sky = plane(combined, "SKY")
    steady = np.arange(len(sim.pixels)) != sim.variable_index
    x, y = sim.pixels[steady].T
    assert sky[x, y] == pytest.approx(sim.flux_jy[steady, 0], rel=0.01)


def test_variable_source_is_the_rms_weighted_mean_of_its_epoch_fluxes(noiseless):
    sim, combined = noiseless
    x, y = sim.pixels[sim.variable_index]
    epochs = combined.attrs["combine"]["epochs"]
    weights = np.array([1.0 / (e["rms_scale"] * plane(ds, "RMS")[x, y]) ** 2
                        for e, ds in zip(epochs, sim.images, strict=True)])  # fmt: skip
    expected = (weights * sim.flux_jy[sim.variable_index]).sum() / weights.sum()
    assert plane(combined, "SKY")[x, y] == pytest.approx(expected, rel=0.005)
    assert expected != pytest.approx(sim.flux_jy[sim.variable_index].mean(), rel=0.01)


def test_combined_rms_matches_the_noise():
    sim = simulate_epochs(n_pixels=512, n_sources=0, variable_flux_jy=None, seed=7, chunks=256)
    combined = combine_epochs(sim.images, CombineConfig(chunk_pixels=256)).compute()
    epochs = combined.attrs["combine"]["epochs"]
    inverse = sum(1.0 / (e["rms_scale"] * plane(ds, "RMS").astype(float)) ** 2
                  for e, ds in zip(epochs, sim.images, strict=True))  # fmt: skip
    rms = plane(combined, "RMS")
    assert np.allclose(rms, inverse**-0.5, rtol=1e-5)
    assert all(e["rms_scale"] > 1.01 for e in epochs)  # smoothing raised each epoch's rms
    # The measured noise agrees with the combined rms map (pixels away from the edges).
    z = (plane(combined, "SKY") / rms)[32:-32, 32:-32]
    assert z.std() == pytest.approx(1.0, abs=0.03)
    assert (plane(combined, "COVERAGE") == 3).all()
    # and the rms map is about the plain (sum 1/rms_i^2)^-1/2 of the inputs, raised by f_i
    centre = sum(1.0 / s**2 for s in DEFAULT_NOISE_JY) ** -0.5
    assert rms[256, 256] == pytest.approx(centre, rel=0.06)


def reference_combination(images, config):
    """In-memory reference: sampled Gaussian kernels, scipy fftconvolve, explicit weighted mean."""
    plan = plan_combination(images, config)
    cell = 0.5
    numerator = weight_sum = coverage = 0.0
    for ds, epoch in zip(images, plan.epochs, strict=True):
        sky, rms = plane(ds, "SKY"), plane(ds, "RMS")
        k = epoch.kernel
        cov = pixel_covariance(k.major_arcsec, k.minor_arcsec, k.pa_deg, cell)
        half = int(10 * math.sqrt(np.linalg.eigvalsh(cov)[1]))
        x, y = np.meshgrid(np.arange(-half, half + 1), np.arange(-half, half + 1), indexing="ij")
        inverse = np.linalg.inv(cov)
        kernel = np.exp(-0.5 * (inverse[0, 0] * x**2 + 2 * inverse[0, 1] * x * y
                                + inverse[1, 1] * y**2))  # fmt: skip
        kernel /= kernel.sum()
        valid = np.isfinite(sky)
        data = scipy.signal.fftconvolve(np.where(valid, sky, 0.0), kernel, "same")
        support = scipy.signal.fftconvolve(valid.astype(float), kernel, "same")
        area = (epoch.kernel and
                (plan.common_beam.major_arcsec * plan.common_beam.minor_arcsec)
                / (epoch.beam.major_arcsec * epoch.beam.minor_arcsec))  # fmt: skip
        with np.errstate(invalid="ignore", divide="ignore"):
            smoothed = np.where(valid & (support >= config.min_support),
                                area * data / support, np.nan)  # fmt: skip
            weight = 1.0 / (epoch.rms_scale * rms) ** 2
        usable = np.isfinite(smoothed) & np.isfinite(weight) & (rms > 0)
        numerator = numerator + np.where(usable, weight * np.nan_to_num(smoothed), 0.0)
        weight_sum = weight_sum + np.where(usable, weight, 0.0)
        coverage = coverage + usable
    with np.errstate(invalid="ignore", divide="ignore"):
        covered = weight_sum > 0
        return (np.where(covered, numerator / weight_sum, np.nan),
                np.where(covered, weight_sum**-0.5, np.nan), coverage)  # fmt: skip


def test_same_grid_equals_the_in_memory_reference():
    beams = ((3.0, 2.6, 20.0), (3.4, 2.8, -35.0), (2.9, 2.7, 75.0))
    sim = simulate_epochs(n_pixels=160, cell_arcsec=0.5, beams=beams, blank_radius_pixels=75,
                          dtype=np.float64, chunks=64, seed=3)  # fmt: skip
    sim.images[1]["SKY"][0, 0, 0, 60:64, 100:120] = np.nan  # a blanked strip
    config = CombineConfig(chunk_pixels=64,
                           target_beam={"major_arcsec": 5.0, "minor_arcsec": 5.0, "pa_deg": 0.0})
    combined = combine_epochs(sim.images, config).compute()
    sky, rms, coverage = reference_combination(sim.images, config)
    ours = plane(combined, "SKY")
    assert np.array_equal(np.isnan(ours), np.isnan(sky))
    assert np.nanmax(np.abs(ours - sky)) < 1e-6 * np.nanmax(np.abs(sky))
    assert np.allclose(plane(combined, "RMS"), rms, rtol=1e-12, equal_nan=True)
    assert np.array_equal(plane(combined, "COVERAGE"), coverage)
    assert (coverage[80, 80], coverage[0, 0]) == (3, 0)


def test_chunked_equals_unchunked_with_shifted_and_blank_epochs():
    sim = simulate_epochs(n_pixels=150, crval_shifts_arcsec=[(0, 0), (0.43, -0.61), (-1.7, 0.2)],
                          blank_radius_pixels=70, dtype=np.float64, seed=5)  # fmt: skip
    whole = combine_epochs(sim.images, CombineConfig(chunk_pixels=256)).compute()
    parts = combine_epochs(sim.images, CombineConfig(chunk_pixels=64)).compute()
    assert [e["grid"] for e in parts.attrs["combine"]["epochs"]] == ["same", "shift", "shift"]
    for name in ("SKY", "RMS"):
        a, b = plane(whole, name), plane(parts, name)
        assert np.array_equal(np.isnan(a), np.isnan(b))
        assert np.nanmax(np.abs(a - b)) < 1e-12 * np.nanmax(np.abs(a))
    assert np.array_equal(plane(whole, "COVERAGE"), plane(parts, "COVERAGE"))


@pytest.mark.parametrize("cell", [1.0, 0.9])
def test_epochs_on_other_grids_keep_their_fluxes(cell):
    """Shifted phase centres (Fourier shift) or another cell size (interpolation)."""
    shifts = [(0.0, 0.0), (0.43, -0.61), (-1.7, 0.2)]
    sim = simulate_epochs(n_pixels=160, crval_shifts_arcsec=shifts, with_noise=False, seed=2)
    images = list(sim.images)
    if cell != 1.0:  # the same sky imaged on 0.9" pixels
        other = simulate_epochs(n_pixels=180, cell_arcsec=cell, crval_shifts_arcsec=shifts,
                                with_noise=False, sky=sim)  # fmt: skip
        images[2] = other.images[2]
    combined = combine_epochs(images)
    grids = [e["grid"] for e in combined.attrs["combine"]["epochs"]]
    assert grids == ["same", "shift", "shift" if cell == 1.0 else "interpolate"]
    sky = plane(combined.compute(), "SKY")
    steady = np.arange(len(sim.pixels)) != sim.variable_index
    x, y = sim.pixels[steady].T
    assert sky[x, y] == pytest.approx(sim.flux_jy[steady, 0], rel=0.01)
