"""Per-chunk visibility preparation: Stokes I from the parallel hands and phase rotation.

Stokes I follows CASA: a (row, channel) counts only where both parallel hands (RR and LL, or XX
and YY) are unflagged; each hand is weighted by its own weight, so the weighted Stokes I
visibility is ``w1 V1 + w2 V2`` with weight ``w1 + w2`` (see SPEC "Imaging conventions").
"""

from __future__ import annotations

import math

import numpy as np

from vlassdask.errors import InputError
from vlassdask.kernels.constants import SPEED_OF_LIGHT
from vlassdask.survey.coordinates import sin_offsets

#: CORR_TYPE codes (casacore Stokes enum) of the parallel-hand pairs that make Stokes I
PARALLEL_HANDS = ((5, 8), (9, 12))  # (RR, LL), (XX, YY)


def parallel_hand_indices(corr_types: list[int]) -> tuple[int, int]:
    """Correlation indices of the two parallel hands.

    Raises
    ------
    InputError
        If neither RR/LL nor XX/YY are present.
    """
    for first, second in PARALLEL_HANDS:
        if first in corr_types and second in corr_types:
            return corr_types.index(first), corr_types.index(second)
    names = {5: "RR", 6: "RL", 7: "LR", 8: "LL", 9: "XX", 10: "XY", 11: "YX", 12: "YY"}
    present = ", ".join(names.get(int(c), str(c)) for c in corr_types)
    raise InputError(f"Stokes I needs both parallel hands (RR and LL, or XX and YY); the data "
                     f"have {present} (CORR_TYPE {list(corr_types)})")


