"""Dirty image and point-spread function from Measurement Set datasets: a thin use of the
imaging operator (:class:`vlassdask.imaging.imaging_operator.ImagingOperator`).

Peak memory: the operator's persisted blocks (48 bytes per gridded visibility) plus one image
graph (see :mod:`vlassdask.imaging.imaging_operator`); the PSF graph starts after the dirty
image is finished.
"""

from __future__ import annotations

from dataclasses import dataclass

import dask.array as da
import numpy as np
import xarray as xr

from vlassdask.imaging.config import ImagingConfig
from vlassdask.imaging.imaging_operator import BlockCache, ImagingOperator
from vlassdask.imaging.wplan import GridPlan


@dataclass
class DirtyImage:
    """Result of :func:`make_dirty_image`: lazy images and the operator that made them.

    Attributes
    ----------
    dirty, psf
        dask arrays float32 (nx, ny), indexed [x, y] (l decreasing along x); psf may be None.
    operator
        The imaging operator (prepared visibilities persisted on the workers): call its
        ``residual``/``predict`` to continue, e.g. with CLEAN.
    """

    dirty: da.Array
    psf: da.Array | None
    operator: ImagingOperator

    @property
    def plan(self) -> GridPlan:
        """The gridding plan used."""
        return self.operator.plan

    @property
    def grid_correction(self) -> tuple[np.ndarray, np.ndarray]:
        """(psi_l (nx,), psi_m (ny,)): the anti-aliasing correction the images were divided by."""
        return self.operator.plan.grid_correction()

    @property
    def phase_center_rad(self) -> tuple[float, float]:
        """Image centre (RA, Dec), radians."""
        return self.operator.phase_center_rad

    @property
    def frequency_hz(self) -> float:
        """Weighted mean frequency of the data."""
        return self.operator.frequency_hz

    @property
    def time_mjd(self) -> float:
        """Mean observing time, MJD days."""
        return self.operator.time_mjd

    @property
    def counts(self) -> dict[str, int]:
        """total, unflagged, zero_weight, off_grid (baselines too long for the cell size: not
        gridded and not counted in the weights) and gridded visibilities."""
        return self.operator.counts

    @property
    def sum_of_weights(self) -> float:
        """Sum of the imaging weights of all gridded visibilities (both hands)."""
        return self.operator.sum_of_weights


def make_dirty_image(
    datasets: list[xr.Dataset], config: ImagingConfig, *, weight_column: str = "WEIGHT",
    cache: BlockCache | None = None,
) -> DirtyImage:
    """Dirty image (and PSF) of visibility datasets as lazy dask arrays.

    Parameters
    ----------
    datasets
        dask-ms datasets (as :func:`vlassdask.io.ms_read.open_measurement_set` returns them).
    config
        Imaging parameters.
    weight_column
        WEIGHT_SPECTRUM or WEIGHT.
    cache
        Keep the prepared blocks in this cache instead of worker memory.

    Returns
    -------
    DirtyImage
        Lazy dirty image and PSF (normalised by the sum of weights; the PSF peaks at 1).

    Raises
    ------
    InputError
        No visibilities, everything flagged, all weights zero, NaN data.

    Notes
    -----
    The first pass and the prepared blocks are computed eagerly with the current dask scheduler
    (:meth:`ImagingOperator.build`); the image graphs are returned lazily.
    """
    operator = ImagingOperator.build(datasets, config, weight_column=weight_column, cache=cache)
    psf = operator.psf()[0] if config.make_psf else None
    return DirtyImage(dirty=operator.dirty(), psf=psf, operator=operator)
