"""VLA S-band primary beam (SPEC.md "Observing set-up", primary beam table).

PB(x) = 1 + a1 x^2 + a2 x^4 + a3 x^6 with x = r[arcmin] * nu[GHz]. The coefficients are those of the
nearest tabulated frequency; frequencies are clamped to the table's range (2052-3948 MHz). The
polynomial is used out to its first null and set to zero beyond it (past the null the polynomial
diverges and has no physical meaning).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

#: Tabulated frequencies in MHz, shape (15,).
PB_FREQUENCIES_MHZ: NDArray[np.float64] = np.array(
    [2052, 2180, 2436, 2564, 2692, 2820, 2948, 3052, 3180, 3308, 3436, 3564, 3692, 3820, 3948],
    dtype=np.float64,
)

#: Polynomial coefficients (a1, a2, a3) per tabulated frequency, shape (15, 3).
PB_COEFFICIENTS: NDArray[np.float64] = np.array(
    [
        [-1.429e-3, 7.52e-7, -1.47e-10],
        [-1.389e-3, 7.06e-7, -1.33e-10],
        [-1.377e-3, 6.90e-7, -1.27e-10],
        [-1.381e-3, 6.92e-7, -1.26e-10],
        [-1.402e-3, 7.23e-7, -1.40e-10],
        [-1.433e-3, 7.62e-7, -1.54e-10],
        [-1.433e-3, 7.46e-7, -1.42e-10],
        [-1.467e-3, 8.05e-7, -1.70e-10],
        [-1.497e-3, 8.38e-7, -1.80e-10],
        [-1.504e-3, 8.37e-7, -1.77e-10],
        [-1.521e-3, 8.63e-7, -1.88e-10],
        [-1.505e-3, 8.37e-7, -1.75e-10],
        [-1.521e-3, 8.51e-7, -1.79e-10],
        [-1.534e-3, 8.57e-7, -1.77e-10],
        [-1.516e-3, 8.30e-7, -1.66e-10],
    ],
    dtype=np.float64,
)


def _first_null_x2(coefficients: NDArray[np.float64]) -> float:
    """Smallest positive real root y = x^2 of 1 + a1 y + a2 y^2 + a3 y^3."""
    a1, a2, a3 = coefficients
    roots = np.roots([a3, a2, a1, 1.0])
    real = roots[(np.abs(roots.imag) < 1e-9 * np.abs(roots)) & (roots.real > 0)].real
    return float(real.min())


#: x^2 at the first null of each tabulated polynomial, shape (15,).
PB_NULL_X2: NDArray[np.float64] = np.array([_first_null_x2(c) for c in PB_COEFFICIENTS])


def nearest_coefficient_index(freq_hz: ArrayLike) -> NDArray[np.intp]:
    """Index into the coefficient table of the nearest tabulated frequency (after clamping).

    Parameters
    ----------
    freq_hz
        Frequencies in Hz, any shape.

    Returns
    -------
    numpy.ndarray
        Integer indices, same shape as ``freq_hz``.
    """
    mhz = np.clip(
        np.asarray(freq_hz, dtype=np.float64) / 1e6, PB_FREQUENCIES_MHZ[0], PB_FREQUENCIES_MHZ[-1]
    )
    return np.abs(mhz[..., None] - PB_FREQUENCIES_MHZ).argmin(axis=-1)


def angular_distance(ra, dec, ra0, dec0) -> NDArray[np.float64]:
    """Angle between directions (radians in and out), vectorised: how far a source lies from a
    pointing."""
    cos_r = (np.sin(dec) * np.sin(dec0) + np.cos(dec) * np.cos(dec0) * np.cos(ra - ra0))
    return np.arccos(np.clip(cos_r, -1.0, 1.0))


def vla_primary_beam(radius_rad: ArrayLike, freq_hz: ArrayLike) -> NDArray[np.float64]:
    """VLA S-band primary beam power response (1 on axis).

    Parameters
    ----------
    radius_rad
        Angular distance from the pointing centre in radians; broadcast against ``freq_hz``.
    freq_hz
        Frequency in Hz. The polynomial's x uses this frequency; the coefficients are those of
        the nearest tabulated frequency, with the frequency clamped to 2052-3948 MHz.

    Returns
    -------
    numpy.ndarray
        Beam response in [0, 1], shape ``broadcast(radius_rad, freq_hz)``; zero beyond the
        polynomial's first null.
    """
    radius, freq = np.broadcast_arrays(
        np.asarray(radius_rad, dtype=np.float64), np.asarray(freq_hz, dtype=np.float64)
    )
    index = nearest_coefficient_index(freq)
    a1, a2, a3 = (PB_COEFFICIENTS[index, k] for k in range(3))
    x2 = (np.degrees(radius) * 60.0 * freq / 1e9) ** 2
    beam = 1.0 + x2 * (a1 + x2 * (a2 + x2 * a3))
    return np.where(x2 < PB_NULL_X2[index], np.clip(beam, 0.0, 1.0), 0.0)
