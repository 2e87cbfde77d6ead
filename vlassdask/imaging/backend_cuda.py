"""The CUDA backends of the imaging seam: numba-cuda kernels on cupy arrays (and on the CUDA
simulator's host arrays).

:func:`cupy_backend` is what ``backend_for`` returns for a ``cupy.ndarray`` (registered lazily
in :mod:`vlassdask.imaging.backend`, so nothing here is imported unless cupy arrays appear or a
device is asked for): the gridding kernels of :mod:`vlassdask.kernels.cuda_gridder`, the layer
kernels of :mod:`vlassdask.kernels.cuda_layers`, cuFFT through ``cupyx.scipy.fft`` and cupy
arrays for the grids and images. The imaging operator then keeps its prepared blocks, grids
and model grids on the device and brings back only the finished images.

:data:`SIMULATOR_BACKEND` runs the same kernels on :class:`SimulatedDeviceArray` (host memory
standing in for device memory) for the CUDA simulator (``NUMBA_ENABLE_CUDASIM=1``): the whole
operator then exercises the device code path, dispatch included, on a machine without a GPU.

Device memory model: the prepared blocks (48 bytes per visibility), ``accumulators`` grids of
``n_grids x G^2 x 8`` bytes, one FFT grid and one model grid per w-layer in flight, the kernel
table (see :mod:`vlassdask.kernels.cuda_gridder`) and two float64 (nx, ny) images;
:func:`vlassdask.imaging.memory.estimate_device_memory` checks it before anything is allocated.
"""

from __future__ import annotations

from functools import cache

import numpy as np
from numba import cuda

from vlassdask.imaging.backend import Backend, backend_for, ducc_fft
from vlassdask.kernels import cuda_gridder, cuda_layers


def _device_backend(name: str, *, zeros, asarray, to_numpy, fft, memory_bytes) -> Backend:
    """A backend with the CUDA kernels and the given array functions."""
    return Backend(
        name=name, zeros=zeros, asarray=asarray, to_numpy=to_numpy,
        grid=cuda_gridder.grid_visibilities, degrid=cuda_gridder.degrid_visibilities,
        grid_residual=cuda_gridder.grid_residual_visibilities, fft=fft,
        accumulate_layer=cuda_layers.accumulate_layer, spread_layer=cuda_layers.spread_layer,
        memory_bytes=memory_bytes,
    )


@cache
def cupy_backend() -> Backend:
    """The backend of ``cupy.ndarray``: CUDA kernels, cuFFT, device-resident grids.

    ``fft`` runs cuFFT in place (``overwrite_x``), unnormalised both ways as the numpy
    backend's; ``memory_bytes`` is the free memory of the current device.
    """
    import cupy
    import cupyx.scipy.fft as cufft

    def fft(grids, *, forward: bool, nthreads: int = 1):
        transform = cufft.fft2 if forward else cufft.ifft2
        out = transform(grids, axes=(-2, -1), norm="backward" if forward else "forward",
                        overwrite_x=True)
        if out is not grids:
            grids[...] = out
        return grids

    return _device_backend("cupy", zeros=cupy.zeros, asarray=cupy.asarray,
                           to_numpy=cupy.asnumpy, fft=fft,
                           memory_bytes=lambda: int(cupy.cuda.runtime.memGetInfo()[0]))


class SimulatedDeviceArray(np.ndarray):
    """Host memory standing in for device memory: numpy arrays of this type are dispatched to
    :data:`SIMULATOR_BACKEND` (CUDA kernels; under ``NUMBA_ENABLE_CUDASIM=1`` they run in the
    simulator, on a real device numba copies them there and back at every launch)."""


def _simulated_zeros(shape, dtype=np.float64) -> SimulatedDeviceArray:
    return np.zeros(shape, dtype=dtype).view(SimulatedDeviceArray)


def _simulated_asarray(array) -> SimulatedDeviceArray:
    return np.ascontiguousarray(array).view(SimulatedDeviceArray)


def _simulated_fft(grids, *, forward: bool, nthreads: int = 1):
    ducc_fft(grids.view(np.ndarray), forward=forward, nthreads=nthreads)
    return grids


SIMULATOR_BACKEND = _device_backend(
    "cuda-simulator", zeros=_simulated_zeros, asarray=_simulated_asarray,
    to_numpy=lambda a: np.asarray(a).view(np.ndarray), fft=_simulated_fft, memory_bytes=None)


@backend_for.register(SimulatedDeviceArray)
def _simulated(_array: SimulatedDeviceArray) -> Backend:
    return SIMULATOR_BACKEND


def gpu_problem() -> str | None:
    """Why the GPU backend cannot run here (cupy missing, no device, numba-cuda missing), or
    None when it can."""
    try:
        import cupy
    except ImportError:
        return "cupy is not installed (pip install 'vlassdask[gpu]')"
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except cupy.cuda.runtime.CUDARuntimeError as exc:
        return f"no usable CUDA device ({exc})"
    if count == 0:
        return "no CUDA device found"
    if not cuda.is_available():
        return "numba-cuda cannot use the CUDA driver (pip install 'vlassdask[gpu]')"
    return None
