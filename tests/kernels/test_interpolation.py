"""The bilinear node-grid kernel against scipy's RegularGridInterpolator."""

from __future__ import annotations

import numpy as np
from scipy.interpolate import RegularGridInterpolator

from vlassdask.imaging.node_grid import interpolate_nodes, node_count, node_pixels


def test_bilinear_nodes_match_scipy_and_are_exact_on_nodes():
    shape, step = (203, 157), 20
    rng = np.random.default_rng(4)
    nodes = rng.normal(size=(node_count(shape[0], step), node_count(shape[1], step)))
    got = interpolate_nodes(nodes, shape, step, chunks=(64, 50), dtype=np.float64).compute()
    ref = RegularGridInterpolator((node_pixels(shape[0], step), node_pixels(shape[1], step)),
                                  nodes)
    x, y = np.meshgrid(np.arange(shape[0]), np.arange(shape[1]), indexing="ij")
    np.testing.assert_allclose(got, ref((x, y)), rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(got[::step, ::step], nodes[: -(-shape[0] // step),
                                                               : -(-shape[1] // step)])


def test_a_single_node_column_and_nan_nodes():
    nodes = np.array([[1.0], [3.0]])
    got = interpolate_nodes(nodes, (11, 1), 10, chunks=(6, 1), dtype=np.float64).compute()
    np.testing.assert_allclose(got[:, 0], 1.0 + 0.2 * np.arange(11))
    nodes = np.ones((4, 4))
    nodes[0, 0] = np.nan  # its cell is NaN; cells not touching it are not
    got = interpolate_nodes(nodes, (31, 31), 10, chunks=(16, 16), dtype=np.float32).compute()
    assert np.isnan(got[5, 5]) and np.isnan(got[0, 0]) and got[25, 25] == 1.0
