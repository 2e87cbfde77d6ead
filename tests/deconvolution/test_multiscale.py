"""Multiscale CLEAN: scale functions, point and extended sources."""

import numpy as np
import pytest

from tests.deconvolution.test_minor_cycle import gaussian_psf, point_residual
from vlassdask.deconvolution.minor_cycle import hogbom, multiscale
from vlassdask.deconvolution.scales import (
    CentredConvolver,
    scale_function,
    scale_mask,
    spheroidal,
    validate_scales,
)
from vlassdask.errors import ConfigError

N = 128


def extended_residual(psf: np.ndarray, flux: float = 10.0, sigma: float = 6.0) -> np.ndarray:
    x = np.arange(N) - 60
    y = np.arange(N) - 70
    sky = np.exp(-(x[:, None] ** 2 + y[None, :] ** 2) / (2 * sigma**2))
    sky *= flux / sky.sum()
    return CentredConvolver(psf, psf.shape)(sky)


def test_scale_functions_are_casa_shaped():
    assert spheroidal(np.array([0.0]))[0] == pytest.approx(1.0, abs=1e-6)
    assert spheroidal(np.array([1.0, 1.5])).tolist() == [0.0, 0.0]
    f = scale_function(6)
    assert f.shape == (13, 13) and f.sum() == pytest.approx(1.0)
    assert f[6, 6] == f.max() and f[0, 6] == 0.0
    np.testing.assert_allclose(f, f.T)
    assert scale_function(0).tolist() == [[1.0]]


def test_validate_scales():
    assert validate_scales([5, 0, 5], (64, 64)) == (0.0, 5.0)
    with pytest.raises(ConfigError, match="does not fit"):
        validate_scales([40], (64, 64))
    with pytest.raises(ConfigError, match="at least one"):
        validate_scales([], (64, 64))


def test_scale_mask_keeps_support_inside():
    mask = np.zeros((N, N), bool)
    mask[40:80, 40:80] = True
    eroded = scale_mask(mask, 5)
    assert eroded[60, 60] and not eroded[42, 60] and eroded[45, 60]


def test_points_with_delta_scale_only_match_hogbom():
    psf = gaussian_psf()
    residual = point_residual(psf)
    m = multiscale(residual, psf, scales=(0,), niter=3000, threshold=1e-3)
    h = hogbom(residual, psf, niter=3000, threshold=1e-3)
    assert m.stopped == "threshold"
    np.testing.assert_allclose(m.model, h.model, atol=1e-12)


def test_points_with_several_scales():
    psf = gaussian_psf()
    sources = {(40, 50): 1.0, (80, 90): 0.5}
    residual = point_residual(psf, sources)
    result = multiscale(residual, psf, scales=(0, 3, 8), niter=3000, threshold=1e-3)
    assert result.stopped == "threshold"
    for (x, y), flux in sources.items():
        assert result.model[x - 9:x + 10, y - 9:y + 10].sum() == pytest.approx(flux, rel=0.01)
        assert result.model[x, y] == pytest.approx(flux, rel=0.01)


def test_extended_source_goes_to_large_scale():
    psf = gaussian_psf()
    residual = extended_residual(psf)
    before = residual.copy()
    ms = multiscale(residual, psf, scales=(0, 4, 12), niter=3000, threshold=0.01)
    hb = hogbom(residual, psf, niter=20000, threshold=0.01)
    assert ms.stopped == hb.stopped == "threshold"
    assert ms.model.sum() == pytest.approx(10.0, rel=0.03)
    assert ms.iterations < 0.7 * hb.iterations
    np.testing.assert_array_equal(residual, before)
    # Mostly broad components: the model is smooth, its brightest pixel far below Hogbom's and
    # most of its flux spread over the 12-pixel scale's footprint (radius 12 about the source).
    assert np.abs(ms.model).max() < 0.25 * np.abs(hb.model).max()
    x, y = np.ogrid[:N, :N]
    near_centre = (x - 60) ** 2 + (y - 70) ** 2 <= 4**2
    assert ms.model[near_centre].sum() < 0.5 * ms.model.sum()


def test_mask_and_niter():
    psf = gaussian_psf()
    mask = np.zeros((N, N), bool)
    mask[35:90, 45:95] = True
    result = multiscale(extended_residual(psf), psf, mask=mask, scales=(0, 4, 12), niter=25)
    assert result.stopped == "niter" and result.iterations == 25
    assert not result.model[~mask].any()


def test_small_scale_bias_favours_small_scales():
    psf = gaussian_psf()
    residual = extended_residual(psf, sigma=3.0)
    plain = multiscale(residual, psf, scales=(0, 4, 12), niter=1)
    biased = multiscale(residual, psf, scales=(0, 4, 12), niter=1, small_scale_bias=0.9)
    assert np.count_nonzero(biased.model) < np.count_nonzero(plain.model)
