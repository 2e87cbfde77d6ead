"""The source finder on seeded images with injected sources (issue 11 "Must show")."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

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


def expected_noise_peaks(u: float, beams: float) -> float:
    """Peaks above ``u`` sigma in ``beams`` beam areas of Gaussian noise correlated over the
    beam: the Euler characteristic density of a 2-D Gaussian random field, (4 ln 2 / (2 pi)^1.5)
    u exp(-u^2/2) per beam FWHM^2, times the beam area 1.133 FWHM^2 (3.7e-6 per beam at u = 5)."""
    return 4 * np.log(2) / (2 * np.pi) ** 1.5 * u * np.exp(-u * u / 2) * 1.1331 * beams


#: Finder settings of the noise-only counts: the defaults (PyBDSF's island size cut, 6 pixels
#: here) and without the size cut, at thresh_pix 5 and 4.
NOISE_RUNS = {"default": {}, "4": {"thresh_pix": 4.0},
              "5, no size cut": {"minpix_isl": 1}, "4, no size cut": {"thresh_pix": 4.0,
                                                                     "minpix_isl": 1}}  # fmt: skip


@pytest.fixture(scope="module")
def noise_only():
    """Components found with each of :data:`NOISE_RUNS` in three 2048^2 noise-only images
    (1.5e6 beams); as ``"true sigma, 4"``, the islands (above 3 sigma, 8-connected) with a pixel
    above 4 sigma of the images divided by their true noise; and the beams searched."""
    found, beams = dict.fromkeys([*NOISE_RUNS, "true sigma, 4"], 0), 0.0
    for seed in range(3):
        ds, _ = make_source_image(nx=2048, ny=2048, n_sources=0, seed=100 + seed)
        for name, options in NOISE_RUNS.items():
            found[name] += len(find_sources(ds, CatalogConfig(**options)))
        pixels = ds["SKY"].values[0, 0, 0].astype(np.float64)
        snr = (pixels - pixels.mean()) / pixels.std()
        labels, n = ndimage.label(snr > 3.0, structure=np.ones((3, 3)))
        peaks = ndimage.maximum(snr, labels, np.arange(1, n + 1))
        found["true sigma, 4"] += int((peaks >= 4).sum())
        beams += 2048**2 / (np.pi / (4 * np.log(2)) * 3.0 * 2.5)
    return found, beams


def test_false_detections_at_most_one_per_million_beams(noise_only):
    """Correlated Gaussian noise has 3.7 peaks above 5 sigma per 1e6 beams (:func:`
    expected_noise_peaks`). As in PyBDSF, the islands of most of them are smaller than
    ``minpix_isl`` (6 pixels here) and the flat noise gets a constant rms, so that the threshold
    does not dip where a box measures low: the issue's <= 1 per 1e6 beams holds (0 in 1.5e6
    beams when measured)."""
    found, beams = noise_only
    assert found["default"] <= beams / 1e6
    assert expected_noise_peaks(5.0, beams) > 5  # the size cut, not luck, removes them


def test_without_the_size_cut_noise_peaks_follow_gaussian_statistics(noise_only):
    """Without the size cut the finder detects the noise peaks that Gaussian statistics
    predict, no more (it adds no false detections of its own), and at thresh_pix 4, where there
    are ~300 to count, as many as the same images divided by their true noise give (319 and
    333 when measured): the background mean and rms are right (an rms biased by 5% would change
    the count by ~50%). The Euler-characteristic count of a continuous field (396 at 4 sigma)
    is ~15% above what a 1"-pixel grid samples (a peak between pixels is seen lower)."""
    found, beams = noise_only
    expected = expected_noise_peaks(5.0, beams)
    assert found["5, no size cut"] <= expected + 3 * np.sqrt(expected)
    assert found["4, no size cut"] == pytest.approx(found["true sigma, 4"], rel=0.1)
    assert found["4, no size cut"] <= expected_noise_peaks(4.0, beams)


def test_the_island_size_cut_removes_most_noise_islands(noise_only):
    """Noise peaks just above the threshold make islands smaller than a beam: the size cut keeps
    fewer than 10% of them at thresh_pix 4."""
    found, _ = noise_only
    assert found["4"] < 0.1 * found["4, no size cut"]


def test_an_island_across_a_chunk_border_gives_the_same_components():
    ds, truth = make_source_image(nx=512, ny=512, n_sources=30, seed=4)
    one = find_sources(ds, CatalogConfig(chunk_pixels=512))
    many = find_sources(ds, CatalogConfig(chunk_pixels=64))
    assert len(one) == len(many) > 20
    crossing = ((one["Xposn"] % 64 < 4) | (one["Xposn"] % 64 > 60)
                | (one["Yposn"] % 64 < 4) | (one["Yposn"] % 64 > 60))  # fmt: skip
    assert crossing.sum() >= 3
    for column in ("RA", "DEC", "Total_flux", "Peak_flux", "Maj", "Min", "PA", "Isl_rms"):
        np.testing.assert_allclose(many[column], one[column], rtol=1e-9, atol=1e-12)


def test_an_island_larger_than_the_chunk_halo_is_found_once(monkeypatch):
    """A bright 20" x 12" source makes an island that reaches beyond the region of a 64-pixel
    chunk (halo 28 pixels with a 4" ring): it is labelled again in a grown region, once, with the
    same components as with one chunk."""
    import pandas as pd

    import vlassdask.catalog.find as find

    ra, dec = 150.0, 30.0
    sky = pd.DataFrame({"ra": [ra, ra + 60.0 / 3600 / np.cos(np.radians(dec))],
                        "dec": [dec, dec - 50.0 / 3600], "flux_mjy": [2000.0, 5.0],
                        "major_arcsec": [20.0, 0.0], "minor_arcsec": [12.0, 0.0],
                        "pa_deg": [30.0, 0.0]})  # fmt: skip
    ds, _ = make_source_image(nx=256, ny=256, sky_sources=sky, seed=2)
    regrown = []
    finish = find._finish_incomplete

    def counted(reader, boxes, *args):
        regrown.append(len(boxes))
        return finish(reader, boxes, *args)

    monkeypatch.setattr(find, "_finish_incomplete", counted)
    one = find_sources(ds, CatalogConfig(chunk_pixels=256, ring_arcsec=(2.0, 4.0)))
    many = find_sources(ds, CatalogConfig(chunk_pixels=64, ring_arcsec=(2.0, 4.0)))
    assert regrown == [0, 1]
    assert len(one) == len(many) == 2
    assert one["Total_flux"].max() == pytest.approx(2000.0, rel=0.03)
    for column in ("Isl_id", "RA", "DEC", "Total_flux", "Maj", "Isl_Total_flux", "Isl_rms"):
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
