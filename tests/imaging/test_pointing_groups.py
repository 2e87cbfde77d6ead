"""Pointing groups: the rows of an OTF raster found from the data, and the operator predicting
each group's visibilities from its own model weights."""

from __future__ import annotations

import math

import dask
import numpy as np
import pandas as pd
import pytest

from vlassdask.errors import InputError
from vlassdask.imaging.config import ImagingConfig
from vlassdask.imaging.imaging_operator import ImagingOperator
from vlassdask.imaging.pointing_groups import field_mean_times, pointing_groups
from vlassdask.io.block_cache import ZarrBlockCache
from vlassdask.io.ms_read import open_measurement_set
from vlassdask.simulate.sky import SkyModel
from vlassdask.testing.ms import make_test_ms

from .conftest import INNER_STATIONS

RA0, DEC0 = 150.0, 30.0
CONFIG = ImagingConfig(imsize=(192, 192), cell_arcsec=4.0, weighting="natural",
                       phase_center_deg=(RA0, DEC0), row_chunks=700, accumulators=2)


@pytest.fixture(scope="module")
def raster(tmp_path_factory):
    """A two-row OTF raster (fields 0-3 in the first row, 4-7 in the second) and its datasets."""
    sky = SkyModel(pd.DataFrame({"ra_deg": [150.02, 149.97], "dec_deg": [30.03, 29.95],
                                 "flux_jy": [1.0, 0.5]}))
    ms = make_test_ms(tmp_path_factory.mktemp("pointing"), name="raster.ms", sky=sky,
                      mode="otf", otf_rows=2, ra_deg=RA0, dec_deg=DEC0, duration_s=7.2,
                      spw_ids=[7], nchan_per_spw=2, antennas=list(INNER_STATIONS),
                      noise_sigma_jy=0.0)
    vis = open_measurement_set(ms, row_chunks=CONFIG.row_chunks)
    return vis


@pytest.fixture(scope="module")
def groups(raster):
    (times,) = dask.compute(field_mean_times(raster.datasets))
    centers = np.asarray(raster.datasets[0].attrs["field_phase_centers_rad"])
    return pointing_groups(raster.datasets[0].attrs["field_ids"], times, centers, 4)


@pytest.fixture(scope="module")
def operators(raster, groups):
    with dask.config.set(scheduler="threads"):
        plain = ImagingOperator.build(raster.datasets, CONFIG, weight_column=raster.weight_column)
        grouped = ImagingOperator.build(raster.datasets, CONFIG,
                                        weight_column=raster.weight_column, field_groups=groups)
    return plain, grouped


def test_rows_of_the_raster_are_the_pointing_groups(raster, groups):
    assert groups == [[0, 1, 2, 3], [4, 5, 6, 7]]
    (times,) = dask.compute(field_mean_times(raster.datasets))
    centers = np.asarray(raster.datasets[0].attrs["field_phase_centers_rad"])
    assert pointing_groups(range(8), times, centers, 1) == [list(range(8))]
    assert np.all(np.diff(times) > 0)


def test_runs_merge_down_to_the_limit_and_pauses_cut():
    # four rows of three fields 3' apart, rows 7' apart, observed one after another
    step, row = math.radians(3 / 60), math.radians(7 / 60)
    centers = np.array([[i * step, r * row] for r in range(4) for i in range(3)])
    times = np.arange(12, dtype=float)
    assert pointing_groups(range(12), times, centers, 8) == [[0, 1, 2], [3, 4, 5], [6, 7, 8],
                                                             [9, 10, 11]]
    assert pointing_groups(range(12), times, centers, 2) == [[0, 1, 2, 3, 4, 5],
                                                             [6, 7, 8, 9, 10, 11]]
    # one row along a line, with a pause after the fifth field: two runs
    line = np.array([[i * step, 0.0] for i in range(8)])
    paused = np.array([0, 1, 2, 3, 4, 60, 61, 62], dtype=float)
    assert pointing_groups(range(8), paused, line, 4) == [[0, 1, 2, 3, 4], [5, 6, 7]]
    # time order, not FIELD_ID order
    assert pointing_groups([0, 1, 2], np.array([5.0, 6.0, 4.0]), line[[1, 2, 0]], 4) == \
        [[2, 0, 1]]
    with pytest.raises(ValueError, match="max_groups"):
        pointing_groups(range(3), times, centers, 0)


