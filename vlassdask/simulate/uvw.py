"""Baseline coordinates (u, v, w) in the ICRS frame of a phase centre.

UVW of a row = projection of position(ANTENNA2) - position(ANTENNA1) onto the (u, v, w) basis of
the phase centre: u towards east, v towards north, w towards the source. ITRF baselines are rotated
to GCRS orientation (axes parallel to ICRS) at each time with astropy; the rotation depends only
on time, so it is computed once per integration as a 3 x 3 matrix and applied to all antennas.
"""

from __future__ import annotations

import numpy as np
from astropy import units as u
from astropy.coordinates import GCRS, ITRS, CartesianRepresentation
from astropy.time import Time
from numpy.typing import NDArray


def itrs_to_gcrs_matrices(times: Time) -> NDArray[np.float64]:
    """Rotation matrices taking ITRS vectors to GCRS orientation at each time.

    Parameters
    ----------
    times
        Observation times, shape (time,).

    Returns
    -------
    numpy.ndarray
        Shape (time, 3, 3); ``matrices[t] @ x_itrs`` is the GCRS vector.
    """
    times = times.reshape(-1) if times.ndim else times.reshape(1)
    axes = np.broadcast_to(np.eye(3)[:, :, None], (3, 3, times.size))
    unit_vectors = CartesianRepresentation(axes * u.m)
    gcrs = ITRS(unit_vectors, obstime=times).transform_to(GCRS(obstime=times))
    # gcrs.cartesian.xyz has shape (component, axis, time); the matrix is [time, component, axis]
    return np.ascontiguousarray(np.transpose(gcrs.cartesian.xyz.to_value(u.m), (2, 0, 1)))


def phase_centre_basis(ra_rad: NDArray, dec_rad: NDArray) -> NDArray[np.float64]:
    """The (u, v, w) unit vectors of phase centres in ICRS Cartesian coordinates.

    Parameters
    ----------
    ra_rad, dec_rad
        Phase centres, radians, shape (field,) (or broadcastable).

    Returns
    -------
    numpy.ndarray
        Shape (field, 3, 3): rows are u (east), v (north) and w (towards the source).
    """
    ra, dec = np.broadcast_arrays(np.atleast_1d(ra_rad), np.atleast_1d(dec_rad))
    sin_ra, cos_ra = np.sin(ra), np.cos(ra)
    sin_dec, cos_dec = np.sin(dec), np.cos(dec)
    zero = np.zeros_like(ra)
    u_vec = np.stack([-sin_ra, cos_ra, zero], axis=-1)
    v_vec = np.stack([-sin_dec * cos_ra, -sin_dec * sin_ra, cos_dec], axis=-1)
    w_vec = np.stack([cos_dec * cos_ra, cos_dec * sin_ra, sin_dec], axis=-1)
    return np.stack([u_vec, v_vec, w_vec], axis=-2)


def uvw_projection_matrices(times: Time, ra_rad: NDArray, dec_rad: NDArray) -> NDArray[np.float64]:
    """Matrices taking ITRF baseline vectors to (u, v, w) at each time.

    Parameters
    ----------
    times
        Integration mid-times, shape (time,).
    ra_rad, dec_rad
        Phase centre of each time, radians, shape (time,).

    Returns
    -------
    numpy.ndarray
        Shape (time, 3, 3): ``basis(phase centre) @ R_itrs_to_gcrs(time)``.
    """
    return phase_centre_basis(ra_rad, dec_rad) @ itrs_to_gcrs_matrices(times)


def baseline_uvw(
    projections: NDArray[np.float64],
    positions_itrf_m: NDArray[np.float64],
    time_index: NDArray[np.integer],
    antenna1: NDArray[np.integer],
    antenna2: NDArray[np.integer],
) -> NDArray[np.float64]:
    """UVW in metres of rows (time, antenna1, antenna2).

    Parameters
    ----------
    projections
        From :func:`uvw_projection_matrices`, shape (time, 3, 3).
    positions_itrf_m
        Antenna ITRF positions, metres, shape (antenna, 3).
    time_index, antenna1, antenna2
        Per row, shape (row,).

    Returns
    -------
    numpy.ndarray
        Shape (row, 3): projection of position(antenna2) - position(antenna1).
    """
    baselines = positions_itrf_m[antenna2] - positions_itrf_m[antenna1]
    return np.einsum("rij,rj->ri", projections[time_index], baselines)
