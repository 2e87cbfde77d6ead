"""QA statistics against numpy references and analytic answers; dask == numpy."""

from __future__ import annotations

import json

import dask.array as da
import numpy as np
import pytest
import xarray as xr

from vlassdask.errors import InputError
from vlassdask.qa.robust import MAD_TO_RMS, sample_rms, summarise
from vlassdask.qa.statistics import image_statistics
from vlassdask.qa.types import QAImages

N = 300
SUB = (75, 225, 60, 240)


def _plane(values, chunks=None) -> xr.DataArray:
    data = da.from_array(values, chunks=chunks) if chunks else values
    return xr.DataArray(data, dims=("l", "m"))


def _reference(values: np.ndarray) -> tuple[float, float]:
    """(median, 1.4826 MAD) of the finite values, straight numpy."""
    finite = values[np.isfinite(values)].astype(np.float64)
    median = np.median(finite)
    return float(median), float(MAD_TO_RMS * np.median(np.abs(finite - median)))


@pytest.fixture(scope="module")
def planes() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(42)
    residual = rng.normal(2e-6, 1.2e-4, (N, N)).astype(np.float32)
    residual[:12] = np.nan  # blanked edge
    residual[150, 100] = -2.4e-3  # the residual peak, negative, inside the sub-image
    residual[20, 20] = 3.0e-3  # a larger one outside it
    sky = residual + np.float32(0.0)
    sky[200, 150] = 0.5  # the brightest source
    rms = np.full((N, N), 1.3e-4, dtype=np.float32)
    rms[:, 200:] = 2.6e-4
    x, y = np.meshgrid(np.arange(N), np.arange(N), indexing="ij")
    pb = (2.0 * np.exp(-((x - 150.0) ** 2 + (y - 150.0) ** 2) / (2 * 90.0**2))).astype(np.float32)
    return {"sky": sky, "residual": residual, "rms": rms, "pb": pb}


def _images(planes, chunks=None, **changes) -> QAImages:
    values = {k: _plane(v, chunks) for k, v in planes.items()}
    fields = dict(sky=values["sky"], residual=values["residual"], rms=values["rms"],
                  pb=values["pb"], cell_arcsec=1.0,
                  restoring_beam={"major_arcsec": 2.8, "minor_arcsec": 2.2, "pa_deg": 30.0},
                  subimage=SUB, frequency_hz=3e9, name="test")  # fmt: skip
    fields.update(changes)
    return QAImages(**fields)


def test_statistics_match_numpy_references(planes):
    stats = image_statistics(_images(planes))
    res = planes["residual"]
    median, rms = _reference(res)
    assert stats.residual_plane == "residual" and stats.method == "exact"
    assert stats.median_residual_full == pytest.approx(median, rel=1e-6)
    assert stats.rms_full == pytest.approx(rms, rel=1e-6)
    assert stats.peak_residual_full == pytest.approx(3.0e-3)
    assert stats.peak_residual_full_xy == (20, 20)
    assert stats.ratio_full == pytest.approx(3.0e-3 / rms, rel=1e-6)
    sub = res[75:225, 60:240]
    sub_median, sub_rms = _reference(sub)
    assert stats.median_residual_sub == pytest.approx(sub_median, rel=1e-6)
    assert stats.rms_sub == pytest.approx(sub_rms, rel=1e-6)
    assert stats.peak_residual_sub == pytest.approx(2.4e-3)
    assert stats.peak_residual_sub_xy == (150, 100)  # full-image pixel of the sub-image peak
    assert stats.ratio_sub == pytest.approx(2.4e-3 / sub_rms, rel=1e-6)
    assert stats.sky_peak == pytest.approx(0.5) and stats.sky_peak_xy == (200, 150)
    assert stats.dynamic_range == pytest.approx(0.5 / sub_rms, rel=1e-6)
    assert stats.sky_rms == pytest.approx(_reference(planes["sky"][75:225, 60:240])[1], rel=1e-6)
    pb = planes["pb"]
    assert stats.pb_max == pytest.approx(float(pb.max()))
    assert stats.pb_median == pytest.approx(np.median(pb[75:225, 60:240]) / pb.max(), rel=1e-6)
    assert stats.rms_image_median == pytest.approx(np.median(planes["rms"][75:225, 60:240]))
    assert stats.blank_fraction_sub == 0.0
    assert stats.n_finite_full == N * N - 12 * N
    assert (stats.beam_major_arcsec, stats.beam_minor_arcsec, stats.beam_pa_deg) == (2.8, 2.2, 30)
    assert stats.beam_minor_pixels == pytest.approx(2.2)


