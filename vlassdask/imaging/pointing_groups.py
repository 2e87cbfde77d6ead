"""Pointing groups of a mosaic: runs of fields observed one after another.

An on-the-fly raster's fields along one row are seconds apart, so they share one uv coverage and
PSF; the next row is observed later, with another. The major cycles of an image-plane mosaic
predict each pointing group from the model through the group's own mosaic beam
(:meth:`vlassdask.imaging.imaging_operator.ImagingOperator.with_model_weights`): within a group
the fields' PSFs are the same, so the prediction matches the dirty image's response to a source
seen by those fields through their own primary beams, and CLEAN reaches far below the ~1-3%
residual floor that one beam for all fields leaves (docs/quicklook.md, "Accuracy").

:func:`field_mean_times` is a small lazy reduction over the TIME and FIELD_ID columns;
:func:`pointing_groups` cuts the fields, in time order, where the pointing jumps (a new row) or
the observation pauses, and merges neighbouring runs down to at most ``max_groups`` (each group
costs one model FFT per spectral-window group, w-layer and major cycle).
"""

from __future__ import annotations

import dask.array as da
import numpy as np
import xarray as xr

from vlassdask.imaging.primary_beam import angular_distance

#: A step between time-consecutive fields longer than this many times the median step (in angle
#: or in time) starts a new run.
JUMP_FACTOR = 1.5


def field_mean_times(datasets: list[xr.Dataset]) -> da.Array:
    """Mean TIME of each FIELD row's visibility rows (NaN for fields without rows), lazily.

    Parameters
    ----------
    datasets
        dask-ms datasets with TIME and FIELD_ID columns and a ``field_phase_centers_rad`` attr
        (:func:`vlassdask.io.ms_read.open_measurement_set`).

    Returns
    -------
    dask.array.Array
        float64 (n_fields,), MJD seconds; one bincount per row chunk.
    """
    n_fields = len(datasets[0].attrs["field_phase_centers_rad"])
    sums = counts = 0
    for ds in datasets:
        field_id = ds.FIELD_ID.data.astype(np.int64)
        sums = sums + da.bincount(field_id, weights=ds.TIME.data, minlength=n_fields)
        counts = counts + da.bincount(field_id, minlength=n_fields)
    return da.where(counts > 0, sums / da.maximum(counts, 1), np.nan)


def pointing_groups(field_ids, mean_times, centers_rad, max_groups: int) -> list[list[int]]:
    """The fields cut into at most ``max_groups`` runs observed one after another.

    Parameters
    ----------
    field_ids
        The FIELD_IDs to group.
    mean_times
        Mean observing time of every FIELD row (:func:`field_mean_times`), indexed by FIELD_ID.
    centers_rad
        (n_fields, 2) pointing (RA, Dec) of every FIELD row, radians.
    max_groups
        Most groups to return (>= 1).

    Returns
    -------
    list of list of int
        FIELD_IDs of each group, groups and fields in time order. Runs start where the angle or
        the time to the previous field exceeds :data:`JUMP_FACTOR` times its median; more runs
        than ``max_groups`` are merged with their neighbours into groups of about equal numbers
        of fields.
    """
    if max_groups < 1:
        raise ValueError(f"max_groups must be >= 1, got {max_groups}")
    fields = np.asarray(field_ids, dtype=np.int64)
    times = np.asarray(mean_times, dtype=np.float64)[fields]
    fields = fields[np.argsort(times, kind="stable")]
    if fields.size < 2 or max_groups == 1:
        return [fields.tolist()]
    ra, dec = np.asarray(centers_rad, dtype=np.float64)[fields].T
    angle = angular_distance(ra[1:], dec[1:], ra[:-1], dec[:-1])
    gap = np.diff(np.sort(times))
    new_run = (angle > JUMP_FACTOR * np.median(angle)) | (gap > JUMP_FACTOR * np.median(gap))
    runs = np.split(fields, np.flatnonzero(new_run) + 1)
    if len(runs) <= max_groups:
        return [r.tolist() for r in runs]
    sizes = np.array([r.size for r in runs])
    middle = np.cumsum(sizes) - sizes / 2.0
    label = np.minimum((middle * max_groups / fields.size).astype(np.int64), max_groups - 1)
    return [np.concatenate([r for r, k in zip(runs, label, strict=True) if k == g]).tolist()
            for g in np.unique(label)]
