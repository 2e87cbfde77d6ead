"""The imaging operator: residual, predict, PSF moments, against independent references.

* ``residual(model)`` equals the dirty image of ``DATA - direct-DFT(model)`` (visibilities read
  with casacore, model visibilities by the exact DFT including the w-term, imaged with the
  in-memory gridder) to 1e-4 of the peak, with w-projection;
* ``residual(0)`` equals ``dirty()``; the distributed cluster gives the threaded result;
* ``predict`` equals the direct DFT and is consistent with ``residual`` (adjointness:
  <x, A^H W A x> = sum_k w_k |A x|_k^2);
* weight-moment PSFs have the analytic centre values (weighted moments of the frequency).
"""

from __future__ import annotations

import dask
import numpy as np
import pytest
from casacore.tables import table
from distributed import Client, LocalCluster

from vlassdask.errors import InputError
from vlassdask.imaging.config import ImagingConfig
from vlassdask.imaging.imaging_operator import ImagingOperator
from vlassdask.imaging.operator import dirty_image
from vlassdask.io.block_cache import ZarrBlockCache
from vlassdask.io.ms_read import open_measurement_set
from vlassdask.kernels.dft import predict_visibilities as dft_predict
from vlassdask.testing.ms import make_test_ms

INNER = ["W04", "W08", "W12", "W16", "E04", "E08", "E12", "E16", "N04", "N08", "N12", "N16"]
CONFIG = ImagingConfig(imsize=(160, 160), cell_arcsec=3.0, weighting="natural", row_chunks=400,
                       accumulators=2, gridder="wproject", epsilon=1e-5)
#: model components: (x, y, Jy/pixel)
COMPONENTS = [(80, 80, 0.8), (50, 101, 0.3), (123, 47, -0.1)]


@pytest.fixture(scope="module")
def op_ms(tmp_path_factory):
    return make_test_ms(tmp_path_factory.mktemp("operator"), name="op.ms", spw_ids=[0, 9],
                        nchan_per_spw=3, antennas=INNER, dec_deg=-22.0, hour_angle_h=-1.5,
                        noise_sigma_jy=0.02, flag_fraction=0.1, seed=3)


@pytest.fixture(scope="module")
def operator(op_ms):
    vis = open_measurement_set(op_ms, row_chunks=CONFIG.row_chunks)
    with dask.config.set(scheduler="threads"):
        yield ImagingOperator.build(vis.datasets, CONFIG, weight_column=vis.weight_column)


def _model(shape) -> np.ndarray:
    model = np.zeros(shape)
    for x, y, flux in COMPONENTS:
        model[x, y] = flux
    return model