def test_gaussian_noise_gives_its_sigma():
    """Analytic: 1.4826 MAD of Gaussian noise is sigma (std error ~1.1 sigma / sqrt(N))."""
    rng = np.random.default_rng(7)
    sigma = 1.2e-4
    noise = rng.normal(0.0, sigma, (N, N))
    images = QAImages(sky=_plane(noise), residual=None, rms=None, pb=None, cell_arcsec=1.0,
                      restoring_beam=None, subimage=(0, N, 0, N))  # fmt: skip
    stats = image_statistics(images)
    assert stats.residual_plane == "sky"  # a dirty product: the sky stands in
    assert stats.rms_full == pytest.approx(sigma, rel=5 * 1.1 / N)
    assert stats.rms_sub == stats.rms_full and stats.ratio_sub == stats.ratio_full
    # the largest of N^2 Gaussian values: ~sqrt(2 ln N^2) sigma (4.4 for 9e4 samples)
    assert 3.8 < stats.ratio_full < 5.5
    assert stats.pb_median is None and stats.rms_image_median is None
    assert stats.beam_major_arcsec is None


def test_dask_planes_give_the_numpy_statistics(planes):
    exact = image_statistics(_images(planes))
    lazy = image_statistics(_images(planes, chunks=(128, 96)))
    assert lazy.method == "histogram"
    for key, value in exact.to_dict().items():
        other = lazy.to_dict()[key]
        if key == "method":
            continue
        if isinstance(value, float):
            scale = exact.rms_full if "median_residual" in key else abs(value)
            assert other == pytest.approx(value, rel=1e-3, abs=1e-3 * scale), key
        else:
            assert other == value, key


@pytest.mark.parametrize("size", [(101, 77), (64, 64)])
def test_robust_summary_odd_even_sizes_and_dask(size):
    rng = np.random.default_rng(3)
    values = rng.standard_t(3, size).astype(np.float64)  # heavy tails
    values[0, :5] = np.nan
    exact, lazy = summarise([values, da.from_array(values, chunks=(40, 30))])
    median, rms = _reference(values)
    assert exact.median == median and exact.rms == pytest.approx(rms, rel=1e-12)
    assert lazy.median == pytest.approx(median, abs=1e-3 * rms)
    assert lazy.rms == pytest.approx(rms, rel=1e-3)
    assert exact.n_finite == lazy.n_finite == values.size - 5
    assert exact.peak_xy == lazy.peak_xy
    assert sample_rms(values, pixels=values.size) == pytest.approx(rms, rel=1e-9)


def test_constant_pb_plane_has_zero_mad_on_dask():
    pb = np.ones((200, 200))
    pb[:50] = 0.5
    exact, lazy = summarise([pb, da.from_array(pb, chunks=64)])
    assert exact.median == 1.0 and exact.mad == 0.0
    assert lazy.median == pytest.approx(1.0, abs=1e-6) and lazy.mad == pytest.approx(0, abs=1e-6)


def test_to_dict_is_strict_json(planes):
    stats = image_statistics(_images(planes, pb=None, restoring_beam=None))
    text = json.dumps(stats.to_dict(), allow_nan=False)
    back = json.loads(text)
    assert back["pb_median"] is None and back["beam_major_arcsec"] is None
    assert back["peak_residual_full_xy"] == [20, 20]


def test_nan_only_residual_is_an_input_error(planes):
    blank = dict(planes, residual=np.full((N, N), np.nan, dtype=np.float32))
    with pytest.raises(InputError, match="residual image has no finite values"):
        image_statistics(_images(blank))
    with pytest.raises(InputError, match="residual image has no finite values"):
        image_statistics(_images(blank, chunks=100))


def test_blank_sub_image_is_an_input_error(planes):
    residual = planes["residual"].copy()
    residual[75:225, 60:240] = np.nan
    with pytest.raises(InputError, match="no finite values in the sub-image"):
        image_statistics(_images(dict(planes, residual=residual)))


def test_mismatched_shapes_and_bad_box_are_input_errors(planes):
    with pytest.raises(InputError, match="rms image has shape"):
        image_statistics(_images(planes, rms=_plane(planes["rms"][:100])))
    with pytest.raises(InputError, match="sub-image box"):
        image_statistics(_images(planes, subimage=(0, N + 1, 0, N)))
