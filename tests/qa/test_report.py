"""QA outputs: thumbnails against numpy references, marked detections, JSON, HTML, Parquet."""

import json

import dask.array as da
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from matplotlib.image import imread

from vlassdask.errors import ProductExistsError
from vlassdask.io.atomic import is_complete
from vlassdask.io.qa_report import (
    DETECTOR_COLOURS,
    Panel,
    error_row,
    render_panel,
    report_panels,
    result_row,
    write_batch_index,
    write_qa_report,
    write_qa_table,
)
from vlassdask.qa.decision import DecisionConfig, QAResult, RetryLadder, decide
from vlassdask.qa.detectors import DetectorConfig, detect_bad_baselines
from vlassdask.qa.statistics import image_statistics
from vlassdask.qa.types import DetectorResult, Location, QAImages
from vlassdask.testing.artifacts import make_qa_case
from vlassdask.testing.images import gaussian_beam


def plane(values, chunks=None):
    data = da.from_array(values, chunks=chunks) if chunks else values
    return xr.DataArray(data, dims=("l", "m"))


def synthetic_images(n=256, *, stripe_period=None, seed=1, chunks=None):
    """Sky with one bright source, noise residual (optionally striped), rms and a PB."""
    rng = np.random.default_rng(seed)
    sky = 0.05 * gaussian_beam(n, n, fwhm_pixels=3.0, center=(60, 170))
    residual = rng.normal(0.0, 1e-4, (n, n))
    if stripe_period:
        x = np.arange(n)[:, None]
        residual = residual + 2e-4 * np.cos(2 * np.pi * x / stripe_period)
    sky = sky + residual
    pb = gaussian_beam(n, n, fwhm_pixels=2.5 * n)
    rms = np.full((n, n), 1e-4) / pb
    q = n // 4
    return QAImages(sky=plane(sky, chunks), residual=plane(residual, chunks),
                    rms=plane(rms, chunks), pb=plane(pb, chunks), cell_arcsec=1.0,
                    restoring_beam={"major_arcsec": 3.0, "minor_arcsec": 3.0, "pa_deg": 0.0},
                    subimage=(q, n - q, q, n - q), name="J061400-013000")  # fmt: skip


def make_result(images, detectors=(), name=None, attempt=0):
    stats = image_statistics(images)
    ladder = RetryLadder(500, 7290, ({"cycleniter": 250},))
    decision, reasons, retry = decide(stats, detectors, DecisionConfig(), ladder,
                                      attempt=attempt)  # fmt: skip
    return QAResult(name=name or images.name, decision=decision, reasons=reasons,
                    statistics=stats, detectors=tuple(detectors), retry=retry, attempt=attempt,
                    product_type="QL", inputs={"store": "/data/p.zarr"})  # fmt: skip


def test_panels_are_block_means_of_the_planes():
    images = synthetic_images(256, chunks=100)
    panels = report_panels(images, max_pixels=64, fft_pixels=128)
    assert set(panels) == {"sky", "residual", "rms", "pb", "fft"}
    sky = np.asarray(images.sky)
    want = sky.reshape(64, 4, 64, 4).mean(axis=(1, 3)).T  # [y, x]
    assert panels["sky"].factor == 4
    np.testing.assert_allclose(panels["sky"].data, want, rtol=1e-12)
    # the source at pixel (60, 170) is the brightest thumbnail pixel, where to_panel says
    py, px = np.unravel_index(np.argmax(panels["sky"].data), panels["sky"].data.shape)
    tx, ty = panels["sky"].to_panel(60, 170)
    assert abs(px - tx) <= 0.5 and abs(py - ty) <= 0.5


def test_panels_skip_nan_and_missing_planes():
    images = synthetic_images(64)
    pb = np.asarray(images.pb).copy()
    pb[:8, :8] = np.nan  # a masked corner: its block mean is NaN, its neighbours are not
    pb[8:10, :8] = np.nan
    images = QAImages(sky=images.sky, residual=None, rms=None, pb=plane(pb), cell_arcsec=1.0,
                      restoring_beam=None, subimage=(0, 64, 0, 64))  # fmt: skip
    panels = report_panels(images, max_pixels=16, fft_pixels=32)
    assert set(panels) == {"sky", "pb", "fft"}
    assert np.isnan(panels["pb"].data[0, 0]) and np.isnan(panels["pb"].data[1, 1])
    want = np.nanmean(pb[8:12, 0:4])
    assert panels["pb"].data[0, 2] == pytest.approx(want, rel=1e-12)


def test_fft_panel_shows_the_stripe_frequency():
    n, period = 256, 8
    images = synthetic_images(n, stripe_period=period)
    panels = report_panels(images, max_pixels=64, fft_pixels=128)
    fft = panels["fft"]
    # reference: |FFT| of the same 128^2 centre crop, by numpy, shifted, block max 2
    x0, x1, y0, y1 = images.subimage
    cx, cy = (x0 + x1) // 2, (y0 + y1) // 2
    crop = np.asarray(images.residual)[cx - 64:cx + 64, cy - 64:cy + 64]
    ref = np.abs(np.fft.fftshift(np.fft.fft2(crop - crop.mean())))
    ref = ref.reshape(64, 2, 64, 2).max(axis=(1, 3)).T
    np.testing.assert_allclose(fft.data, np.log10(ref), atol=1e-3)
    # the two brightest Fourier pixels are the stripe's +-u = 128 / period cells from centre
    top = np.argsort(fft.data.ravel())[-2:]
    ys, xs = np.unravel_index(top, fft.data.shape)
    assert sorted(np.abs(xs * 2 - 64)) in ([16, 16], [15, 16], [16, 17])
    assert set(ys * 2) <= {64, 65}


