"""The backend seam: every array kernel the imaging operator calls, chosen by array type.

Algorithm code (:mod:`vlassdask.imaging.operator`, :mod:`vlassdask.imaging.imaging_operator`)
never branches on the device. It asks :func:`backend_for` for the :class:`Backend` that goes
with the arrays it holds (the prepared visibilities' grid positions), in the way dask's own
dispatch registries (``dask.utils.Dispatch``) choose an implementation by type. The numpy backend
(numba kernels, ducc0 FFTs) is registered here; the cupy backend (CUDA kernels, cuFFT:
:mod:`vlassdask.imaging.backend_cuda`) is registered lazily, the first time a cupy array is seen
(``backend_for.register_lazy("cupy")``), and the operator then runs on the device unchanged.
:func:`resolve_backend` turns ``--device cpu|gpu|auto`` into a backend.

Every function works in place where it says so, takes the arrays first and options as keywords,
and follows the input precision.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import ducc0
import numpy as np
from dask.utils import Dispatch

from vlassdask.errors import ConfigError
from vlassdask.imaging.config import DEVICES
from vlassdask.kernels.gridder import (
    degrid_visibilities,
    grid_residual_visibilities,
    grid_visibilities,
)
from vlassdask.kernels.layers import accumulate_layer, spread_layer


@dataclass(frozen=True)
class Backend:
    """The array kernels of one array type.

    Attributes
    ----------
    name
        ``"numpy"`` (CPU) or a device backend's name; recorded in provenance.
    zeros
        ``zeros(shape, dtype)``: a new zero-filled array on this backend.
    asarray
        ``asarray(array)``: an array of this backend from a numpy array (a copy to the device
        for device backends; no copy for numpy).
    to_numpy
        ``to_numpy(array)``: a host (numpy) array.
    grid
        :func:`vlassdask.kernels.gridder.grid_visibilities`.
    degrid
        :func:`vlassdask.kernels.gridder.degrid_visibilities`.
    grid_residual
        :func:`vlassdask.kernels.gridder.grid_residual_visibilities`.
    fft
        ``fft(grids, forward, nthreads)``: in-place 2-D c2c FFT over the last two axes,
        unnormalised in both directions.
    accumulate_layer
        :func:`vlassdask.kernels.layers.accumulate_layer`.
    spread_layer
        :func:`vlassdask.kernels.layers.spread_layer`.
    memory_bytes
        ``memory_bytes()``: free device memory in bytes, for the pre-flight check of device
        backends; None for backends whose arrays live in host memory.
    """

    name: str
    zeros: Callable
    asarray: Callable
    to_numpy: Callable
    grid: Callable
    degrid: Callable
    grid_residual: Callable
    fft: Callable
    accumulate_layer: Callable
    spread_layer: Callable
    memory_bytes: Callable[[], int] | None = None


def ducc_fft(grids: np.ndarray, *, forward: bool, nthreads: int = 1) -> np.ndarray:
    """In-place unnormalised 2-D c2c FFT over the last two axes with ducc0."""
    return ducc0.fft.c2c(grids, axes=(grids.ndim - 2, grids.ndim - 1), forward=forward,
                         out=grids, nthreads=nthreads)


NUMPY_BACKEND = Backend(
    name="numpy",
    zeros=np.zeros,
    asarray=np.asarray,
    to_numpy=np.asarray,
    grid=grid_visibilities,
    degrid=degrid_visibilities,
    grid_residual=grid_residual_visibilities,
    fft=ducc_fft,
    accumulate_layer=accumulate_layer,
    spread_layer=spread_layer,
)

backend_for = Dispatch("imaging_backend")


@backend_for.register(np.ndarray)
def _numpy(_array: np.ndarray) -> Backend:
    return NUMPY_BACKEND


@backend_for.register_lazy("cupy")
def _register_cupy() -> None:
    # imported on first use of a cupy array: cupy and numba-cuda are optional (the gpu extra)
    import cupy

    from vlassdask.imaging.backend_cuda import cupy_backend

    backend_for.register(cupy.ndarray)(lambda _array: cupy_backend())


def resolve_backend(device: str) -> Backend:
    """The backend for ``device``: ``cpu`` (numpy), ``gpu`` (cupy) or ``auto`` (cupy when a
    usable GPU is present, else numpy).

    Raises
    ------
    ConfigError
        ``gpu`` without cupy, numba-cuda or a CUDA device (the message says which), or an
        unknown device.
    """
    if device not in DEVICES:
        raise ConfigError(f"device must be one of {', '.join(DEVICES)}, got {device!r}")
    if device == "cpu":
        return NUMPY_BACKEND
    try:  # numba-cuda (the gpu and test extras) provides the device kernels
        from vlassdask.imaging.backend_cuda import cupy_backend, gpu_problem
    except ImportError as exc:
        problem = f"the CUDA kernels cannot be imported ({exc}; pip install 'vlassdask[gpu]')"
    else:
        problem = gpu_problem()
        if problem is None:
            return cupy_backend()
    if device == "auto":
        return NUMPY_BACKEND
    raise ConfigError(f"--device gpu: {problem}")