def _lmn(config: ImagingConfig) -> np.ndarray:
    nx, ny = config.imsize
    l_ = np.array([-(x - nx // 2) * config.cell_rad for x, _, _ in COMPONENTS])
    m_ = np.array([(y - ny // 2) * config.cell_rad for _, y, _ in COMPONENTS])
    return np.stack([l_, m_, np.sqrt(1 - l_**2 - m_**2)], axis=1)


def _read(ms):
    with table(str(ms), ack=False) as tab:
        cols = {c: tab.getcol(c) for c in ("UVW", "DATA", "FLAG", "FLAG_ROW", "WEIGHT",
                                           "DATA_DESC_ID")}
    with table(f"{ms}::DATA_DESCRIPTION", ack=False) as dd:
        dd_spw = dd.getcol("SPECTRAL_WINDOW_ID")
    with table(f"{ms}::SPECTRAL_WINDOW", ack=False) as spw:
        chan_freq = [spw.getcell("CHAN_FREQ", r) for r in range(spw.nrows())]
    return cols, dd_spw, chan_freq


def _dft_model_vis(uvw, freq):
    fluxes = np.zeros((len(COMPONENTS), freq.size, 4))
    fluxes[:, :, 0] = np.array([c[2] for c in COMPONENTS])[:, None]
    return dft_predict(uvw, freq, _lmn(CONFIG), fluxes)[..., 0]  # RR = I for a Stokes I sky


def _reference_residual(ms, plan) -> np.ndarray:
    """Dirty image of DATA - DFT(model) (both hands), natural weights, in-memory gridder."""
    cols, dd_spw, chan_freq = _read(ms)
    image = np.zeros((plan.nx, plan.ny))
    total = 0.0
    for ddid in np.unique(cols["DATA_DESC_ID"]):
        rows = cols["DATA_DESC_ID"] == ddid
        freq = np.asarray(chan_freq[dd_spw[ddid]], dtype=np.float64)
        data, flag = cols["DATA"][rows], cols["FLAG"][rows]
        model = _dft_model_vis(cols["UVW"][rows], freq)
        weight = cols["WEIGHT"][rows].astype(np.float64)
        ok = ~(flag[..., 0] | flag[..., 3] | cols["FLAG_ROW"][rows][:, None])
        vis = np.where(ok, weight[:, None, 0] * (data[..., 0] - model)
                       + weight[:, None, 3] * (data[..., 3] - model), 0.0)
        image += dirty_image(cols["UVW"][rows], freq, vis.astype(np.complex128), plan)[0]
        total += np.where(ok, weight[:, None, 0] + weight[:, None, 3], 0.0).sum()
    return image / total


def test_residual_equals_dirty_of_dft_subtracted_data(operator, op_ms):
    with dask.config.set(scheduler="threads"):
        residual, dirty = dask.compute(operator.residual(_model(operator.shape)),
                                       operator.dirty())
    reference = _reference_residual(op_ms, operator.plan)
    peak = np.abs(dirty).max()
    assert operator.plan.w_projection
    assert np.abs(residual - reference).max() <= 1e-4 * peak
    assert np.abs(residual - dirty).max() > 0.3 * peak  # the model matters


def test_residual_of_zero_is_the_dirty_image(operator):
    with dask.config.set(scheduler="threads"):
        residual, dirty = dask.compute(operator.residual(np.zeros(operator.shape)),
                                       operator.dirty())
    assert np.abs(residual - dirty).max() <= 1e-6 * np.abs(dirty).max()


def test_distributed_equals_threads(op_ms, operator):
    model = _model(operator.shape)
    with dask.config.set(scheduler="threads"):
        expected = operator.residual(model).compute()
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster):
        vis = open_measurement_set(op_ms, row_chunks=CONFIG.row_chunks)
        op = ImagingOperator.build(vis.datasets, CONFIG, weight_column=vis.weight_column)
        first = op.residual(model).compute()
        second = op.residual(model).compute()  # blocks stay persisted between major cycles
    np.testing.assert_allclose(first, expected, atol=1e-6 * np.abs(expected).max())
    np.testing.assert_array_equal(first, second)


def test_predict_matches_dft_and_is_adjoint_to_residual(operator, op_ms):
    model = _model(operator.shape)
    with dask.config.set(scheduler="threads"):
        predicted = dask.compute(*operator.predict(model))
        dirty, residual = dask.compute(operator.dirty(), operator.residual(model))
    cols, dd_spw, chan_freq = _read(op_ms)
    lhs = float(np.sum(model * (dirty - residual))) * operator.sum_of_weights
    rhs = 0.0
    for k, ddid in enumerate(np.unique(cols["DATA_DESC_ID"])):
        rows = cols["DATA_DESC_ID"] == ddid
        freq = np.asarray(chan_freq[dd_spw[ddid]], dtype=np.float64)
        expected = _dft_model_vis(cols["UVW"][rows], freq)
        flag = cols["FLAG"][rows]
        ok = ~(flag[..., 0] | flag[..., 3] | cols["FLAG_ROW"][rows][:, None])
        assert predicted[k].shape == expected.shape
        assert np.abs(predicted[k] - expected)[ok].max() <= 1e-4 * np.abs(expected).max()
        assert np.all(predicted[k][~ok] == 0)  # flagged visibilities carry no model
        weight = cols["WEIGHT"][rows].astype(np.float64)
        wsum = np.where(ok, weight[:, None, 0] + weight[:, None, 3], 0.0)
        rhs += float(np.sum(wsum * np.abs(predicted[k]) ** 2))
    assert lhs == pytest.approx(rhs, rel=1e-4)


def test_psf_weight_moments_have_analytic_centres(operator, op_ms):
    with dask.config.set(scheduler="threads"):
        psf0, psf1, psf2 = dask.compute(*operator.psf(moments=(0, 1, 2)))
    cols, dd_spw, chan_freq = _read(op_ms)
    sums = np.zeros(3)
    for ddid in np.unique(cols["DATA_DESC_ID"]):
        rows = cols["DATA_DESC_ID"] == ddid
        freq = np.asarray(chan_freq[dd_spw[ddid]], dtype=np.float64)
        flag = cols["FLAG"][rows]
        ok = ~(flag[..., 0] | flag[..., 3] | cols["FLAG_ROW"][rows][:, None])
        weight = cols["WEIGHT"][rows].astype(np.float64)
        wsum = np.where(ok, weight[:, None, 0] + weight[:, None, 3], 0.0)
        t = (freq - operator.frequency_hz) / operator.frequency_hz
        sums += [np.sum(wsum * t[None, :] ** k) for k in range(3)]
    centre = tuple(n // 2 for n in operator.shape)
    assert psf0[centre] == pytest.approx(1.0, abs=1e-5)
    assert abs(psf1[centre]) <= 1e-5  # the reference frequency is the weighted mean
    assert psf2[centre] == pytest.approx(sums[2] / sums[0], rel=1e-3)
    assert sums[2] / sums[0] > 1e-3  # two windows far apart: a real second moment


def test_bad_model_is_refused(operator):
    with pytest.raises(InputError, match="shape"):
        operator.residual(np.zeros((10, 10)))
    bad = np.zeros(operator.shape)
    bad[3, 3] = np.nan
    with pytest.raises(InputError, match="non-finite"):
        operator.residual(bad)


def test_zarr_block_cache_gives_the_same_images(op_ms, operator, tmp_path):
    model = _model(operator.shape)
    vis = open_measurement_set(op_ms, row_chunks=CONFIG.row_chunks)
    with dask.config.set(scheduler="threads"), ZarrBlockCache(tmp_path) as cache:
        cached = ImagingOperator.build(vis.datasets, CONFIG, weight_column=vis.weight_column,
                                       cache=cache)
        assert all(isinstance(b.compute(), str) for b in cached.blocks)  # handles, not data
        assert cache.nbytes() >= cached.block_bytes * 0.9
        residual, dirty = dask.compute(cached.residual(model), cached.dirty())
        expected_residual, expected_dirty = dask.compute(operator.residual(model),
                                                         operator.dirty())
        path = cache.path
    np.testing.assert_array_equal(residual, expected_residual)
    np.testing.assert_array_equal(dirty, expected_dirty)
    assert cached.counts == operator.counts
    assert not path.exists()  # removed on close
