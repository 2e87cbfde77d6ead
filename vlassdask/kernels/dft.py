"""Direct Fourier transforms: exact visibility prediction and a reference dirty image.

Conventions (SPEC.md "Imaging conventions"): a source at direction cosines (l, m, n) contributes
V = S exp(+2 pi i (u l + v m + w (n - 1)) nu / c) to the visibility of baseline (u, v, w) metres at
frequency nu; the dirty image inverts it with the opposite sign. Both transforms are exact sums
(no gridding, no approximation), so they serve as references for the imaging code.

Correlation order of predicted visibilities is circular, [RR, RL, LR, LL], with
RR = I + V, RL = Q + iU, LR = Q - iU, LL = I - V.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange
from numpy.typing import NDArray

from vlassdask.kernels.constants import SPEED_OF_LIGHT

#: pi^2 / (4 ln 2): Fourier transform of a Gaussian of unit FWHM is exp(-GAUSS_FT * (fwhm u)^2).
GAUSS_FT = np.pi**2 / (4.0 * np.log(2.0))


@njit(cache=True, nogil=True)
def _predict_kernel(uvw, freqs, lmn, stokes, shapes, out):
    two_pi_over_c = 2.0 * np.pi / SPEED_OF_LIGHT
    taper_scale = GAUSS_FT / SPEED_OF_LIGHT**2
    nrow = uvw.shape[0]
    nchan = freqs.shape[0]
    nsrc = lmn.shape[0]
    for r in range(nrow):
        u = uvw[r, 0]
        v = uvw[r, 1]
        w = uvw[r, 2]
        for s in range(nsrc):
            phase_per_hz = two_pi_over_c * (u * lmn[s, 0] + v * lmn[s, 1] + w * (lmn[s, 2] - 1.0))
            major = shapes[s, 0]
            minor = shapes[s, 1]
            gaussian = major > 0.0 or minor > 0.0
            taper_per_hz2 = 0.0
            if gaussian:
                sin_pa = np.sin(shapes[s, 2])
                cos_pa = np.cos(shapes[s, 2])
                u_major = u * sin_pa + v * cos_pa
                u_minor = u * cos_pa - v * sin_pa
                taper_per_hz2 = taper_scale * ((major * u_major) ** 2 + (minor * u_minor) ** 2)
            for c in range(nchan):
                nu = freqs[c]
                phase = phase_per_hz * nu
                re = np.cos(phase)
                im = np.sin(phase)
                if gaussian:
                    taper = np.exp(-taper_per_hz2 * nu * nu)
                    re *= taper
                    im *= taper
                i_flux = stokes[s, c, 0]
                q_flux = stokes[s, c, 1]
                u_flux = stokes[s, c, 2]
                v_flux = stokes[s, c, 3]
                out[r, c, 0] += complex((i_flux + v_flux) * re, (i_flux + v_flux) * im)
                out[r, c, 1] += complex(q_flux * re - u_flux * im, q_flux * im + u_flux * re)
                out[r, c, 2] += complex(q_flux * re + u_flux * im, q_flux * im - u_flux * re)
                out[r, c, 3] += complex((i_flux - v_flux) * re, (i_flux - v_flux) * im)
    return out


def predict_visibilities(
    uvw_m: NDArray[np.floating],
    freqs_hz: NDArray[np.floating],
    lmn: NDArray[np.floating],
    stokes_flux_per_chan: NDArray[np.floating],
    *,
    gaussian_shape: NDArray[np.floating] | None = None,
    out: NDArray[np.complexfloating] | None = None,
) -> NDArray[np.complexfloating]:
    """Exact direct Fourier sum of point and Gaussian sources, including the w-term.

    Parameters
    ----------
    uvw_m
        Baseline coordinates in metres, shape (row, 3). Its dtype (float32 or float64) sets the
        precision of the computation and of the output (complex64 or complex128).
    freqs_hz
        Channel frequencies in Hz, shape (chan,).
    lmn
        Direction cosines of the sources about the phase centre, shape (source, 3), columns
        (l, m, n) with l towards east and n = sqrt(1 - l^2 - m^2).
    stokes_flux_per_chan
        Apparent (already primary-beam weighted) flux densities in Jy per source and channel,
        shape (source, chan, 4), Stokes order (I, Q, U, V).
    gaussian_shape
        Optional source shapes, shape (source, 3): FWHM major and minor axes in radians and the
        position angle (north through east) in radians. Rows of zeros are point sources. The
        visibility is tapered by the Gaussian's transform in the uv frame rotated to the major
        axis: exp(-pi^2 / (4 ln 2) * ((major u_maj)^2 + (minor u_min)^2)) with u in wavelengths.
    out
        Optional output array, shape (row, chan, 4), accumulated into (not zeroed).

    Returns
    -------
    numpy.ndarray
        Visibilities, shape (row, chan, 4), correlations [RR, RL, LR, LL].
    """
    real = np.float32 if uvw_m.dtype == np.float32 else np.float64
    cplx = np.complex64 if real == np.float32 else np.complex128
    uvw = np.ascontiguousarray(uvw_m, dtype=real)
    freqs = np.ascontiguousarray(freqs_hz, dtype=real)
    lmn_arr = np.ascontiguousarray(lmn, dtype=real)
    stokes = np.ascontiguousarray(stokes_flux_per_chan, dtype=real)
    nsrc = lmn_arr.shape[0]
    if uvw.ndim != 2 or uvw.shape[1] != 3 or lmn_arr.shape != (nsrc, 3):
        raise ValueError("uvw_m must have shape (row, 3) and lmn shape (source, 3)")
    if stokes.shape != (nsrc, freqs.shape[0], 4):
        raise ValueError(
            f"stokes_flux_per_chan must have shape (source, chan, 4) = {(nsrc, freqs.shape[0], 4)}"
            f", got {stokes.shape}"
        )
    if gaussian_shape is None:
        shapes = np.zeros((nsrc, 3), dtype=real)
    else:
        shapes = np.ascontiguousarray(gaussian_shape, dtype=real)
        if shapes.shape != (nsrc, 3):
            raise ValueError("gaussian_shape must have shape (source, 3)")
    if out is None:
        out = np.zeros((uvw.shape[0], freqs.shape[0], 4), dtype=cplx)
    elif out.shape != (uvw.shape[0], freqs.shape[0], 4):
        raise ValueError("out must have shape (row, chan, 4)")
    return _predict_kernel(uvw, freqs, lmn_arr, stokes, shapes, out)


@njit(cache=True, parallel=True)
def _dirty_kernel(uvw, freqs, vis, weights, l_pix, m_pix, out):
    two_pi_over_c = 2.0 * np.pi / SPEED_OF_LIGHT
    nrow = uvw.shape[0]
    nchan = freqs.shape[0]
    for p in prange(l_pix.shape[0]):
        l_val = l_pix[p]
        m_val = m_pix[p]
        n_minus_1 = np.sqrt(1.0 - l_val * l_val - m_val * m_val) - 1.0
        acc = 0.0
        for r in range(nrow):
            phase_per_hz = two_pi_over_c * (
                uvw[r, 0] * l_val + uvw[r, 1] * m_val + uvw[r, 2] * n_minus_1
            )
            for c in range(nchan):
                wgt = weights[r, c]
                if wgt != 0.0:
                    phase = phase_per_hz * freqs[c]
                    value = vis[r, c]
                    acc += wgt * (value.real * np.cos(phase) + value.imag * np.sin(phase))
        out[p] = acc
    return out


def dft_dirty_image(
    uvw_m: NDArray[np.floating],
    freqs_hz: NDArray[np.floating],
    vis: NDArray[np.complexfloating],
    weights: NDArray[np.floating],
    l: NDArray[np.floating],
    m: NDArray[np.floating],
) -> NDArray[np.float64]:
    """Direct-DFT dirty image at arbitrary (l, m) points (the imaging reference).

    I(l, m) = sum_k w_k Re{V_k exp(-2 pi i (u l + v m + w (n - 1)) nu / c)} / sum_k w_k, with
    n = sqrt(1 - l^2 - m^2) and k running over rows and channels. Computed in float64,
    parallel over points.

    Parameters
    ----------
    uvw_m
        Baseline coordinates in metres, shape (row, 3).
    freqs_hz
        Channel frequencies in Hz, shape (chan,).
    vis
        Visibilities of one correlation or Stokes product, shape (row, chan).
    weights
        Imaging weights, shape (row, chan); zero for flagged samples.
    l, m
        Direction cosines of the image points, shape (point,) each.

    Returns
    -------
    numpy.ndarray
        Dirty image values, shape (point,), float64.

    Raises
    ------
    ValueError
        On inconsistent shapes or if the weights sum to zero.
    """
    uvw = np.ascontiguousarray(uvw_m, dtype=np.float64)
    freqs = np.ascontiguousarray(freqs_hz, dtype=np.float64)
    vis_arr = np.ascontiguousarray(vis, dtype=np.complex128)
    wgt = np.ascontiguousarray(weights, dtype=np.float64)
    l_arr = np.ascontiguousarray(l, dtype=np.float64).ravel()
    m_arr = np.ascontiguousarray(m, dtype=np.float64).ravel()
    expected = (uvw.shape[0], freqs.shape[0])
    if vis_arr.shape != expected or wgt.shape != expected or l_arr.shape != m_arr.shape:
        raise ValueError(f"vis and weights must have shape (row, chan) = {expected}")
    total = wgt.sum()
    if total == 0.0:
        raise ValueError("weights sum to zero")
    out = np.zeros(l_arr.shape[0], dtype=np.float64)
    return _dirty_kernel(uvw, freqs, vis_arr, wgt, l_arr, m_arr, out) / total
