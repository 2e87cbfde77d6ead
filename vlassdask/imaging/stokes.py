"""Stokes parameters and correlations of circular and linear feeds.

Calibrated data follow the parallactic-angle-free convention (the sky frame; the calibration has
removed the feeds' rotation), with the correlations of each feed basis (casacore CORR_TYPE codes
in brackets)::

    circular:  RR [5] = I + V    RL [6] = Q + iU    LR [7] = Q - iU    LL [8] = I - V
    linear:    XX [9] = I + Q    XY [10] = U + iV   YX [11] = U - iV   YY [12] = I - Q

so every Stokes parameter is half the sum or difference of two correlations, times 1 or -i::

    circular:  I = (RR + LL)/2   Q = (RL + LR)/2   U = -i (RL - LR)/2   V = (RR - LL)/2
    linear:    I = (XX + YY)/2   Q = (XX - YY)/2   U = (XY + YX)/2      V = -i (XY - YX)/2

With weights, the two correlations are averaged with their own weights (CASA's convention for
Stokes I: ``(w_a V_a + w_b V_b) / (w_a + w_b)``); :class:`StokesRecipe` holds that rule.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from vlassdask.errors import InputError

#: casacore Stokes enumeration -> correlation name.
CORR_NAMES = {5: "RR", 6: "RL", 7: "LR", 8: "LL", 9: "XX", 10: "XY", 11: "YX", 12: "YY"}

#: The four correlations of each feed basis, in MS order.
FEED_CORR_TYPES = {"circular": (5, 6, 7, 8), "linear": (9, 10, 11, 12)}

#: Indices into those four of the correlations a data set with ``all`` or only the
#: ``parallel`` hands has.
CORRELATION_SETS = {"all": (0, 1, 2, 3), "parallel": (0, 3)}

#: Stokes parameters an image plane can hold.
STOKES = ("I", "Q", "U", "V")


class StokesRecipe(NamedTuple):
    """``S = factor x (w_a V_a + sign x w_b V_b) / (w_a + w_b)`` of two correlations.

    Attributes
    ----------
    first, second
        CORR_TYPE codes of the two correlations (a, b).
    sign
        +1 (sum) or -1 (difference).
    factor
        1 or -1j.
    """

    first: int
    second: int
    sign: float
    factor: complex


#: The rule of each Stokes parameter in each feed basis (see the module docstring).
RECIPES: dict[str, dict[str, StokesRecipe]] = {
    "circular": {"I": StokesRecipe(5, 8, 1.0, 1.0), "Q": StokesRecipe(6, 7, 1.0, 1.0),
                 "U": StokesRecipe(6, 7, -1.0, -1j), "V": StokesRecipe(5, 8, -1.0, 1.0)},
    "linear": {"I": StokesRecipe(9, 12, 1.0, 1.0), "Q": StokesRecipe(9, 12, -1.0, 1.0),
               "U": StokesRecipe(10, 11, 1.0, 1.0), "V": StokesRecipe(10, 11, -1.0, -1j)},
}


def corr_names(corr_types) -> str:
    """``"RR, LL"`` for CORR_TYPE codes (unknown codes as numbers)."""
    return ", ".join(CORR_NAMES.get(int(c), str(c)) for c in corr_types)


def feed_basis(corr_types) -> str:
    """``circular`` or ``linear``: the basis of the data's correlations.

    Raises
    ------
    InputError
        If the correlations mix the bases or are of neither.
    """
    codes = {int(c) for c in corr_types}
    for basis, types in FEED_CORR_TYPES.items():
        if codes and codes <= set(types):
            return basis
    raise InputError(f"correlations {corr_names(corr_types)} (CORR_TYPE {sorted(codes)}) are "
                     "neither circular (RR, RL, LR, LL) nor linear (XX, XY, YX, YY)")


def stokes_recipe(stokes: str, corr_types) -> tuple[StokesRecipe, tuple[int, int]]:
    """The recipe of Stokes ``stokes`` for data with ``corr_types``, and the indices of its two
    correlations along the data's ``corr`` axis.

    Raises
    ------
    InputError
        If ``stokes`` is not one of I, Q, U, V, or the data lack a correlation it needs (Q and U
        from circular feeds need the cross-hands RL and LR).
    """
    if stokes not in STOKES:
        raise InputError(f"unknown Stokes parameter {stokes!r}: expected one of "
                         f"{', '.join(STOKES)}")
    types = [int(c) for c in corr_types]
    recipe = RECIPES[feed_basis(types)][stokes]
    missing = [CORR_NAMES[c] for c in (recipe.first, recipe.second) if c not in types]
    if missing:
        raise InputError(f"Stokes {stokes} needs the correlations {CORR_NAMES[recipe.first]} and "
                         f"{CORR_NAMES[recipe.second]}; the data have {corr_names(types)} "
                         f"(missing {', '.join(missing)})")
    return recipe, (types.index(recipe.first), types.index(recipe.second))


def circular_to_linear(vis: np.ndarray) -> np.ndarray:
    """Correlations (..., 4) [RR, RL, LR, LL] of a sky -> [XX, XY, YX, YY] of the same sky.

    Exact and linear: ``I = (RR + LL)/2``, ``V = (RR - LL)/2``, ``Q = (RL + LR)/2``,
    ``U = -i (RL - LR)/2``, then ``XX = I + Q``, ``XY = U + iV``, ``YX = U - iV``,
    ``YY = I - Q``.
    """
    rr, rl, lr, ll = (vis[..., k] for k in range(4))
    i, v = (rr + ll) / 2, (rr - ll) / 2
    q, u = (rl + lr) / 2, -1j * (rl - lr) / 2
    return np.stack([i + q, u + 1j * v, u - 1j * v, i - q], axis=-1).astype(vis.dtype)
