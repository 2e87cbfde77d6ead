"""Hogbom and Clark minor cycles on synthetic point-source residuals."""

import numpy as np
import pytest

from vlassdask.deconvolution.minor_cycle import clark, hogbom, run_minor_cycle
from vlassdask.deconvolution.scales import CentredConvolver
from vlassdask.errors import ConfigError, InputError

N = 128
SOURCES = {(40, 50): 1.0, (80, 90): 0.5, (64, 30): -0.3, (100, 100): 0.2}


def uv_mask_psf(n: int = N, seed: int = 3, ncells: int = 1500, taper: float = 0.3) -> np.ndarray:
    """A realistic PSF: random uv cells (uniformly weighted, Gaussian taper), peak 1.

    Made on a grid twice the image size and cut to (n, n) around its peak, so its edges hold
    ordinary sidelobes rather than a periodic copy of the main lobe.
    """
    rng = np.random.default_rng(seed)
    radius = 0.4 * n * np.sqrt(rng.uniform(0, 1, ncells))
    angle = rng.uniform(0, 2 * np.pi, ncells)
    u = np.round(radius * np.cos(angle)).astype(int)
    v = np.round(radius * np.sin(angle)).astype(int)
    grid = np.zeros((2 * n, 2 * n))
    weight = np.exp(-((u**2 + v**2) / (taper * n) ** 2))
    grid[u % (2 * n), v % (2 * n)] = weight
    grid[-u % (2 * n), -v % (2 * n)] = weight
    big = np.fft.fftshift(np.fft.ifft2(grid).real)
    psf = big[n // 2:n // 2 + n, n // 2:n // 2 + n]
    return psf / psf[n // 2, n // 2]


def gaussian_psf(n: int = N, sigma: float = 2.0) -> np.ndarray:
    x = np.arange(n) - n // 2
    return np.exp(-(x[:, None] ** 2 + x[None, :] ** 2) / (2 * sigma**2))


def point_residual(psf: np.ndarray, sources: dict = SOURCES) -> np.ndarray:
    truth = np.zeros(psf.shape)
    for pos, flux in sources.items():
        truth[pos] = flux
    return CentredConvolver(psf, psf.shape)(truth)


@pytest.fixture(scope="module")
def psf():
    return uv_mask_psf()


@pytest.mark.parametrize("deconvolver", ["hogbom", "clark"])
def test_point_sources_recovered(psf, deconvolver):
    residual = point_residual(psf)
    before = (residual.copy(), psf.copy())
    result = run_minor_cycle(deconvolver, residual, psf, gain=0.1, niter=5000, threshold=1e-3)
    assert result.stopped == "threshold"
    assert result.peak_residual <= 1e-3
    assert np.abs(result.residual).max() <= 1e-3
    assert set(zip(*np.nonzero(result.model), strict=True)) == set(SOURCES)
    for pos, flux in SOURCES.items():
        assert result.model[pos] == pytest.approx(flux, rel=0.01)
    np.testing.assert_array_equal(residual, before[0])
    np.testing.assert_array_equal(psf, before[1])


@pytest.mark.parametrize("deconvolver", ["hogbom", "clark"])
def test_niter_stop(psf, deconvolver):
    result = run_minor_cycle(deconvolver, point_residual(psf), psf, niter=7, threshold=1e-4)
    assert result.stopped == "niter" and result.iterations == 7


def test_nothing_above_threshold(psf):
    result = hogbom(point_residual(psf), psf, threshold=5.0)
    assert result.stopped == "zero" and result.iterations == 0
    assert not result.model.any()


@pytest.mark.parametrize("deconvolver", ["hogbom", "clark"])
def test_mask_confines_components(psf, deconvolver):
    mask = np.zeros((N, N), dtype=bool)
    mask[30:50, 40:60] = True
    result = run_minor_cycle(deconvolver, point_residual(psf), psf, mask=mask, niter=500,
                             threshold=1e-3)  # fmt: skip
    assert not result.model[~mask].any()
    assert result.model[40, 50] == pytest.approx(1.0, rel=0.02)
    assert result.peak_residual == pytest.approx(np.abs(result.residual[mask]).max())


def test_residual_is_input_minus_model_convolved(psf):
    residual = point_residual(psf)
    result = hogbom(residual, psf, niter=50)
    expected = residual - CentredConvolver(psf, psf.shape)(result.model)
    np.testing.assert_allclose(result.residual, expected, atol=1e-10)


def test_clark_matches_hogbom(psf):
    residual = point_residual(psf)
    h = hogbom(residual, psf, niter=5000, threshold=2e-3)
    c = clark(residual, psf, niter=5000, threshold=2e-3)
    assert c.model.sum() == pytest.approx(h.model.sum(), rel=0.01)
    np.testing.assert_allclose(c.model, h.model, atol=0.01)


def test_clark_active_set_with_high_sidelobes():
    """Sidelobes of 0.45 outside a small patch: the active set is cut at 0.45 * peak."""
    main = gaussian_psf(sigma=1.5)
    psf = main + 0.45 * (np.roll(main, 12, axis=0) + np.roll(main, -12, axis=0))
    residual = point_residual(psf, {(50, 60): 1.0, (70, 60): 0.6})
    c = clark(residual, psf, niter=3000, threshold=1e-3, psf_patch=9)
    h = hogbom(residual, psf, niter=3000, threshold=1e-3)
    assert c.stopped == h.stopped == "threshold"
    assert c.model.sum() == pytest.approx(h.model.sum(), rel=0.01)
    assert c.model[50, 60] == pytest.approx(1.0, rel=0.01)
    assert c.model[70, 60] == pytest.approx(0.6, rel=0.01)


def test_large_image_hogbom_is_fast_enough():
    psf = gaussian_psf(256, 2.0)
    result = hogbom(point_residual(psf, {(100, 120): 1.0}), psf, niter=200, threshold=0.0)
    assert result.iterations == 200
    assert result.model[100, 120] == pytest.approx(1 - 0.9**200)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [({"gain": 0.0}, ConfigError, "gain"), ({"gain": 2.0}, ConfigError, "gain"),
     ({"niter": -1}, ConfigError, "niter"), ({"niter": 1.5}, ConfigError, "niter"),
     ({"threshold": -1.0}, ConfigError, "threshold"),
     ({"scales": (0, 80)}, ConfigError, "does not fit"),
     ({"scales": (-1,)}, ConfigError, "non-negative"),
     ({"small_scale_bias": 2.0}, ConfigError, "small_scale_bias"),
     ({"mask": np.ones((4, 4), bool)}, InputError, "mask"),
     ({"psf_patch": 0}, ConfigError, "psf_patch"),
     ({"fft_threads": 0}, ConfigError, "fft_threads")],
)  # fmt: skip
def test_bad_arguments(psf, kwargs, error, match):
    deconvolver = "clark" if "psf_patch" in kwargs else "multiscale"
    with pytest.raises(error, match=match):
        run_minor_cycle(deconvolver, point_residual(psf), psf, **kwargs)


def test_bad_inputs(psf):
    with pytest.raises(ConfigError, match="unknown deconvolver"):
        run_minor_cycle("mem", point_residual(psf), psf)
    with pytest.raises(InputError, match="same shape"):
        hogbom(np.zeros((N, N)), psf[:-2])
    with pytest.raises(InputError, match="peak at 1"):
        hogbom(np.zeros((N, N)), 2 * psf)
    bad = np.zeros((N, N))
    bad[0, 0] = np.nan
    with pytest.raises(InputError, match="finite"):
        hogbom(bad, psf)


def test_hogbom_on_several_threads_gives_the_same_result():
    rng = np.random.default_rng(4)
    n = 96
    x = (np.arange(n) - n // 2)[:, None]
    y = (np.arange(n) - n // 2)[None, :]
    psf = np.exp(-(x**2 + y**2) / 8.0) * (1 + 0.05 * np.cos(0.4 * x))
    psf /= psf[n // 2, n // 2]
    residual = rng.standard_normal((n, n)) * 0.01
    residual[30, 40] += 1.0
    residual[70, 55] -= 0.4
    serial = hogbom(residual, psf, niter=300, threads=1)
    parallel = hogbom(residual, psf, niter=300, threads=2)
    np.testing.assert_array_equal(parallel.model, serial.model)
    np.testing.assert_array_equal(parallel.residual, serial.residual)
    assert parallel.iterations == serial.iterations == 300
