"""Imaging weights (natural, uniform, Briggs robust, Gaussian taper) around the numba kernels."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from vlassdask.kernels.weighting import (
    BRIGGS,
    NATURAL,
    UNIFORM,
    accumulate_density,
    weight_factors,
)

_MODES = {"natural": NATURAL, "uniform": UNIFORM, "briggs": BRIGGS}


@dataclass(frozen=True)
class WeightingScheme:
    """How visibility weights become imaging weights.

    Attributes
    ----------
    mode
        natural, uniform or briggs.
    robust
        Briggs robustness (-2 ~ uniform, +2 ~ natural).
    taper_arcsec
        FWHM of the Gaussian taper in the image plane (0: none).
    shape
        Density grid shape (the image size).
    cell
        Image pixel size in radians (the density grid's uv cell is 1 / (n cell)).
    """

    mode: str
    robust: float
    taper_arcsec: float
    shape: tuple[int, int]
    cell: float

    @property
    def needs_density(self) -> bool:
        return self.mode != "natural"

    @property
    def uv_cells(self) -> tuple[float, float]:
        return 1.0 / (self.shape[0] * self.cell), 1.0 / (self.shape[1] * self.cell)

    @property
    def taper_coefficient(self) -> float:
        """c in exp(-c (u^2 + v^2)) for an image-plane Gaussian of FWHM ``taper_arcsec``."""
        if self.taper_arcsec <= 0:
            return 0.0
        theta = math.radians(self.taper_arcsec / 3600.0)
        return (math.pi * theta) ** 2 / (4.0 * math.log(2.0))

    def briggs_f2(self, density: np.ndarray, total_weight: float) -> float:
        """Briggs' f^2 = (5 10^-R)^2 / (sum_cells D^2 / sum_k w_k)."""
        if self.mode != "briggs":
            return 0.0
        return (5.0 * 10.0 ** (-self.robust)) ** 2 / (float(np.sum(density**2)) / total_weight)


def add_density(
    density: np.ndarray | None, uvw: np.ndarray, freq: np.ndarray, wsum: np.ndarray,
    scheme: WeightingScheme,
) -> np.ndarray:
    """Accumulate one block's weights on the density grid (allocated on first use).

    Memory: one float64 grid of the image size.
    """
    if density is None:
        density = np.zeros(scheme.shape, dtype=np.float64)
    return accumulate_density(uvw, freq, wsum, density, *scheme.uv_cells)


def imaging_weight_factors(
    uvw: np.ndarray, freq: np.ndarray, wsum: np.ndarray, density: np.ndarray | None,
    scheme: WeightingScheme, f2: float,
) -> np.ndarray:
    """Per-visibility factor (float32 (row, chan)) turning data weights into imaging weights."""
    grid = density if density is not None else np.zeros((1, 1))
    du, dv = scheme.uv_cells
    return weight_factors(uvw, freq, wsum, grid, du, dv, _MODES[scheme.mode], f2,
                          scheme.taper_coefficient)
