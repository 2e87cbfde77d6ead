"""The source finder on seeded images with injected sources (issue 11 "Must show")."""

from __future__ import annotations

import numpy as np
import pytest

from vlassdask.catalog.config import CatalogConfig
from vlassdask.catalog.find import find_sources
from vlassdask.errors import InputError
from vlassdask.io.catalog_schema import check_catalog
from vlassdask.testing.sources import make_source_image

BEAM_MAJOR_ARCSEC = 3.0


def test_catalog_follows_the_schema(source_catalog):
    check_catalog(source_catalog)
    assert set(source_catalog["S_Code"]) <= {"S", "M", "C"}
    assert (source_catalog["E_Total_flux"] > 0).all()


def test_completeness_above_7_sigma_is_at_least_95_percent(matched):
    bright = matched[matched["snr"] > 7]
    assert len(bright) > 150
    assert bright["found"].mean() >= 0.95


def test_total_flux_within_3_percent_above_snr_50(matched):
    strong = matched[matched["found"] & (matched["snr"] > 50)]
    ratio = strong["Total_flux_cat"] / strong["flux_mjy"]
    assert len(strong) > 80
    # The median is unbiased to 1%; 90% of the sources lie within 3% (at S/N 50 the fit's own
    # 1-sigma error is 2-3%, so not every one can) and above S/N 150 every one does.
    assert abs(np.median(ratio) - 1) < 0.01
    assert np.mean(np.abs(ratio - 1) < 0.03) >= 0.9
    very = strong["snr"] > 150
    assert very.sum() > 20 and np.all(np.abs(ratio[very] - 1) < 0.03)


def test_low_snr_fluxes_are_consistent_with_their_errors(matched):
    faint = matched[matched["found"] & (matched["snr"] > 7) & (matched["snr"] < 20)]
    pull = (faint["Total_flux_cat"] - faint["flux_mjy"]) / faint["E_Total_flux_cat"]
    peak_pull = (faint["Peak_flux_cat"] - faint["peak_mjy"]) / faint["E_Peak_flux_cat"]
    assert len(faint) > 40
    # Errors scale the scatter correctly (std of the pulls near 1) and the known upward bias
    # of Gaussian-fit fluxes at low S/N stays below one error bar.
    assert 0.7 < pull.std() < 1.4 and abs(pull.median()) < 1.0
    assert 0.7 < peak_pull.std() < 1.4 and abs(peak_pull.median()) < 0.5
    assert np.mean(np.abs(pull) < 3) >= 0.95


def test_positions_within_a_tenth_of_the_beam_above_snr_20(matched):
    strong = matched[matched["found"] & (matched["snr"] > 20)]
    assert len(strong) > 120
    assert strong["sep"].max() < 0.1 * BEAM_MAJOR_ARCSEC


def test_extended_sources_are_resolved_with_their_deconvolved_sizes(matched):
    big = matched[matched["found"] & (matched["snr"] > 50) & (matched["major_arcsec"] > 3)]
    assert len(big) > 5
    assert np.median(np.abs(big["DC_Maj_cat"] / big["major_arcsec"] - 1)) < 0.1
    points = matched[matched["found"] & (matched["snr"] > 100) & (matched["major_arcsec"] == 0)]
    assert (points["DC_Maj_cat"] < 1.0).all()


@pytest.fixture(scope="module")
def noise_only():
    """Detections and beams searched in three 2048^2 noise-only images (1.5e6 beams)."""
    found, beams = 0, 0.0
    for seed in range(3):
        ds, _ = make_source_image(nx=2048, ny=2048, n_sources=0, seed=100 + seed)
        found += len(find_sources(ds))
        beams += 2048**2 / (np.pi / (4 * np.log(2)) * 3.0 * 2.5)
    return found, beams


def test_false_detections_at_most_one_per_million_beams(noise_only):
    """Correlated Gaussian noise has 3.7 peaks above 5 sigma per 1e6 beams (Euler characteristic
    density of a 2-D Gaussian random field, (4 ln 2 / (2 pi)^1.5) u exp(-u^2/2) per beam FWHM^2
    at u = 5, times the beam area 1.133 FWHM^2). As in PyBDSF, the islands of most of them are
    smaller than ``minpix_isl`` (6 pixels here) and the flat noise gets a constant rms, so that
    the threshold does not dip where a box measures low: the issue's <= 1 per 1e6 beams holds
    (0 in 1.5e6 beams when measured)."""
    found, beams = noise_only
    assert found <= beams / 1e6
    theory = 4 * np.log(2) / (2 * np.pi) ** 1.5 * 5 * np.exp(-12.5) * 1.1331 * beams
    assert theory > 5  # the minimum island size and the constant rms, not luck, remove them


def test_an_island_across_a_chunk_border_gives_the_same_components():
    ds, truth = make_source_image(nx=512, ny=512, n_sources=30, seed=4)
    one = find_sources(ds, CatalogConfig(chunk_pixels=512))
    many = find_sources(ds, CatalogConfig(chunk_pixels=64, islands_per_task=3))
    assert len(one) == len(many) > 20
    crossing = ((one["Xposn"] % 64 < 4) | (one["Xposn"] % 64 > 60)
                | (one["Yposn"] % 64 < 4) | (one["Yposn"] % 64 > 60))  # fmt: skip
    assert crossing.sum() >= 3
    for column in ("RA", "DEC", "Total_flux", "Peak_flux", "Maj", "Min", "PA", "Isl_rms"):
        np.testing.assert_allclose(many[column], one[column], rtol=1e-9, atol=1e-12)


def test_a_multi_gaussian_island_is_an_m_source():
    import pandas as pd

    ra, dec = 150.0, 30.0
    sky = pd.DataFrame({"ra": [ra, ra + 2.0 / 3600 / np.cos(np.radians(dec))],
                        "dec": [dec, dec + 1.5 / 3600], "flux_mjy": [20.0, 15.0]})
    ds, _ = make_source_image(nx=256, ny=256, sky_sources=sky, seed=1)
    cat = find_sources(ds)
    assert list(cat["S_Code"]) == ["M"] and cat["N_Gaussians"].iloc[0] == 2
    assert cat["Total_flux"].iloc[0] == pytest.approx(35.0, rel=0.03)


def test_image_without_beam_or_finite_pixels_is_refused():
    ds, _ = make_source_image(nx=128, ny=128, n_sources=2)
    with pytest.raises(InputError, match="restoring beam"):
        find_sources(ds.assign_attrs(restoring_beam=None))
    blank = ds.copy()
    blank["SKY"] = blank["SKY"] * np.nan
    with pytest.raises(InputError, match="no finite pixel"):
        find_sources(blank)
