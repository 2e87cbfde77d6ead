"""Direct Fourier transform kernels against independent numpy formulas."""

import numpy as np
import pytest

from vlassdask.kernels.dft import SPEED_OF_LIGHT, dft_dirty_image, predict_visibilities

RNG = np.random.default_rng(3)
UVW = RNG.uniform(-8000.0, 8000.0, (200, 3))
FREQS = np.array([2.0e9, 3.0e9, 4.0e9])


def _lmn(l_val, m_val):
    return np.array([[l_val, m_val, np.sqrt(1.0 - l_val**2 - m_val**2)]])


def _stokes(i, q=0.0, u=0.0, v=0.0, nchan=FREQS.size):
    return np.tile(np.array([i, q, u, v], dtype=float), (1, nchan, 1))


def test_point_source_at_phase_centre_is_its_flux():
    vis = predict_visibilities(UVW, FREQS, _lmn(0.0, 0.0), _stokes(2.5))
    np.testing.assert_allclose(vis[..., 0], 2.5, rtol=1e-12)
    np.testing.assert_allclose(vis[..., 3], 2.5, rtol=1e-12)
    np.testing.assert_allclose(vis[..., 1:3], 0.0, atol=1e-12)


def test_offset_source_includes_w_term():
    l_val, m_val = 0.02, -0.015  # ~1 deg off axis: w-term phases of many radians
    vis = predict_visibilities(UVW, FREQS, _lmn(l_val, m_val), _stokes(1.0))
    n = np.sqrt(1 - l_val**2 - m_val**2)
    wavelengths = FREQS[None, :] / SPEED_OF_LIGHT
    u, v, w = (UVW[:, k, None] * wavelengths for k in range(3))
    expected = np.exp(2j * np.pi * (u * l_val + v * m_val + w * (n - 1)))
    np.testing.assert_allclose(vis[..., 0], expected, atol=1e-9)
    without_w = np.exp(2j * np.pi * (u * l_val + v * m_val))
    assert np.abs(vis[..., 0] - without_w).max() > 0.5


def test_gaussian_amplitude_matches_analytic_transform():
    major, minor, pa = np.radians(20 / 3600), np.radians(8 / 3600), np.radians(30.0)
    shape = np.array([[major, minor, pa]])
    vis = predict_visibilities(UVW, FREQS, _lmn(0.0, 0.0), _stokes(1.0), gaussian_shape=shape)
    # covariance of the Gaussian in (l, m); the major axis points to PA (north through east)
    to_sigma = 1.0 / (2.0 * np.sqrt(2.0 * np.log(2.0)))
    axis_major = np.array([np.sin(pa), np.cos(pa)])
    axis_minor = np.array([np.cos(pa), -np.sin(pa)])
    cov = (major * to_sigma) ** 2 * np.outer(axis_major, axis_major) + (
        minor * to_sigma
    ) ** 2 * np.outer(axis_minor, axis_minor)
    uv = UVW[:, None, :2] * (FREQS[None, :, None] / SPEED_OF_LIGHT)
    expected = np.exp(-2 * np.pi**2 * np.einsum("rci,ij,rcj->rc", uv, cov, uv))
    np.testing.assert_allclose(vis[..., 0].real, expected, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(vis[..., 0].imag, 0.0, atol=1e-12)


def test_polarisation_products():
    vis = predict_visibilities(UVW, FREQS, _lmn(0.0, 0.0), _stokes(1.0, 0.3, -0.2, 0.1))
    np.testing.assert_allclose(vis[0, 0], [1.1, 0.3 - 0.2j, 0.3 + 0.2j, 0.9], atol=1e-12)


def test_precision_follows_input_and_out_accumulates():
    vis32 = predict_visibilities(UVW.astype(np.float32), FREQS, _lmn(0.0, 0.0), _stokes(1.0))
    assert vis32.dtype == np.complex64
    out = np.ones((UVW.shape[0], FREQS.size, 4), dtype=np.complex128)
    predict_visibilities(UVW, FREQS, _lmn(0.0, 0.0), _stokes(1.0), out=out)
    np.testing.assert_allclose(out[..., 0], 2.0)
    with pytest.raises(ValueError, match="stokes_flux_per_chan"):
        predict_visibilities(UVW, FREQS, _lmn(0.0, 0.0), np.ones((1, 2, 4)))


def test_dirty_image_matches_numpy_and_peaks_at_source():
    l0, m0 = 0.01, 0.004
    vis = predict_visibilities(UVW, FREQS, _lmn(l0, m0), _stokes(1.0))[..., 0]
    weights = RNG.uniform(0.5, 2.0, vis.shape)
    weights[::7] = 0.0
    l_pts = np.array([l0, 0.0, 0.003, -0.02])
    m_pts = np.array([m0, 0.0, -0.01, 0.015])
    image = dft_dirty_image(UVW, FREQS, vis, weights, l_pts, m_pts)
    n = np.sqrt(1 - l_pts**2 - m_pts**2)
    wavelengths = FREQS[None, :, None] / SPEED_OF_LIGHT
    phase = (
        2
        * np.pi
        * wavelengths
        * (
            UVW[:, 0, None, None] * l_pts
            + UVW[:, 1, None, None] * m_pts
            + UVW[:, 2, None, None] * (n - 1)
        )
    )
    expected = (weights[..., None] * (vis[..., None] * np.exp(-1j * phase)).real).sum(
        axis=(0, 1)
    ) / weights.sum()
    np.testing.assert_allclose(image, expected, atol=1e-12)
    assert image[0] == pytest.approx(1.0, abs=1e-12)
    with pytest.raises(ValueError, match="sum to zero"):
        dft_dirty_image(UVW, FREQS, vis, np.zeros_like(weights), l_pts, m_pts)
