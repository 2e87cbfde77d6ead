"""Pre-flight memory estimate of an imaging job, checked before anything is computed.

An image too large for the machine otherwise fails after the first pass with a numpy
allocation error, or grows until the operating system kills the workers. The estimate follows
the peak-memory model of :mod:`vlassdask.imaging.imaging_operator`, with the smallest grid the
planner could choose (the w-plan is not known before the first pass), so it is a lower bound:
a job refused by it cannot run; a job it passes may still need more (w-projection's companion
grid, the Quick Look mosaic beam, a larger padding).

* visibilities: the prepared blocks, 48 bytes per visibility (8 more per further Stokes
  parameter) + 32 per row;
* grids: ``accumulators`` complex64 grids of side ``G = good_size(padding x max(nx, ny))``
  plus one FFT grid and the residual's model grids (one per pointing group, which the
  residual of one group of spectral windows holds at once);
* images: the weight-density grids of uniform and Briggs weighting (``accumulators`` float64
  ``nx x ny`` grids, in the first pass) or the float64 image a graph accumulates plus the
  ``client_images`` its caller holds, whichever is larger.

With a device backend (``ImagingConfig.device``) the prepared blocks and the grids live in
device memory: :func:`estimate_device_memory` is checked against the device's free memory
before anything is allocated there, and the host estimate leaves the visibilities out.
"""

from __future__ import annotations

from dataclasses import dataclass

import xarray as xr

from vlassdask.errors import InputError
from vlassdask.imaging.config import ImagingConfig
from vlassdask.imaging.wplan import AUTO_PADDINGS, good_grid_size

_GIB = float(1 << 30)


def _gib(n: int) -> str:
    if n >= 1024 * _GIB:
        return f"{n / (1024 * _GIB):.3g} TiB"
    return f"{n / _GIB:.3g} GiB" if n >= _GIB else f"{n / (1 << 20):.3g} MiB"


@dataclass(frozen=True)
class MemoryEstimate:
    """Lower bound of an imaging job's peak memory, in bytes, by what holds it."""

    visibilities: int
    grids: int
    images: int

    @property
    def total(self) -> int:
        """All of it."""
        return self.visibilities + self.grids + self.images

    def describe(self) -> str:
        """``"12.3 GiB (grids 10 GiB, images 2 GiB, visibilities 300 MiB)"``."""
        return (f"{_gib(self.total)} (grids {_gib(self.grids)}, images {_gib(self.images)}, "
                f"visibilities {_gib(self.visibilities)})")


def bytes_per_visibility(config: ImagingConfig) -> int:
    """Bytes of a prepared (gridded) visibility: 48, and 8 more per further Stokes parameter."""
    return 48 + 8 * (len(config.stokes) - 1)


def estimate_imaging_memory(datasets: list[xr.Dataset], config: ImagingConfig, *,
                            client_images: int = 1,
                            pointing_groups: int = 1) -> MemoryEstimate:  # fmt: skip
    """Estimate the peak memory of imaging ``datasets`` with ``config`` (see the module
    docstring), from their sizes only: nothing is read.

    Parameters
    ----------
    datasets
        dask-ms datasets (dims row, chan).
    config
        Imaging parameters (image size, padding, weighting, accumulators).
    client_images
        ``nx x ny`` images (counted as float64) the caller holds besides the one an image
        graph accumulates: the finished dirty image while the PSF is made (1), CLEAN's model,
        residual, PSF and work arrays (about 10).
    pointing_groups
        Pointing groups the blocks are ordered by (model grids held at once).
    """
    nx, ny = config.imsize
    n_vis = sum(ds.sizes["row"] * ds.sizes["chan"] for ds in datasets)
    n_rows = sum(ds.sizes["row"] for ds in datasets)
    side = good_grid_size((config.padding or min(AUTO_PADDINGS)) * max(nx, ny))
    grid = 8 * side * side
    image = 8 * nx * ny
    density = config.accumulators * image if config.weighting != "natural" else 0
    return MemoryEstimate(visibilities=bytes_per_visibility(config) * n_vis + 32 * n_rows,
                          grids=(config.accumulators + 1 + pointing_groups) * grid,
                          images=max(density, (1 + client_images) * image))


def estimate_device_memory(datasets: list[xr.Dataset], config: ImagingConfig, *,
                           cached: bool = False, pointing_groups: int = 1
                           ) -> MemoryEstimate:  # fmt: skip
    """Lower bound of the device memory of imaging ``datasets`` on a GPU (the device memory
    model of :mod:`vlassdask.imaging.backend_cuda`), from their sizes only.

    * visibilities: the prepared blocks, :func:`bytes_per_visibility` (with a block cache
      (``cached``), only the blocks in flight: one row chunk per accumulator);
    * grids: ``accumulators`` complex64 grids, one FFT grid and one model grid per pointing
      group, of side ``G = good_size(padding x max(nx, ny))``;
    * images: the float64 image a graph accumulates and the grid-corrected model.
    """
    nx, ny = config.imsize
    n_vis = sum(ds.sizes["row"] * ds.sizes["chan"] for ds in datasets)
    if cached:
        chans = max((ds.sizes["chan"] for ds in datasets), default=0)
        n_vis = min(n_vis, config.accumulators * config.row_chunks * chans)
    side = good_grid_size((config.padding or min(AUTO_PADDINGS)) * max(nx, ny))
    return MemoryEstimate(visibilities=bytes_per_visibility(config) * n_vis,
                          grids=(config.accumulators + 1 + pointing_groups) * 8 * side**2,
                          images=2 * 8 * nx * ny)


def check_memory(estimate: MemoryEstimate, available: int, *, what: str,
                 where: str = "the workers have") -> None:  # fmt: skip
    """Refuse a job whose estimate exceeds the memory available to the workers (or, with
    ``where="the device has"``, to a device).

    Raises
    ------
    InputError
        With the estimate, its parts and the memory available.
    """
    if estimate.total > available:
        raise InputError(f"{what} needs at least {estimate.describe()} of memory, but "
                         f"{where} {_gib(available)} available: use a smaller image, "
                         "larger cells or a machine (cluster) with more memory")