def stokes_i_block(
    data: np.ndarray,
    flag: np.ndarray,
    weight: np.ndarray,
    flag_row: np.ndarray | None,
    *,
    hands: tuple[int, int],
    label: str = "",
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Weighted Stokes I visibilities of one row chunk.

    Parameters
    ----------
    data
        complex (row, chan, corr).
    flag
        bool (row, chan, corr).
    weight
        float (row, chan, corr) (WEIGHT_SPECTRUM) or (row, corr) (WEIGHT).
    flag_row
        bool (row,) or None.
    hands
        Indices of the two parallel hands along ``corr``.
    label
        Names the data (field/spw) in error messages.

    Returns
    -------
    vis : numpy.ndarray
        complex64 (row, chan): w1 V1 + w2 V2, zero where unusable.
    wsum : numpy.ndarray
        float32 (row, chan): w1 + w2, zero where unusable.
    counts : numpy.ndarray
        int64 [total, unflagged, unflagged with zero weight].

    Raises
    ------
    InputError
        If an unflagged visibility or weight is not finite.
    """
    w1, w2, ok = _hands(flag, weight, flag_row, hands)
    d1, d2 = data[..., hands[0]], data[..., hands[1]]
    bad = ok & ~(np.isfinite(d1) & np.isfinite(d2))
    if bad.any():
        raise InputError(f"{int(bad.sum())} unflagged visibilities are NaN/inf {label}; flag them "
                         "before imaging")
    wsum, counts = _weight_sum(w1, w2, ok, label)
    vis = np.where(ok, w1 * d1 + w2 * d2, 0).astype(np.complex64)
    return vis, wsum, counts


def _hands(flag, weight, flag_row, hands):
    """Weights (float32 (row, chan)) of the two hands and where both are usable."""
    i1, i2 = hands
    if weight.ndim == 2:
        weight = weight[:, None, :]
    w1 = np.broadcast_to(weight[..., i1], flag.shape[:2]).astype(np.float32)
    w2 = np.broadcast_to(weight[..., i2], flag.shape[:2]).astype(np.float32)
    ok = ~(flag[..., i1] | flag[..., i2])
    if flag_row is not None:
        ok &= ~flag_row[:, None]
    return w1, w2, ok


def _weight_sum(w1, w2, ok, label):
    bad = ok & ~(np.isfinite(w1) & np.isfinite(w2))
    if bad.any():
        raise InputError(f"{int(bad.sum())} unflagged weights are NaN/inf {label}")
    wsum = np.where(ok, w1 + w2, np.float32(0))
    if (wsum < 0).any():
        raise InputError(f"negative weights in the data {label}")
    counts = np.array([ok.size, int(ok.sum()), int((ok & (wsum <= 0)).sum())], dtype=np.int64)
    return wsum, counts


def stokes_i_weights(
    flag: np.ndarray,
    weight: np.ndarray,
    flag_row: np.ndarray | None,
    *,
    hands: tuple[int, int],
    label: str = "",
) -> tuple[np.ndarray, np.ndarray]:
    """Stokes I weights and counts of one row chunk, without reading the visibilities.

    Returns ``wsum`` (float32 (row, chan)) and ``counts`` as :func:`stokes_i_block` does.
    """
    w1, w2, ok = _hands(flag, weight, flag_row, hands)
    return _weight_sum(w1, w2, ok, label)


def uvw_basis(ra: float, dec: float) -> np.ndarray:
    """Rows: the unit vectors of u (east), v (north), w (towards ra, dec) in ICRS cartesian."""
    sa, ca, sd, cd = np.sin(ra), np.cos(ra), np.sin(dec), np.cos(dec)
    return np.array([[-sa, ca, 0.0], [-sd * ca, -sd * sa, cd], [cd * ca, cd * sa, sd]])


def rotate_uvw(
    uvw: np.ndarray, old_center: tuple[float, float], new_center: tuple[float, float]
) -> np.ndarray:
    """uvw (row, 3) of the same baselines about ``new_center``: R(new) R(old)^T uvw."""
    if np.allclose(old_center, new_center, rtol=0, atol=1e-13):
        return uvw
    return uvw @ (uvw_basis(*new_center) @ uvw_basis(*old_center).T).T


def rotate_phase_center(
    uvw: np.ndarray,
    vis: np.ndarray,
    freq: np.ndarray,
    old_center: tuple[float, float],
    new_center: tuple[float, float],
) -> tuple[np.ndarray, np.ndarray]:
    """Re-phase visibilities from ``old_center`` to ``new_center`` (radians).

    uvw' = R(new) R(old)^T uvw and V' = V exp(+2 pi i (w - w') nu / c), so that the data obey the
    MS convention V = sum S exp(+2 pi i (u l + v m + w (n - 1)) nu / c) about the new centre.

    Returns
    -------
    uvw_new : numpy.ndarray
        float64 (row, 3) metres.
    vis_new : numpy.ndarray
        complex (row, chan), same dtype as ``vis``.
    """
    if np.allclose(old_center, new_center, rtol=0, atol=1e-13):
        return uvw, vis
    new = rotate_uvw(uvw, old_center, new_center)
    dw = (uvw[:, 2] - new[:, 2])[:, None] * (freq[None, :] / SPEED_OF_LIGHT)
    return new, (vis * np.exp(2j * np.pi * dw)).astype(vis.dtype)


def _offset(field_center: tuple[float, float], image_center: tuple[float, float]
            ) -> tuple[float, float]:  # fmt: skip
    """(l, m) of the field centre about the image centre (radians; SIN projection)."""
    l_, m_, _ = sin_offsets(*np.degrees(field_center), *np.degrees(image_center))
    return float(l_), float(m_)


def to_field_relative_w(
    uvw: np.ndarray,
    vis: np.ndarray | None,
    freq: np.ndarray,
    field_center: tuple[float, float],
    image_center: tuple[float, float],
) -> tuple[np.ndarray, np.ndarray | None]:
    """Re-phase one field's visibilities to the image centre keeping the field's own w-term.

    With ``uvw' `` and ``V'`` of :func:`rotate_phase_center` and ``(a, b)`` the field centre's
    direction cosines about the image centre, returns ``uvw'' = uvw' - w_f (a, b, 1)`` and
    ``V'' = V' exp(-2 pi i w_f (a^2 + b^2) / 2 nu / c)`` (``w_f`` the field-frame w). To second
    order in the offsets, ``V''`` at ``uvw''`` is the sky about the image centre times the
    field's own w-term ``exp(2 pi i w_f (n_f - 1))``: gridding it (w-correcting only ``w''``,
    which is small) leaves the w-term error of each field about its own centre, the error model
    of CASA's 2-D mosaic gridding that the VLASS position correction removes
    (:mod:`vlassdask.survey.position_correction`).

    Parameters
    ----------
    uvw
        float64 (row, 3) metres about ``field_center``.
    vis
        complex (row, chan), or None to transform the coordinates only.
    freq
        float64 (chan,) Hz.
    field_center, image_center
        (RA, Dec) radians.

    Returns
    -------
    uvw'' : numpy.ndarray
        float64 (row, 3) metres.
    vis'' : numpy.ndarray or None
        Same dtype as ``vis``.
    """
    a, b = _offset(field_center, image_center)
    w_f = uvw[:, 2]
    if vis is None:
        rotated, out = rotate_uvw(uvw, field_center, image_center), None
    else:
        rotated, out = rotate_phase_center(uvw, vis, freq, field_center, image_center)
        phase = (-math.pi * (a * a + b * b) / SPEED_OF_LIGHT) * w_f[:, None] * freq[None, :]
        out = (out * np.exp(1j * phase)).astype(vis.dtype)
    return rotated - w_f[:, None] * np.array([a, b, 1.0]), out


def from_field_relative_w(
    uvw: np.ndarray,
    w_field: np.ndarray,
    vis: np.ndarray,
    freq: np.ndarray,
    image_center: tuple[float, float],
    field_center: tuple[float, float],
) -> np.ndarray:
    """Inverse of :func:`to_field_relative_w` for visibilities: ``vis`` at ``uvw''`` (metres)
    back to the field's own phase centre, given the rows' field-frame ``w_field`` (metres)."""
    a, b = _offset(field_center, image_center)
    rotated = uvw + w_field[:, None] * np.array([a, b, 1.0])
    phase = (math.pi * (a * a + b * b) / SPEED_OF_LIGHT) * w_field[:, None] * freq[None, :]
    _, out = rotate_phase_center(rotated, vis * np.exp(1j * phase), freq, image_center,
                                 field_center)
    return out.astype(vis.dtype)
