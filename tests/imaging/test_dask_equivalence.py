"""The dask dirty-image graph equals the in-memory operator on the same visibilities.

The reference reads the Measurement Set with casacore (not dask-ms), forms natural-weighted
Stokes I (``w1 V1 + w2 V2`` where both parallel hands are unflagged), images every spectral window
with :func:`vlassdask.imaging.operator.dirty_image` in one call each and divides by the sum of
weights. The dask result must match to 1e-5 of the peak for 2-D and w-projection gridding (one
and three w-layers), must not depend on the row chunking or the number of accumulators, and must
be the same on a distributed cluster of worker processes.
"""

from __future__ import annotations

import dask
import numpy as np
import pytest
from casacore.tables import table
from distributed import Client, LocalCluster, get_task_stream

from vlassdask.imaging.config import ImagingConfig
from vlassdask.imaging.dirty import make_dirty_image
from vlassdask.imaging.operator import dirty_image
from vlassdask.io.ms_read import open_measurement_set
from vlassdask.testing.ms import make_test_ms

INNER = ["W04", "W08", "W12", "W16", "E04", "E08", "E12", "E16", "N04", "N08", "N12", "N16"]
TOLERANCE = 1e-5  # of the image peak
#: padding is pinned: these tests compare orchestrations of one plan, not the planner's choices
#: (with complex64 grids, padding 1.25 and 3 w-layers agree only to ~1e-4 of the peak)
BASE = ImagingConfig(imsize=(192, 192), cell_arcsec=2.5, weighting="natural", row_chunks=500,
                     accumulators=2, padding=2.0)
#: gridder settings under test: plain 2-D, w-projection (cost-chosen layers), 3 w-layers
GRIDDERS = {"2d": {"gridder": "2d"}, "wproject": {"gridder": "wproject"},
            "wproject-3-layers": {"gridder": "wproject", "w_layers": 3}}


@pytest.fixture(scope="module")
def equivalence_ms(tmp_path_factory):
    """Noisy, 10% flagged, 3 windows x 3 channels, Dec -22 at hour angle -1.5 h (large w)."""
    return make_test_ms(tmp_path_factory.mktemp("dask_equivalence"), name="eq.ms",
                        spw_ids=[0, 7, 15], nchan_per_spw=3, antennas=INNER, dec_deg=-22.0,
                        hour_angle_h=-1.5, noise_sigma_jy=0.05, flag_fraction=0.1, seed=7)


def _in_memory(ms, plan) -> tuple[np.ndarray, np.ndarray, float]:
    """Dirty image, PSF and sum of weights from casacore arrays and the in-memory operator."""
    with table(str(ms), ack=False) as tab:
        cols = {c: tab.getcol(c) for c in ("UVW", "DATA", "FLAG", "FLAG_ROW", "WEIGHT",
                                           "DATA_DESC_ID")}
    with table(f"{ms}::DATA_DESCRIPTION", ack=False) as dd:
        dd_spw = dd.getcol("SPECTRAL_WINDOW_ID")
    with table(f"{ms}::SPECTRAL_WINDOW", ack=False) as spw:
        chan_freq = [spw.getcell("CHAN_FREQ", r) for r in range(spw.nrows())]
    with table(f"{ms}::POLARIZATION", ack=False) as pol:
        corr = list(pol.getcell("CORR_TYPE", 0))
    h1, h2 = corr.index(5), corr.index(8)  # RR, LL
    dirty = np.zeros((plan.nx, plan.ny))
    psf = np.zeros((plan.nx, plan.ny))
    total = 0.0
    for ddid in np.unique(cols["DATA_DESC_ID"]):
        rows = cols["DATA_DESC_ID"] == ddid
        data, flag = cols["DATA"][rows], cols["FLAG"][rows]
        weight = cols["WEIGHT"][rows].astype(np.float64)
        ok = ~(flag[..., h1] | flag[..., h2] | cols["FLAG_ROW"][rows][:, None])
        wsum = np.where(ok, weight[:, None, h1] + weight[:, None, h2], 0.0)
        vis = np.where(ok, weight[:, None, h1] * data[..., h1] + weight[:, None, h2] *
                       data[..., h2], 0.0).astype(np.complex128)
        freq = np.asarray(chan_freq[dd_spw[ddid]], dtype=np.float64)
        dirty += dirty_image(cols["UVW"][rows], freq, vis, plan)[0]
        psf += dirty_image(cols["UVW"][rows], freq, wsum.astype(np.complex128), plan)[0]
        total += wsum.sum()
    return dirty / total, psf / total, total


