"""The one-pass label statistics against scipy.ndimage."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from vlassdask.kernels.label_stats import label_stats


def test_label_stats_match_scipy_ndimage():
    rng = np.random.default_rng(2)
    values = ndimage.gaussian_filter(rng.normal(size=(300, 200)), 2)
    values[50, 60] = values[50, 61] = 10.0  # a tie: the first pixel in C order wins
    labels, n = ndimage.label(values > 0.1, structure=np.ones((3, 3)))
    boxes, counts, peaks, where = label_stats(labels, values, n)
    index = np.arange(1, n + 1)
    expected = [(s[0].start, s[0].stop, s[1].start, s[1].stop)
                for s in ndimage.find_objects(labels)]
    np.testing.assert_array_equal(boxes, expected)
    np.testing.assert_array_equal(counts, np.bincount(labels.ravel())[1:])
    np.testing.assert_array_equal(peaks, ndimage.maximum(values, labels, index))
    np.testing.assert_array_equal(where, ndimage.maximum_position(values, labels, index))
    assert (50, 60) in [tuple(w) for w in where]
