"""Sliding-box robust rms images."""

from __future__ import annotations

import dask.array as da
import numpy as np
import pytest

from vlassdask.errors import ConfigError
from vlassdask.imaging.rms_image import box_rms_nodes, sliding_rms


def test_rms_of_gaussian_noise_is_its_sigma():
    rng = np.random.default_rng(7)
    sigma = 2.5e-4
    image = da.from_array(rng.normal(0.0, sigma, (1100, 900)).astype(np.float32), chunks=256)
    rms = sliding_rms(image, box=60, step=20).compute()
    assert rms.shape == (1100, 900) and rms.dtype == np.float32
    assert np.median(rms) == pytest.approx(sigma, rel=0.03)
    assert np.mean(np.abs(rms / sigma - 1) < 0.1) > 0.97


def test_rms_follows_a_noise_gradient_and_ignores_sources_and_nan():
    rng = np.random.default_rng(8)
    sigma = np.where(np.arange(600) < 300, 1.0, 3.0)[:, None] * np.ones((1, 400))
    data = rng.normal(0.0, 1.0, (600, 400)) * sigma
    data[100:104, 200:204] = 500.0      # a bright source: robust statistics ignore it
    data[450:470, 50:70] = np.nan       # a masked patch
    rms = sliding_rms(da.from_array(data, chunks=128), box=60, step=20).compute()
    assert np.median(rms[:250]) == pytest.approx(1.0, rel=0.05)
    assert np.median(rms[350:]) == pytest.approx(3.0, rel=0.05)
    assert rms[102, 202] == pytest.approx(1.0, rel=0.15)
    assert np.isfinite(rms).all()


def test_nodes_are_one_task_per_group_and_boxes_stay_inside():
    image = da.ones((130, 70), chunks=32) * 2.0
    nodes = box_rms_nodes(image, box=60, step=20)
    assert nodes.shape == (8, 5)
    assert np.all(nodes.compute() == 0.0)        # a constant has no spread
    with pytest.raises(ConfigError, match="rms box"):
        box_rms_nodes(image, box=1, step=1)
