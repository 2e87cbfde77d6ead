"""The imaging operator on the device path (simulated device arrays, CUDA kernels in the
simulator) equals the CPU operator: dirty image, PSF moments, residual and predict, with the
prepared blocks held on the device or read back from a block cache.

The device operator runs on dask's synchronous scheduler: the simulator swaps module globals
while a kernel runs, so it cannot launch kernels from several threads at once (a real device
can).
"""

from __future__ import annotations

from dataclasses import replace

import dask
import numpy as np
import pytest

from vlassdask.errors import InputError
from vlassdask.imaging.backend_cuda import SIMULATOR_BACKEND, SimulatedDeviceArray
from vlassdask.imaging.config import ImagingConfig
from vlassdask.imaging.imaging_operator import ImagingOperator
from vlassdask.io.block_cache import ZarrBlockCache
from vlassdask.io.ms_read import open_measurement_set
from vlassdask.testing.ms import make_test_ms

CONFIG = ImagingConfig(imsize=(32, 32), cell_arcsec=20.0, weighting="briggs", row_chunks=60,
                       accumulators=2, gridder="wproject", epsilon=1e-4)


@pytest.fixture(scope="module")
def datasets(tmp_path_factory):
    ms = make_test_ms(tmp_path_factory.mktemp("device_path"), name="dev.ms", spw_ids=[0],
                      nchan_per_spw=2, antennas=["W04", "W08", "E04", "E08", "N04", "N08"],
                      duration_s=10.0, noise_sigma_jy=0.01, seed=4)
    vis = open_measurement_set(ms, row_chunks=CONFIG.row_chunks)
    return vis.datasets, vis.weight_column


def _build(datasets, backend, cache=None) -> ImagingOperator:
    with dask.config.set(scheduler="sync"):
        return ImagingOperator.build(datasets[0], CONFIG, weight_column=datasets[1],
                                     backend=backend, cache=cache)


def _close(got, want, tol=1e-5):
    assert np.abs(np.asarray(got) - want).max() <= tol * np.abs(want).max()


def test_device_operator_equals_cpu(datasets, tmp_path):
    cpu = _build(datasets, None)
    device = _build(datasets, SIMULATOR_BACKEND)
    assert device.backend is SIMULATOR_BACKEND and cpu.backend.name == "numpy"
    block = device.blocks[0].compute()
    assert isinstance(block.sorted.pu, SimulatedDeviceArray)  # moved to the device once
    assert device.plan.w_projection and device.sum_of_weights == pytest.approx(
        cpu.sum_of_weights)
    model = np.zeros(device.shape)
    model[16, 16], model[9, 21] = 1.0, -0.3
    with dask.config.set(scheduler="sync"):
        want = dask.compute(cpu.dirty(), *cpu.psf((0, 1)), cpu.residual(model),
                            *cpu.predict(model))
        got = dask.compute(device.dirty(), *device.psf((0, 1)), device.residual(model),
                           *device.predict(model))
    for g, w in zip(got, want, strict=True):
        assert type(g) is np.ndarray  # only host results come back
        _close(g, w)
    with ZarrBlockCache(tmp_path) as cache:
        cached = _build(datasets, SIMULATOR_BACKEND, cache=cache)
        with dask.config.set(scheduler="sync"):
            _close(cached.residual(model).compute(), want[3])


def test_a_device_too_small_is_refused_before_anything_runs(datasets):
    small = replace(SIMULATOR_BACKEND, memory_bytes=lambda: 1 << 16)
    with pytest.raises(InputError, match="on the cuda-simulator device needs at least .* but "
                                         "the device has 0.0625 MiB available"):
        _build(datasets, small)