def _model(shape) -> np.ndarray:
    model = np.zeros(shape)
    model[84, 120] = 1.0
    model[110, 60] = 0.5
    return model


def _with_factors(op: ImagingOperator, a: float, b: float) -> ImagingOperator:
    ones = np.ones(op.shape)
    return op.with_model_weights([((0,), 0, a * ones), ((0,), 1, b * ones)])


def test_grouped_blocks_image_the_same(operators):
    plain, grouped = operators
    model = _model(plain.shape)
    with dask.config.set(scheduler="threads"):
        images = dask.compute(plain.dirty(), grouped.dirty(), plain.residual(model),
                              grouped.residual(model), _with_factors(grouped, 1, 1).residual(model))
    np.testing.assert_allclose(images[1], images[0], atol=1e-6 * np.abs(images[0]).max())
    for other in images[3:]:
        np.testing.assert_allclose(other, images[2], atol=1e-6 * np.abs(images[0]).max())


def test_each_pointing_group_is_predicted_from_its_own_weights(operators, raster, groups):
    plain, grouped = operators
    model = _model(plain.shape)
    with dask.config.set(scheduler="threads"):
        only_first, only_second, everything = dask.compute(
            _with_factors(grouped, 1, 0).predict(model)[0],
            _with_factors(grouped, 0, 1).predict(model)[0], plain.predict(model)[0])
        (field_id,) = dask.compute(raster.datasets[0].FIELD_ID.data)
        first = np.isin(field_id, groups[0])
        # residual(1, 0) + residual(0, 1) = 2 dirty - (H_0 + H_1) model = dirty + residual
        r10, r01, dirty, residual = dask.compute(
            _with_factors(grouped, 1, 0).residual(model),
            _with_factors(grouped, 0, 1).residual(model), plain.dirty(), plain.residual(model))
    scale = np.abs(everything).max()
    assert np.abs(everything[~first]).max() > 0.1 * scale
    np.testing.assert_allclose(only_first[first], everything[first], atol=1e-5 * scale)
    assert np.abs(only_first[~first]).max() == 0
    np.testing.assert_allclose(only_second[~first], everything[~first], atol=1e-5 * scale)
    assert np.abs(only_second[first]).max() == 0
    peak = np.abs(dirty).max()
    np.testing.assert_allclose(r10 + r01, dirty + residual, atol=1e-5 * peak)
    assert np.abs(r10 - residual).max() > 0.05 * peak


def test_block_cache_keeps_the_groups(operators, raster, groups, tmp_path):
    _, grouped = operators
    model = _model(grouped.shape)
    with dask.config.set(scheduler="threads"), ZarrBlockCache(tmp_path) as cache:
        cached = ImagingOperator.build(raster.datasets, CONFIG,
                                       weight_column=raster.weight_column, cache=cache,
                                       field_groups=groups)
        got, expected = dask.compute(_with_factors(cached, 1, 0).residual(model),
                                     _with_factors(grouped, 1, 0).residual(model))
    np.testing.assert_array_equal(got, expected)


def test_bad_groups_are_refused(operators, raster):
    plain, grouped = operators
    ones = np.ones(grouped.shape)
    with pytest.raises(InputError, match="once per field group"):
        grouped.with_model_weights([((0,), 0, ones)])
    with pytest.raises(InputError, match="field group 2"):
        grouped.with_model_weights([((0,), 0, ones), ((0,), 2, ones)])
    with pytest.raises(InputError, match="field group 0"):
        plain.with_model_weights([((0,), 0, ones)])
    with pytest.raises(InputError, match="finite"):
        grouped.with_model_weights([((0,), 0, ones), ((0,), 1, np.full(grouped.shape, np.nan))])
    for bad, message in (([[0, 1, 2, 3], [3, 4, 5, 6, 7]], "overlaps"),
                         ([[0, 1, 2, 3], [4, 5, 6]], r"fields \[7\] are in no field group"),
                         ([[0, 1, 2, 3], [4, 5, 6, 7, 99]], "unknown")):
        with pytest.raises(InputError, match=message):
            ImagingOperator.build(raster.datasets, CONFIG, weight_column=raster.weight_column,
                                  field_groups=bad)
