"""RMS-weighted mean block: weights, combined rms, coverage and blank handling."""

import dask.array as da
import numpy as np

from vlassdask.combine.mean import COVERAGE, RMS, SKY, weighted_mean, weighted_mean_block


def test_weighted_mean_block_against_explicit_sums():
    skies = [np.array([[1.0, 2.0, np.nan, 4.0, 5.0, np.nan]]),
             np.array([[3.0, 2.0, 7.0, np.nan, 1.0, np.nan]])]  # fmt: skip
    rmss = [np.array([[1.0, 2.0, 1.0, 1.0, 0.0, 1.0]]),
            np.array([[2.0, np.nan, 1.0, -1.0, np.inf, 1.0]])]  # fmt: skip
    scales = (1.0, 2.0)
    out = weighted_mean_block(*skies, *rmss, rms_scales=scales)
    w1, w2 = 1.0, 1.0 / 16.0  # pixel 0: rms 1 and 2*2
    assert np.allclose(out[SKY, 0, 0], (w1 * 1 + w2 * 3) / (w1 + w2))
    assert np.allclose(out[RMS, 0, 0], (w1 + w2) ** -0.5)
    assert out[SKY, 0, 1] == 2.0 and out[RMS, 0, 1] == 2.0  # NaN rms: epoch 2 left out
    assert out[SKY, 0, 2] == 7.0 and out[RMS, 0, 2] == 2.0  # NaN image: epoch 1 left out
    assert out[SKY, 0, 3] == 4.0  # negative rms is unusable
    assert np.isnan(out[SKY, 0, 4]) and np.isnan(out[RMS, 0, 4])  # zero and infinite rms
    assert np.isnan(out[SKY, 0, 5])
    assert out[COVERAGE, 0].tolist() == [2, 1, 1, 1, 0, 0]


def test_weighted_mean_is_lazy_and_keeps_float32():
    rng = np.random.default_rng(1)
    skies = [da.from_array(rng.normal(size=(1, 1, 1, 40, 30)).astype(np.float32), chunks=16)
             for _ in range(3)]  # fmt: skip
    rmss = [da.from_array(np.full((1, 1, 1, 40, 30), s, np.float32), chunks=20)
            for s in (1.0, 2.0, 4.0)]  # fmt: skip
    sky, rms, coverage = weighted_mean(skies, rmss, (1.0, 1.0, 0.5))
    assert (sky.dtype, rms.dtype, coverage.dtype) == (np.float32, np.float32, np.uint8)
    weights = np.array([1.0, 0.25, 0.25])
    expected = sum(w * s.compute() for w, s in zip(weights, skies, strict=True)) / weights.sum()
    assert np.allclose(sky.compute(), expected, rtol=1e-5, atol=1e-6)
    assert np.allclose(rms.compute(), weights.sum() ** -0.5)
    assert (coverage.compute() == 3).all()
