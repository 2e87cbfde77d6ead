"""Stokes parameters from circular and linear correlations, and the multi-Stokes operator."""

import numpy as np
import pandas as pd
import pytest

from vlassdask.errors import ConfigError, InputError
from vlassdask.imaging.config import ImagingConfig
from vlassdask.imaging.imaging_operator import ImagingOperator
from vlassdask.imaging.stokes import (
    FEED_CORR_TYPES,
    circular_to_linear,
    feed_basis,
    stokes_recipe,
)
from vlassdask.imaging.visibilities import stokes_block, stokes_recipes
from vlassdask.io.ms_read import open_measurement_set
from vlassdask.testing.ms import make_test_ms

RNG = np.random.default_rng(3)
IQUV = (1.0, 0.3, -0.2, 0.05)


def _correlations(basis: str, i, q, u, v):
    """The four correlations of a sky with these Stokes parameters (module docstring)."""
    if basis == "circular":
        return np.stack([i + v, q + 1j * u, q - 1j * u, i - v], axis=-1)
    return np.stack([i + q, u + 1j * v, u - 1j * v, i - q], axis=-1)


@pytest.mark.parametrize("basis", ["circular", "linear"])
def test_stokes_recovered_from_either_basis(basis):
    shape = (5, 3)
    data = _correlations(basis, *(np.full(shape, s, dtype=np.complex128) for s in IQUV))
    # the two correlations of each pair equally weighted (with unequal weights the weighted
    # average mixes in the other parameter: (w1 (I + V) + w2 (I - V)) / (w1 + w2))
    parallel, cross = RNG.uniform(0.5, 2.0, size=(2, 5, 3)).astype(np.float32)
    weight = np.stack([parallel, cross, cross, parallel], axis=-1)
    flag = np.zeros((5, 3, 4), dtype=bool)
    recipes = stokes_recipes("IQUV", FEED_CORR_TYPES[basis])
    vis, wsum, counts = stokes_block(data, flag, weight, None, recipes=recipes)
    a, b = recipes[0][1]
    np.testing.assert_allclose(wsum, weight[..., a] + weight[..., b], rtol=1e-6)
    for k, s in enumerate(IQUV):  # wsum x S for every Stokes parameter, whatever its weights
        np.testing.assert_allclose(vis[k], wsum * s, rtol=1e-5, atol=1e-6)
    assert counts.tolist() == [15, 15, 0]


def test_weighted_average_of_the_two_correlations():
    # Q = (w_RL RL + w_LR LR) / (w_RL + w_LR): an unequal-weight average of unequal values
    data = np.zeros((1, 1, 4), dtype=np.complex64)
    data[0, 0] = [2.0, 1.0, 3.0, 2.0]
    weight = np.array([[[1.0, 1.0, 3.0, 1.0]]], dtype=np.float32)
    vis, wsum, _ = stokes_block(data, np.zeros((1, 1, 4), bool), weight, None,
                                recipes=stokes_recipes("IQ", [5, 6, 7, 8]))
    assert wsum[0, 0] == 2.0
    assert vis[0, 0, 0] == pytest.approx(4.0)  # w1 V1 + w2 V2, as CASA's Stokes I
    assert vis[1, 0, 0] == pytest.approx(2.0 * (1.0 + 9.0) / 4.0)


def test_sample_with_any_needed_correlation_flagged_is_dropped():
    data = np.ones((2, 2, 4), dtype=np.complex64)
    flag = np.zeros((2, 2, 4), dtype=bool)
    flag[0, 1, 2] = True  # LR of one sample: Q and U need it, so I drops it too
    weight = np.ones((2, 4), dtype=np.float32)
    for stokes, usable in (("I", 4), ("IQU", 3)):
        vis, wsum, counts = stokes_block(data, flag, weight, None,
                                         recipes=stokes_recipes(stokes, [5, 6, 7, 8]))
        assert counts[1] == usable
        assert (wsum == 0).sum() == 4 - usable and (vis[:, wsum == 0] == 0).all()


def test_non_finite_cross_hand_is_refused_with_its_label():
    data = np.ones((1, 1, 4), dtype=np.complex64)
    data[0, 0, 1] = np.nan
    with pytest.raises(InputError, match="NaN/inf .field 3"):
        stokes_block(data, np.zeros((1, 1, 4), bool), np.ones((1, 4), np.float32), None,
                     recipes=stokes_recipes("IQU", [5, 6, 7, 8]), label="(field 3, spw 2)")
    # Stokes I alone does not read the cross-hands
    stokes_block(data, np.zeros((1, 1, 4), bool), np.ones((1, 4), np.float32), None,
                 recipes=stokes_recipes("I", [5, 6, 7, 8]))


