"""Catalog comparison (Memo 19) recovers known offsets; cross-matching; calibrator test."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from vlassdask.catalog.calibrator import check_calibrator
from vlassdask.catalog.compare import compare_catalogs, fit_histogram
from vlassdask.catalog.crossmatch import crossmatch
from vlassdask.errors import InputError
from vlassdask.io.catalog_report import write_comparison_report

OFFSETS = {"T01t01": (0.05, -0.02, 0.10), "T02t02": (-0.03, 0.01, -0.05)}


def _catalog(rng, n=600):
    tiles = np.repeat(list(OFFSETS), n // 2)
    return pd.DataFrame({"RA": rng.uniform(10, 11, n), "DEC": rng.uniform(-1, 1, n),
                         "Total_flux": rng.uniform(1, 50, n), "Peak_flux": rng.uniform(1, 40, n),
                         "Alpha": rng.normal(-0.7, 0.3, n), "Tile": tiles,
                         "Image": tiles})  # fmt: skip


def _perturbed(a, rng):
    b = a.copy()
    for tile, (d_total, d_peak, d_alpha) in OFFSETS.items():
        rows = b["Tile"] == tile
        n = int(rows.sum())
        b.loc[rows, "Total_flux"] += d_total + rng.normal(0, 0.02, n)
        b.loc[rows, "Peak_flux"] += d_peak + rng.normal(0, 0.01, n)
        b.loc[rows, "Alpha"] += d_alpha + rng.normal(0, 0.05, n)
    b["RA"] += rng.normal(0, 0.1, len(b)) / 3600  # positions within the 0.5" match
    return b.sample(frac=1.0, random_state=1).reset_index(drop=True)


def test_comparison_recovers_injected_offsets_per_tile_and_overall(rng, tmp_path):
    a = _catalog(rng)
    b = _perturbed(a, rng)
    comparison = compare_catalogs(a, b)
    assert len(comparison.matched) == len(a)
    for tile, offsets in OFFSETS.items():
        for quantity, offset in zip(("Total_flux", "Peak_flux", "Alpha"), offsets, strict=True):
            fit = comparison.fits[tile][quantity]
            assert abs(fit.mean - offset) < max(4 * fit.e_mean, 0.003), (tile, quantity)
    noise = {"Total_flux": 0.02, "Peak_flux": 0.01, "Alpha": 0.05}
    for tile in OFFSETS:
        for quantity, sigma in noise.items():
            assert comparison.fits[tile][quantity].sigma == pytest.approx(sigma, rel=0.2)
    overall = comparison.fits["overall"]["Total_flux"]
    assert overall.mean == pytest.approx(np.mean([o[0] for o in OFFSETS.values()]), abs=0.02)
    report = write_comparison_report(comparison, tmp_path / "report", names=("a", "b"))
    summary = json.loads((report / "summary.json").read_text())
    assert summary["n_matched"] == len(a)
    assert (report / "index.html").is_file() and (report / "T01t01_Alpha.png").is_file()


def test_fit_histogram_of_a_gaussian_sample(rng):
    fit = fit_histogram(rng.normal(3.0, 2.0, 20000))
    assert fit.mean == pytest.approx(3.0, abs=0.05) and fit.sigma == pytest.approx(2.0, rel=0.03)
    assert fit_histogram(np.array([1.0, 2.0])) is None


def test_catalogs_that_do_not_overlap_are_refused(rng):
    a = _catalog(rng, 10)
    b = a.assign(DEC=a["DEC"] + 1.0)
    with pytest.raises(InputError, match="no components"):
        compare_catalogs(a, b)


def test_crossmatch_nearest_within_the_radius():
    ours = pd.DataFrame({"RA": [10.0, 20.0, 30.0], "DEC": [0.0, 0.0, 0.0]})
    theirs = pd.DataFrame({"ra_deg": [10.0 + 1.0 / 3600, 20.0 + 2.0 / 3600, 30.0],
                           "dec_deg": [0.0, 0.0, 0.3 / 3600], "name": ["a", "b", "c"]})
    out = crossmatch(ours, theirs, ra="ra_deg", dec="dec_deg")
    assert list(out["X_index"]) == [0, -1, 2]
    assert list(out["X_name"].fillna("")) == ["a", "", "c"]
    np.testing.assert_allclose(out["X_sep_arcsec"], [1.0, np.nan, 0.3], atol=1e-6)
    wide = crossmatch(ours, theirs, ra="ra_deg", dec="dec_deg", radius_arcsec=2.5)
    assert list(wide["X_index"]) == [0, 1, 2]


def _visibilities(rng, secondary: float, scale_arcsec: float, n: int = 20000):
    """Amplitudes of a 1 Jy point source plus a component of relative flux ``secondary``:
    an offset point (``scale_arcsec`` away) or, with a negative scale, a Gaussian of that FWHM
    at the centre."""
    uv = rng.uniform(1, 140, n)  # klambda
    angle = rng.uniform(0, np.pi, n)
    if scale_arcsec > 0:
        phase = 2 * np.pi * uv * 1e3 * np.cos(angle) * np.radians(scale_arcsec / 3600)
        vis = 1 + secondary * np.exp(1j * phase)
    else:
        fwhm = np.radians(-scale_arcsec / 3600)
        vis = 1 + secondary * np.exp(-(np.pi * fwhm * uv * 1e3) ** 2 / (4 * np.log(2)))
    return uv, np.abs(vis), np.ones(n)


@pytest.mark.parametrize(("secondary", "scale", "verdict"), [
    (0.0, 1.0, "point"), (0.1, 1.5, "model"), (0.1, -40.0, "uvrange")])
def test_calibrator_verdicts(rng, secondary, scale, verdict):
    check = check_calibrator(*_visibilities(rng, secondary, scale), field="J0412+001")
    assert check.verdict == verdict
    inside = check.bins[check.bins["in_model_range"]]
    if verdict == "uvrange":
        assert not inside["flagged"].any() and check.bins["flagged"].any()