def colour_pixels(png, hex_colour, tol=0.06):
    rgb = imread(png)[..., :3]
    want = np.array([int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5)])
    return int(np.sum(np.all(np.abs(rgb - want) < tol, axis=-1)))


def test_detections_are_circled(tmp_path):
    images = synthetic_images(128)
    panel = report_panels(images, max_pixels=64, fft_pixels=64)["residual"]
    det = DetectorResult("pb_holes", 3.0, 2.0, True, (Location(40.0, 90.0, 6.0, "hole 1"),))
    quiet = render_panel("residual", panel, tmp_path / "quiet.png")
    marked = render_panel("residual", panel, tmp_path / "marked.png", detections=[det])
    colour = DETECTOR_COLOURS["pb_holes"]
    assert colour_pixels(quiet, colour) == 0
    assert colour_pixels(marked, colour) > 30
    fourier = Panel(panel.data, 1, fourier=True)
    render_panel("fft", fourier, tmp_path / "fft.png", detections=[det])
    assert colour_pixels(tmp_path / "fft.png", colour) == 0


def test_report_directory(tmp_path):
    images = synthetic_images(128)
    det = DetectorResult("rfi", 2.5, 1.5, True, (Location(30.0, 40.0, 20.0, "patch"),),
                         {"rms_ratio": 2.5})  # fmt: skip
    quiet = DetectorResult("bad_baselines", 0.5, 5.0, False)
    result = make_result(images, [det, quiet], name="<b>J0614&co</b>")
    out = write_qa_report(result, report_panels(images, max_pixels=64), tmp_path / "r",
                          subimage=images.subimage)  # fmt: skip
    assert is_complete(out)
    names = sorted(p.name for p in out.iterdir())
    assert names == [".vlassdask-complete", "fft.png", "pb.png", "report.html", "residual.png",
                     "result.json", "rms.png", "sky.png"]  # fmt: skip
    assert json.loads((out / "result.json").read_text()) == result.to_dict()
    page = (out / "report.html").read_text()
    assert "<b>J0614" not in page and "&lt;b&gt;J0614&amp;co&lt;/b&gt;" in page
    assert result.decision == "needs_review" and "needs_review" in page
    assert "rfi detected at 1 location(s)" in page and "#1 (30, 40, 20) patch" in page
    for png in ("sky", "residual", "rms", "pb", "fft"):
        assert f'src="{png}.png"' in page
    assert colour_pixels(out / "rms.png", DETECTOR_COLOURS["rfi"]) > 30
    with pytest.raises(ProductExistsError, match="--overwrite"):
        write_qa_report(result, {}, out)
    write_qa_report(result, {}, out, overwrite=True)
    assert not (out / "sky.png").exists() and is_complete(out)


def test_table_and_index(tmp_path):
    images = synthetic_images(64)
    accepted = make_result(images, name="A")
    retry = make_result(images, [DetectorResult("deconvolution", 9.0, 6.0, True)], name="B")
    rows = [result_row(accepted, report="reports/A/report.html", thumbnail="reports/A/sky.png"),
            result_row(retry, report="reports/B/report.html", thumbnail="reports/B/sky.png"),
            error_row("C", "C has no pb image")]  # fmt: skip
    assert [r["decision"] for r in rows] == ["accepted", "retry", "error"]
    assert rows[1]["retry_cycleniter"] == 250 and rows[1]["detections"] == "deconvolution"
    table = pd.read_parquet(write_qa_table(rows, tmp_path / "qa.parquet"))
    assert list(table["name"]) == ["A", "B", "C"]
    assert table["stat_ratio_sub"].iloc[0] == pytest.approx(accepted.statistics.ratio_sub)
    assert np.isnan(table["stat_ratio_sub"].iloc[2])
    assert table["det_deconvolution_detected"].iloc[1] == True  # noqa: E712
    page = write_batch_index(rows, tmp_path / "index.html").read_text()
    order = [page.index(f">{n}<") for n in ("C", "B", "A")]  # worst first
    assert order == sorted(order)
    assert page.count("<tr>") == 4 and page.count("<img ") == 2
    assert 'href="reports/B/report.html"' in page and "C has no pb image" in page


@pytest.mark.parametrize("seed", [0, 1])
def test_bad_baseline_is_marked_on_the_fft(seed, tmp_path):
    """The bad-baseline detector's (u, v), mapped onto the |FFT| thumbnail, is where the
    thumbnail's two brightest pixels are (its own FFT of a different crop), and is circled."""
    images, _ = make_qa_case("stripes", seed, size=512)
    detection = detect_bad_baselines(images, DetectorConfig())
    assert detection.detected
    panel = report_panels(images, max_pixels=256, fft_pixels=256)["fft"]
    u, v = detection.details["uv_lambda"]
    marks = np.array([panel.uv_to_panel(u, v), panel.uv_to_panel(-u, -v)])
    top = np.argsort(panel.data.ravel())[-2:]
    peaks = np.array([np.unravel_index(t, panel.data.shape)[::-1] for t in top])
    for peak in peaks:
        assert np.min(np.hypot(*(marks - peak).T)) <= 1.5
    png = render_panel("fft", panel, tmp_path / "fft.png", detections=[detection])
    assert colour_pixels(png, DETECTOR_COLOURS["bad_baselines"]) > 30
