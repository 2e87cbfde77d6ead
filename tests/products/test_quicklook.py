"""Quick Look products from a simulated on-the-fly mosaic: fluxes, positions, files, QA."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest
import xarray as xr
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.wcs import WCS
from scipy.optimize import curve_fit

from vlassdask.imaging.imaging_operator import ImagingOperator
from vlassdask.io.atomic import COMPLETION_MARKER
from vlassdask.io.image_schema import celestial_wcs, check_image
from vlassdask.io.ms_read import open_measurement_set
from vlassdask.products.quicklook import frequency_groups, make_quicklook_product
from vlassdask.products.quicklook_config import QuickLookConfig
from vlassdask.products.simulation import simulate_observation
from vlassdask.survey.position_correction import position_correction
from vlassdask.testing.otf import PHASE_CENTER, otf_config, otf_sources, quicklook_placements

# The bad-baseline detector is off for the noise-free raster, whose residual is deconvolution
# error rather than noise; the noisy tests run the whole QA.
NO_STRIPE_DETECTOR = {"decision": {"detector_actions": {"bad_baselines": "ignore"}}}
#: CLEAN depth of the noise-free tests: 0.1 mJy/beam, about 1% of the faintest source as the
#: flat-noise image shows it, and 5x below VLASS QL's own stop (nsigma 4.5 x ~120 uJy/beam), so
#: that flux left in the residual does not bias the integrated fluxes.
NOISE_FREE_DEPTH_JY = 1e-4
QA_SIZES = {"cell_arcsec": 1.0, "imsize": 1280, "subimage_size": 896, "cycleniter": 500}


def config(**sections) -> QuickLookConfig:
    doc: dict = {"qa": {"product_types": {"QL": {**QA_SIZES,
                                                 "retry_ladder": [{"cycleniter": 250}]}}}}
    for name, values in sections.items():
        doc[name] = {**doc.get(name, {}), **values}
    return QuickLookConfig.from_document(doc)


@pytest.fixture(scope="module")
def noise_free(tmp_path_factory):
    """A noise-free two-row raster, imaged with a threshold stop (the rms of noise-free data
    measures only deconvolution errors, so nsigma is off) at :data:`NOISE_FREE_DEPTH_JY`, with
    the two rows as pointing groups."""
    base = tmp_path_factory.mktemp("ql_noise_free")
    sim = otf_config()
    sky, truth = otf_sources(sim, quicklook_placements(sim))
    simulate_observation(sim, sky, base / "otf.ms")
    cfg = config(clean={"nsigma": 0.0, "threshold_jy": NOISE_FREE_DEPTH_JY},
                 qa=NO_STRIPE_DETECTOR)
    product = make_quicklook_product(base / "otf.ms", PHASE_CENTER, base / "products", cfg)
    return product, truth, base


def _fit(image: np.ndarray, x: float, y: float, half: int = 7):
    """Elliptical Gaussian fit around pixel (x, y) of an [x, y] image: peak, centre, sigmas."""
    xi, yi = int(round(x)), int(round(y))
    gx, gy = np.meshgrid(np.arange(xi - half, xi + half + 1),
                         np.arange(yi - half, yi + half + 1), indexing="ij")
    data = image[xi - half:xi + half + 1, yi - half:yi + half + 1]

    def model(xy, amp, x0, y0, a, b, c):
        dx, dy = xy[0] - x0, xy[1] - y0
        return amp * np.exp(-(a * dx**2 + 2 * b * dx * dy + c * dy**2))

    p0 = (float(data.max()), x, y, 0.1, 0.0, 0.1)
    popt, _ = curve_fit(model, (gx.ravel(), gy.ravel()), data.ravel(), p0=p0)
    amp, x0, y0, a, b, c = popt
    area = math.pi / math.sqrt(a * c - b * b)  # integral of the unit-peak Gaussian, pixels
    return amp, x0, y0, area


def _measure(ds: xr.Dataset, truth):
    wcs = celestial_wcs(ds)
    pbcor = ds["SKY_PBCOR"].values[0, 0, 0]
    beam = ds.attrs["restoring_beam"]
    cell = float(np.degrees(ds["m"].values[1] - ds["m"].values[0]) * 3600)
    beam_area = math.pi * beam["major_arcsec"] * beam["minor_arcsec"] / (4 * math.log(2)) \
        / cell**2
    rows = []
    for src in truth.itertuples():
        x, y = wcs.world_to_pixel_values(src.ra_deg, src.dec_deg)
        amp, x0, y0, area = _fit(pbcor, float(x), float(y))
        ra, dec = wcs.pixel_to_world_values(x0, y0)
        sep = SkyCoord(ra, dec, unit="deg").separation(
            SkyCoord(src.ra_deg, src.dec_deg, unit="deg")).arcsec
        rows.append({"label": src.label, "peak": amp / src.flux_jy,
                     "integrated": amp * area / beam_area / src.flux_jy, "offset": sep,
                     "pixel": (int(round(float(x))), int(round(float(y))))})
    return {r["label"]: r for r in rows}


def test_pb_corrected_fluxes_and_positions_noise_free(noise_free):
    product, truth, _ = noise_free
    assert truth["nearest_pointing_arcmin"].round(2).tolist()[:3] == [0.0, 3.0, 6.0]
    with xr.open_zarr(product.names.store) as ds:
        measured = _measure(ds.load(), truth)
        assert ds.attrs["gridding"]["w_projection"] or ds.attrs["gridding"]["w_layers"] > 1
    # Peaks and integrated fluxes (Gaussian fits) within 2%, positions within 0.05" (the
    # issue's figures); measured 0.985-0.996, 0.991-1.001 and 0.002-0.013" (docs/quicklook.md
    # "Accuracy").
    for label, m in measured.items():
        assert m["peak"] == pytest.approx(1.0, abs=0.02), (label, m)
        assert m["integrated"] == pytest.approx(1.0, abs=0.02), (label, m)
        assert m["offset"] < 0.05, (label, m)
    with xr.open_zarr(product.names.store) as ds:
        # the major cycles predicted each row through its own mosaic beam, and converged
        assert ds.attrs["pointing_groups"] == [list(range(17)), list(range(17, 34))]
        assert ds.attrs["qa"]["attempts"][0]["major_cycles"] <= 12


def test_dirty_positions_with_w_projection(noise_free):
    product, truth, base = noise_free
    cfg = config().imaging.replace(imsize=(1280, 1280), phase_center_deg=(
        product.summary["phase_center_deg"][0], product.summary["phase_center_deg"][1]))
    vis = open_measurement_set(base / "otf.ms")
    operator = ImagingOperator.build(vis.datasets, cfg, weight_column=vis.weight_column)
    assert operator.plan.w_projection or operator.plan.n_layers > 1
    dirty = operator.dirty().compute()
    wcs = celestial_wcs(xr.open_zarr(product.names.store))
    for src in truth.itertuples():
        x, y = wcs.world_to_pixel_values(src.ra_deg, src.dec_deg)
        _, x0, y0, _ = _fit(dirty, float(x), float(y), half=3)
        assert math.hypot(x0 - x, y0 - y) < 0.05, src.label  # 1" pixels


def test_store_fits_and_names(noise_free):
    product, _, base = noise_free
    names = product.names
    assert names.store.name == f"VLASS1.2.ql.T16t14.{PHASE_CENTER}.10.2048.v1.I.iter1.zarr"
    assert (names.store / COMPLETION_MARKER).is_file()
    with xr.open_zarr(names.store) as ds:
        check_image(ds, "quicklook")
        full_wcs = celestial_wcs(ds)
        pb = ds["PRIMARY_BEAM"].values[0, 0, 0]
        pbcor = ds["SKY_PBCOR"].values[0, 0, 0]
        assert np.isnan(pbcor[pb < 0.2]).all() and np.isfinite(pbcor[pb >= 0.2]).all()
        assert ds.sizes["l"] == 1280
    expected = {f"VLASS1.2.ql.T16t14.{PHASE_CENTER}.10.2048.v1.I.iter1.{kind}.subim.fits"
                for kind in ("image.pbcor.tt0", "image.pbcor.tt0.rms", "pb.tt0")}
    assert {p.name for p in product.fits} == expected
    html = product._repr_html_()  # Jupyter's view of the product
    assert names.stem in html and f"{product.decision}</td>" in html
    assert "data:image/png;base64," in html and "restoring beam" in html
    for path in product.fits:
        with fits.open(path) as hdul:
            header = hdul[0].header
            assert hdul[0].data.shape == (1, 1, 896, 896)
            assert header["BMAJ"] * 3600 == pytest.approx(product.summary["restoring_beam"]
                                                          ["major_arcsec"])
            assert header["OBJECT"] == PHASE_CENTER
            assert header["BUNIT"] == ("" if ".pb." in path.name else "Jy/beam")
            sub = WCS(header).celestial
            # the same sky position in the sub-image and the full image: 192 pixels apart
            for px in ((10.0, 20.0), (448.0, 448.0), (880.5, 3.25)):
                world = sub.pixel_to_world_values(*px)
                fx, fy = full_wcs.world_to_pixel_values(*world)
                assert abs(fx - px[0] - 192) < 0.01 and abs(fy - px[1] - 192) < 0.01
    report = names.qa_report
    assert (report / "report.html").is_file() and (report / "result.json").is_file()
    attempts = json.loads((report / "attempts.json").read_text())
    assert "Attempts" in (report / "report.html").read_text()
    assert names.preview.is_file() and names.summary.is_file()
    # every attempt is listed (noise-free data cleaned to a fixed depth leave a residual far
    # above their zero noise, so QA does not accept them: the noisy tests below cover that)
    assert [a["attempt"] for a in attempts] == list(range(len(product.attempts)))
    result = json.loads((report / "result.json").read_text())
    assert result["decision"] == product.decision == attempts[-1]["decision"]


@pytest.fixture(scope="module")
def noisy_ms(tmp_path_factory):
    base = tmp_path_factory.mktemp("ql_noisy")
    sim = otf_config(noise_sigma_jy=0.08, seed=5)
    sky, truth = otf_sources(sim, quicklook_placements(sim))
    simulate_observation(sim, sky, base / "otf.ms")
    return base / "otf.ms", truth


def test_under_cleaned_first_attempt_is_retried_and_accepted(noisy_ms, tmp_path):
    ms, truth = noisy_ms
    # one major cycle cannot clean it; the ladder's retry allows 50
    cfg = config(clean={"nmajor": 1},
                 qa={"product_types": {"QL": {**QA_SIZES, "retry_ladder": [
                         {"cycleniter": 250, "nmajor": 50}]}}},
                 quicklook={"position_correction": "always"})
    product = make_quicklook_product(ms, PHASE_CENTER, tmp_path / "out", cfg)
    first, second = product.attempts
    assert first.qa.decision == "retry" and first.major_cycles == 1
    assert any(r.check == "ratio_sub" for r in first.qa.reasons)
    assert second.qa.decision == "accepted", second.qa.reasons
    assert product.decision == "accepted"
    # the bad-baseline detector ran on the PSF-whitened residual and found nothing
    stripes = {d.name: d for d in second.qa.detectors}["bad_baselines"]
    assert stripes.details["psf_whitened"] and not stripes.detected
    with xr.open_zarr(product.names.store) as ds:
        measured = _measure(ds.load(), truth)
        rms = ds["RMS"].values[0, 0, 0]
        corr = ds.attrs["position_correction"]
        header = ds.attrs["fits_header"]
    for label, m in measured.items():
        # within 3 sigma of the local noise (the rms image at the source; measured 0.4-2.0
        # sigma, sigma 0.7-1.9% of the fluxes)
        flux = float(truth.set_index("label").loc[label, "flux_jy"])
        sigma = float(rms[m["pixel"]])
        assert abs(m["peak"] - 1) * flux < 3 * sigma, (label, m, sigma)
    expected = position_correction(corr["ra_uncorrected"], corr["dec_uncorrected"],
                                   corr["mjd"], freq_hz=corr["freq_hz"])
    assert header["CRVAL1"] == pytest.approx(float(expected.ra_corrected), abs=1e-9)
    assert header["CRVAL2"] == pytest.approx(float(expected.dec_corrected), abs=1e-9)
    assert corr["shift_arcsec"] > 0
    with fits.open(product.fits[0]) as hdul:
        history = " ".join(str(h) for h in hdul[0].header["HISTORY"])
    assert "Position correction" in history


def test_unrecoverable_image_ends_needing_review(noisy_ms, tmp_path):
    """Five CLEAN iterations on every attempt: the ladder cannot help, the run ends
    ``needs_review`` with the reasons, and every attempt is kept."""
    ms, _ = noisy_ms
    product = make_quicklook_product(ms, PHASE_CENTER, tmp_path / "out",
                                     config(clean={"niter": 5}))
    assert product.decision == "needs_review"
    assert [(a.attempt, a.cycleniter, a.iterations) for a in product.attempts] == [
        (0, 500, 5), (1, 250, 5)]
    assert product.attempts[0].qa.decision == "retry"
    last = product.attempts[-1].qa
    assert any(r.check.startswith("ratio") and "no retry left" in r.message
               for r in last.reasons)
    with xr.open_zarr(product.names.store) as ds:
        assert ds.attrs["qa"]["decision"] == "needs_review"
        assert [a["decision"] for a in ds.attrs["qa"]["attempts"]] == ["retry", "needs_review"]


def test_config_document_matches_builtin_defaults():
    from vlassdask.io.config_files import read_yaml_mapping

    doc = read_yaml_mapping("pipelines/quicklook.yaml", what="Quick Look configuration")
    assert QuickLookConfig.from_document(doc) == QuickLookConfig()
    assert QuickLookConfig.from_document(doc, preset="small") == \
        QuickLookConfig.from_document({}, preset="small")
    small = QuickLookConfig.from_document({}, preset="small")
    assert (small.ladder.imsize, small.subimage_size) == (1536, 1024)
    assert dataclasses.replace(QuickLookConfig(), beam_groups=2).beam_groups == 2


def test_frequency_groups_are_contiguous():
    datasets = [xr.Dataset(coords={"chan_freq": ("chan", [f])}) for f in (3.0, 2.0, 4.0, 2.5)]
    assert frequency_groups(datasets, 2) == [[1, 3], [0, 2]]
    assert frequency_groups(datasets, 9) == [[1], [3], [0], [2]]


def test_field_relative_2d_gridding_at_low_elevation_is_corrected_in_the_metadata(tmp_path):
    """A five-row raster 4.2 h east of transit (zenith distance 56 deg), gridded 2-D with each
    field keeping its own w-term (CASA's 2-D mosaic error model): every source is off by the
    mosaic's w-term offset (~0.9" here), and after the metadata correction (amplitude eps^2 / 2
    from this mosaic's field weights) within 0.2" (measured 0.05-0.19")."""
    sim = otf_config(rows=5, hour_angle_h=-4.2)
    placements = [("centre", 0.0, 0.0, 0.05), ("ne", 3.0, 2.0, 0.05), ("sw", -5.0, -4.0, 0.05),
                  ("n", 6.0, 5.0, 0.05), ("nw", -7.0, 6.0, 0.05)]
    sky, truth = otf_sources(sim, placements)
    simulate_observation(sim, sky, tmp_path / "otf.ms")
    cfg = config(clean={"nsigma": 0.0, "threshold_jy": 2e-4}, qa=NO_STRIPE_DETECTOR,
                 imaging={"gridder": "2d", "w_reference": "field"})
    product = make_quicklook_product(tmp_path / "otf.ms", PHASE_CENTER, tmp_path / "out", cfg)
    with xr.open_zarr(product.names.store) as ds:
        ds = ds.load()
    assert not ds.attrs["gridding"]["w_projection"] and ds.attrs["gridding"]["w_layers"] == 1
    corr = ds.attrs["position_correction"]
    assert corr["zenith_distance_deg"] >= 50 and corr["shift_arcsec"] > 0.5
    for label, m in _measure(ds, truth).items():
        assert m["offset"] < 0.2, (label, m)