def test_circular_to_linear_is_the_same_sky():
    stokes = [RNG.normal(size=(4, 2)) + 1j * RNG.normal(size=(4, 2)) for _ in range(4)]
    np.testing.assert_allclose(circular_to_linear(_correlations("circular", *stokes)),
                               _correlations("linear", *stokes), atol=1e-12)


def test_recipes_refuse_missing_correlations_and_mixed_bases():
    with pytest.raises(InputError, match="Stokes Q needs the correlations RL and LR; the data "
                                         "have RR, LL .missing RL, LR"):
        stokes_recipe("Q", [5, 8])
    with pytest.raises(InputError, match="neither circular"):
        feed_basis([5, 9])
    with pytest.raises(InputError, match="unknown Stokes parameter 'P'"):
        stokes_recipe("P", [5, 6, 7, 8])
    with pytest.raises(ConfigError, match="stokes must be distinct letters of IQUV"):
        ImagingConfig(stokes="IQQ")


@pytest.fixture(scope="module")
def polarised_ms(tmp_path_factory):
    sky = pd.DataFrame({"ra_deg": [150.0], "dec_deg": [34.0], "flux_jy": [1.0],
                        "pol_fraction": [0.2], "pol_angle_deg": [30.0]})
    return make_test_ms(tmp_path_factory.mktemp("pol"), sky=sky, duration_s=9.0,
                        spw_ids=[7])


def test_operator_images_q_and_u_with_the_same_prepared_blocks(polarised_ms):
    ms = open_measurement_set(polarised_ms)
    config = ImagingConfig(imsize=(128, 128), cell_arcsec=1.0, weighting="natural",
                           stokes="IQU")
    op = ImagingOperator.build(ms.datasets, config, weight_column=ms.weight_column)
    assert op.stokes == "I"
    peak = {s: float(op.for_stokes(s).dirty().compute()[64, 64]) for s in "IQU"}
    assert peak["I"] == pytest.approx(1.0, abs=1e-3)  # at the phase centre, PB = 1
    assert peak["Q"] == pytest.approx(0.2 * np.cos(np.radians(60.0)), abs=1e-4)
    assert peak["U"] == pytest.approx(0.2 * np.sin(np.radians(60.0)), abs=1e-4)
    # the Stokes I image of the IQU operator is that of a Stokes I operator
    alone = ImagingOperator.build(ms.datasets, config.replace(stokes="I"),
                                  weight_column=ms.weight_column)
    np.testing.assert_array_equal(alone.dirty().compute(), op.dirty().compute())
    assert op.block_bytes - alone.block_bytes == 16 * op.counts["gridded"]
    # residual of the true Q model: the source is gone
    model = np.zeros((128, 128))
    model[64, 64] = peak["Q"]
    assert np.abs(op.for_stokes("Q").residual(model).compute()).max() < 1e-4
    with pytest.raises(InputError, match="prepared for Stokes IQU, not 'V'"):
        op.for_stokes("V")


def test_operator_refuses_q_without_cross_hands(polarised_ms):
    ms = open_measurement_set(polarised_ms)
    datasets = [ds.isel(corr=[0, 3]).assign_attrs(corr_types=[5, 8]) for ds in ms.datasets]
    config = ImagingConfig(imsize=(64, 64), cell_arcsec=1.0, stokes="IQU")
    with pytest.raises(InputError, match="Stokes Q needs the correlations RL and LR"):
        ImagingOperator.build(datasets, config, weight_column=ms.weight_column)


def test_circular_and_linear_feeds_give_the_same_stokes_images(tmp_path):
    sky = pd.DataFrame({"ra_deg": [150.0, 150.01], "dec_deg": [34.0, 34.005],
                        "flux_jy": [1.0, 0.4], "pol_fraction": [0.2, 0.5],
                        "pol_angle_deg": [30.0, -40.0], "rotation_measure": [60.0, -20.0]})
    config = ImagingConfig(imsize=(128, 128), cell_arcsec=1.0, weighting="briggs",
                           stokes="IQUV")
    images = {}
    for feeds in ("circular", "linear"):
        ms = open_measurement_set(make_test_ms(tmp_path, name=f"{feeds}.ms", sky=sky,
                                               duration_s=4.5, spw_ids=[2, 12], feeds=feeds))
        op = ImagingOperator.build(ms.datasets, config, weight_column=ms.weight_column)
        images[feeds] = np.stack([op.for_stokes(s).dirty().compute() for s in "IQUV"])
    peak = np.abs(images["circular"][0]).max()
    np.testing.assert_allclose(images["linear"], images["circular"], atol=1e-4 * peak)
    assert np.abs(images["circular"][1:3]).max() > 0.05 * peak  # Q and U are really there
