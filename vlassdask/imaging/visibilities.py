"""Per-chunk visibility preparation: Stokes parameters from the correlations, phase rotation.

Stokes I follows CASA: a (row, channel) counts only where both parallel hands (RR and LL, or XX
and YY) are unflagged; each hand is weighted by its own weight, so the weighted Stokes I
visibility is ``w1 V1 + w2 V2`` with weight ``w1 + w2`` (see SPEC "Imaging conventions"). Q, U
and V follow the same rule with their own correlations (:mod:`vlassdask.imaging.stokes`).
"""

from __future__ import annotations

import math

import numpy as np

from vlassdask.errors import InputError
from vlassdask.imaging.stokes import StokesRecipe, stokes_recipe
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


def stokes_recipes(stokes: str, corr_types) -> tuple[tuple[StokesRecipe, tuple[int, int]], ...]:
    """The recipe and correlation indices of each Stokes parameter in ``stokes`` (``"IQU"``)
    for data with ``corr_types`` (:func:`vlassdask.imaging.stokes.stokes_recipe`)."""
    return tuple(stokes_recipe(s, corr_types) for s in stokes)


def stokes_block(
    data: np.ndarray,
    flag: np.ndarray,
    weight: np.ndarray,
    flag_row: np.ndarray | None,
    *,
    recipes: tuple[tuple[StokesRecipe, tuple[int, int]], ...],
    label: str = "",
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Weighted Stokes visibilities of one row chunk.

    A (row, channel) is usable where every correlation of every recipe is unflagged. Its
    weight ``wsum`` is that of the first Stokes parameter (``w_a + w_b`` of its two
    correlations); each Stokes parameter ``S_k`` is the weighted combination of its own two
    correlations (:class:`~vlassdask.imaging.stokes.StokesRecipe`), stored as ``wsum x S_k``.
    For Stokes I alone this is CASA's ``w1 V1 + w2 V2`` with weight ``w1 + w2``.

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
    recipes
        From :func:`stokes_recipes`.
    label
        Names the data (field/spw) in error messages.

    Returns
    -------
    vis : numpy.ndarray
        complex64 (stokes, row, chan): ``wsum x S_k``, zero where unusable.
    wsum : numpy.ndarray
        float32 (row, chan), zero where unusable.
    counts : numpy.ndarray
        int64 [total, unflagged, unflagged with zero weight].

    Raises
    ------
    InputError
        If an unflagged visibility or weight is not finite.
    """
    weights, ok = _usable(flag, weight, flag_row, recipes)
    used = sorted(weights)
    bad = ok & ~np.logical_and.reduce([np.isfinite(data[..., c]) for c in used])
    if bad.any():
        raise InputError(f"{int(bad.sum())} unflagged visibilities are NaN/inf {label}; flag them "
                         "before imaging")
    wsum, counts = _weight_sum(weights, recipes, ok, label)
    vis = np.empty((len(recipes),) + flag.shape[:2], dtype=np.complex64)
    for k, (recipe, (a, b)) in enumerate(recipes):
        w_a, w_b = weights[a], weights[b]
        combined = w_a * data[..., a] + recipe.sign * w_b * data[..., b]
        if k:  # S_k x wsum, S_k averaged with its own correlations' weights
            pair = w_a + w_b
            combined = combined * np.divide(wsum, pair, out=np.zeros_like(pair), where=pair > 0)
        vis[k] = np.where(ok, recipe.factor * combined, 0)
    return vis, wsum, counts


def _usable(flag, weight, flag_row, recipes):
    """Weights (float32 (row, chan)) of the correlations the recipes use, by index, and where
    all of them are unflagged."""
    if weight.ndim == 2:
        weight = weight[:, None, :]
    used = sorted({c for _, pair in recipes for c in pair})
    weights = {c: np.broadcast_to(weight[..., c], flag.shape[:2]).astype(np.float32)
               for c in used}
    ok = ~np.logical_or.reduce([flag[..., c] for c in used])
    if flag_row is not None:
        ok &= ~flag_row[:, None]
    return weights, ok


def _weight_sum(weights, recipes, ok, label):
    bad = ok & ~np.logical_and.reduce([np.isfinite(w) for w in weights.values()])
    if bad.any():
        raise InputError(f"{int(bad.sum())} unflagged weights are NaN/inf {label}")
    a, b = recipes[0][1]
    wsum = np.where(ok, weights[a] + weights[b], np.float32(0))
    if (wsum < 0).any() or any((w[ok] < 0).any() for w in weights.values()):
        raise InputError(f"negative weights in the data {label}")
    counts = np.array([ok.size, int(ok.sum()), int((ok & (wsum <= 0)).sum())], dtype=np.int64)
    return wsum, counts


def stokes_weights(
    flag: np.ndarray,
    weight: np.ndarray,
    flag_row: np.ndarray | None,
    *,
    recipes: tuple[tuple[StokesRecipe, tuple[int, int]], ...],
    label: str = "",
) -> tuple[np.ndarray, np.ndarray]:
    """Weights and counts of one row chunk, without reading the visibilities.

    Returns ``wsum`` (float32 (row, chan)) and ``counts`` as :func:`stokes_block` does.
    """
    weights, ok = _usable(flag, weight, flag_row, recipes)
    return _weight_sum(weights, recipes, ok, label)


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
