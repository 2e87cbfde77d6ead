"""Comparison of two catalogs of the same images (VLASS Memo 19, SPEC.md "Calibration-side
checks").

Components of catalog A and B are matched within 0.5"; for each quantity (``Total_flux``,
``Peak_flux`` and, when both have it, ``Alpha``) the differences B - A are histogrammed and a
Gaussian is fitted to the histogram (mean, sigma and their errors from the fit covariance), per
tile (the ``Tile`` column; per ``Image`` when tiles are unknown) and overall. The total/peak ratio
distributions of both catalogs are summarised by their median and scaled MAD.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import astropy.units as u
import numpy as np
import pandas as pd
from astropy.coordinates import SkyCoord
from scipy.optimize import OptimizeWarning, curve_fit

from vlassdask.errors import InputError

MATCH_RADIUS_ARCSEC = 0.5
QUANTITIES = ("Total_flux", "Peak_flux", "Alpha")
MAD_TO_SIGMA = 1.4826
#: Histogram range: median +/- this many robust sigma; bins: about sqrt(n), 10 to 80.
HIST_HALF_WIDTH_SIGMA = 5.0


@dataclass(frozen=True)
class GaussianFit:
    """A Gaussian fitted to a histogram of differences."""

    mean: float
    sigma: float
    e_mean: float
    e_sigma: float
    n: int
    counts: np.ndarray = field(repr=False)
    edges: np.ndarray = field(repr=False)

    def as_dict(self) -> dict[str, float]:
        """JSON-friendly values (no histogram)."""
        return {"mean": self.mean, "sigma": self.sigma, "e_mean": self.e_mean,
                "e_sigma": self.e_sigma, "n": self.n}  # fmt: skip


@dataclass(frozen=True)
class CatalogComparison:
    """What :func:`compare_catalogs` found.

    Attributes
    ----------
    matched
        One row per match: ``group`` (tile or image), ``sep_arcsec``, ``<q>_a``, ``<q>_b`` and
        ``d_<q>`` (B - A) for each compared quantity, ``ratio_a``/``ratio_b`` (total / peak).
    fits
        ``{group or "overall": {quantity: GaussianFit}}``.
    n_a, n_b
        Components in each catalog.
    quantities
        The quantities compared.
    """

    matched: pd.DataFrame
    fits: dict[str, dict[str, GaussianFit]]
    n_a: int
    n_b: int
    quantities: tuple[str, ...]

    def summary(self) -> dict:
        """JSON-friendly summary: counts, fitted Gaussians and total/peak centres."""
        ratio = {}
        for side in ("a", "b"):
            values = self.matched[f"ratio_{side}"].to_numpy()
            ratio[side] = {"median": float(np.nanmedian(values)) if values.size else None,
                           "sigma": _robust_sigma(values) if values.size else None}
        return {"n_a": self.n_a, "n_b": self.n_b, "n_matched": int(len(self.matched)),
                "match_radius_arcsec": MATCH_RADIUS_ARCSEC,
                "fits": {g: {q: f.as_dict() for q, f in fs.items()} for g, fs in
                         self.fits.items()},
                "total_over_peak": ratio}  # fmt: skip


def _gaussian(x: np.ndarray, amp: float, mean: float, sigma: float) -> np.ndarray:
    return amp * np.exp(-0.5 * ((x - mean) / sigma) ** 2)


def _robust_sigma(values: np.ndarray) -> float:
    values = values[np.isfinite(values)]
    return float(MAD_TO_SIGMA * np.median(np.abs(values - np.median(values))))


def fit_histogram(values: np.ndarray) -> GaussianFit | None:
    """Gaussian fit to the histogram of ``values`` (None with fewer than 5 finite values)."""
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    if values.size < 5:
        return None
    centre, spread = float(np.median(values)), _robust_sigma(values)
    if spread <= 0:
        spread = float(np.std(values))
    if spread <= 0:  # identical differences: nothing to fit
        counts, edges = np.histogram(values, bins=1, range=(centre - 0.5, centre + 0.5))
        return GaussianFit(centre, 0.0, 0.0, 0.0, int(values.size), counts, edges)
    bins = int(np.clip(np.sqrt(values.size), 10, 80))
    half = HIST_HALF_WIDTH_SIGMA * spread
    counts, edges = np.histogram(values, bins=bins, range=(centre - half, centre + half))
    mids = 0.5 * (edges[1:] + edges[:-1])
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", OptimizeWarning)
            popt, pcov = curve_fit(_gaussian, mids, counts, p0=(counts.max(), centre, spread),
                                   sigma=np.sqrt(np.maximum(counts, 1.0)), maxfev=5000)
        errors = np.sqrt(np.abs(np.diag(pcov)))
    except (RuntimeError, OptimizeWarning):  # no convergence: the robust estimates
        popt = (counts.max(), centre, spread)
        errors = (0.0, spread / np.sqrt(values.size), spread / np.sqrt(2.0 * values.size))
    return GaussianFit(float(popt[1]), float(abs(popt[2])), float(errors[1]), float(errors[2]),
                       int(values.size), counts, edges)


def _group_column(a: pd.DataFrame) -> pd.Series:
    if "Tile" in a and (a["Tile"].astype(str) != "").any():
        return a["Tile"].astype(str)
    if "Image" in a:
        return a["Image"].astype(str)
    return pd.Series(["all"] * len(a), index=a.index)


def compare_catalogs(a: pd.DataFrame, b: pd.DataFrame, *,
                     radius_arcsec: float = MATCH_RADIUS_ARCSEC) -> CatalogComparison:  # fmt: skip
    """Match two catalogs and fit Gaussians to the differences (module docstring).

    Raises
    ------
    InputError
        If a catalog lacks ``RA``/``DEC``/``Total_flux``/``Peak_flux`` or nothing matches.
    """
    for name, t in (("A", a), ("B", b)):
        missing = [c for c in ("RA", "DEC", "Total_flux", "Peak_flux") if c not in t]
        if missing:
            raise InputError(f"catalog {name} lacks column(s) {missing}")
    a, b = a.reset_index(drop=True), b.reset_index(drop=True)
    quantities = tuple(q for q in QUANTITIES if q in a and q in b
                       and np.isfinite(a[q].to_numpy(dtype=float)).any())  # fmt: skip
    if len(a) and len(b):
        ca = SkyCoord(a["RA"].to_numpy() * u.deg, a["DEC"].to_numpy() * u.deg)
        cb = SkyCoord(b["RA"].to_numpy() * u.deg, b["DEC"].to_numpy() * u.deg)
        index, sep, _ = ca.match_to_catalog_sky(cb)
        hit = sep.arcsec <= radius_arcsec
    else:
        hit = np.zeros(len(a), bool)
    if not hit.any():
        raise InputError(f"no components of the two catalogs match within {radius_arcsec}\"")
    ia, ib = np.flatnonzero(hit), index[hit]
    matched = pd.DataFrame({"group": _group_column(a).to_numpy()[ia],
                            "sep_arcsec": sep.arcsec[hit]})  # fmt: skip
    for q in quantities:
        matched[f"{q}_a"] = a[q].to_numpy(dtype=float)[ia]
        matched[f"{q}_b"] = b[q].to_numpy(dtype=float)[ib]
        matched[f"d_{q}"] = matched[f"{q}_b"] - matched[f"{q}_a"]
    matched["ratio_a"] = (a["Total_flux"] / a["Peak_flux"]).to_numpy()[ia]
    matched["ratio_b"] = (b["Total_flux"] / b["Peak_flux"]).to_numpy()[ib]
    fits: dict[str, dict[str, GaussianFit]] = {}
    groups = [("overall", matched)] + list(matched.groupby("group", sort=True))
    for name, part in groups:
        done = {q: fit_histogram(part[f"d_{q}"].to_numpy()) for q in quantities}
        fits[str(name)] = {q: f for q, f in done.items() if f is not None}
    return CatalogComparison(matched, fits, len(a), len(b), quantities)