def _computed(ms, config):
    vis = open_measurement_set(ms, row_chunks=config.row_chunks)
    result = make_dirty_image(vis.datasets, config, weight_column=vis.weight_column)
    dirty, psf = dask.compute(result.dirty, result.psf)
    return result, dirty, psf


def _assert_close(actual, expected):
    peak = np.abs(expected).max()
    assert np.abs(actual - expected).max() <= TOLERANCE * peak


@pytest.fixture(scope="module")
def threaded(equivalence_ms):
    """Dask results on the threaded scheduler, keyed by gridder."""
    with dask.config.set(scheduler="threads"):
        return {name: _computed(equivalence_ms, BASE.replace(**options))
                for name, options in GRIDDERS.items()}


@pytest.mark.parametrize("gridder", list(GRIDDERS))
def test_dask_equals_in_memory(gridder, threaded, equivalence_ms):
    result, dirty, psf = threaded[gridder]
    assert result.plan.w_projection is (gridder != "2d")
    assert result.plan.n_layers == GRIDDERS[gridder].get("w_layers", 1)
    assert result.counts["off_grid"] == 0
    assert 0 < result.counts["unflagged"] < result.counts["total"]  # flags are exercised
    ref_dirty, ref_psf, ref_sum = _in_memory(equivalence_ms, result.plan)
    assert result.sum_of_weights == pytest.approx(ref_sum, rel=1e-6)
    _assert_close(dirty, ref_dirty)
    _assert_close(psf, ref_psf)
    assert psf.max() == pytest.approx(1.0, abs=1e-5)
    assert np.abs(dirty).max() > 0.5  # the 1 Jy source is in the field


def test_w_projection_matters_here(threaded):
    """Guard: the two gridders differ by far more than the tolerance on this data."""
    _, dirty_2d, _ = threaded["2d"]
    _, dirty_w, _ = threaded["wproject"]
    assert np.abs(dirty_2d - dirty_w).max() > 100 * TOLERANCE * np.abs(dirty_w).max()


@pytest.mark.parametrize(("row_chunks", "accumulators"), [(97, 1), (250, 3), (5000, 1)])
def test_independent_of_chunking(row_chunks, accumulators, threaded, equivalence_ms):
    _, dirty, psf = threaded["wproject-3-layers"]
    config = BASE.replace(row_chunks=row_chunks, accumulators=accumulators,
                          **GRIDDERS["wproject-3-layers"])
    with dask.config.set(scheduler="threads"):
        _, other_dirty, other_psf = _computed(equivalence_ms, config)
    _assert_close(other_dirty, dirty)
    _assert_close(other_psf, psf)


def test_distributed_cluster_gives_same_answer(threaded, equivalence_ms):
    _, dirty, psf = threaded["wproject"]
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        assert dask.config.get("scheduler") == "dask.distributed"
        with get_task_stream(client) as stream:
            _, dist_dirty, dist_psf = _computed(equivalence_ms, BASE.replace(gridder="wproject"))
        workers = {task["worker"] for task in stream.data}
    assert len(workers) == 2  # the graph really ran on both worker processes
    _assert_close(dist_dirty, dirty)
    _assert_close(dist_psf, psf)
