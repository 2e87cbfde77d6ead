"""Per-chunk preparation of Measurement Set datasets for imaging, and the first pass.

Each dask-ms row chunk becomes, lazily,

* a :class:`Meta` (flags, weights, UVW and TIME only; no DATA read): the *first pass*, whose
  reduced :class:`Summary` (counts, max |w|, mean time, weight totals) and, for uniform/Briggs,
  weight-density grid fix the gridding plan and the Briggs constant;
* a :class:`Block` (weighted visibilities of the configured Stokes parameters, each field's
  rows re-phased to the image centre, with ``ImagingConfig.w_reference == "field"`` keeping
  each field's own w-term), which
  :func:`weight_block` turns into a :class:`Weighted` block: imaging-weighted and gathered in
  gridding order, what the imaging operator keeps on the workers.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import dask
import numpy as np
import xarray as xr

from vlassdask.errors import InputError
from vlassdask.imaging.config import ImagingConfig
from vlassdask.imaging.operator import sort_for_plan
from vlassdask.imaging.visibilities import (
    rotate_phase_center,
    rotate_uvw,
    stokes_block,
    stokes_recipes,
    stokes_weights,
    to_field_relative_w,
)
from vlassdask.imaging.weighting import WeightingScheme, imaging_weight_factors
from vlassdask.imaging.wplan import GridPlan
from vlassdask.kernels.constants import SPEED_OF_LIGHT
from vlassdask.kernels.ordering import SortedVisibilities


class Block(NamedTuple):
    """Prepared visibilities of one row chunk (Stokes parameters, re-phased)."""

    uvw: np.ndarray  # float64 (row, 3) metres, about the image centre
    freq: np.ndarray  # float64 (chan,) Hz
    vis: np.ndarray  # complex64 (stokes, row, chan): wsum x S_k (Stokes I: w1 V1 + w2 V2)
    wsum: np.ndarray  # float32 (row, chan): w1 + w2 of the first Stokes parameter
    field_id: np.ndarray  # int (row,) FIELD_ID
    w_field: np.ndarray | None = None  # float64 (row,) field-frame w (w_reference "field")


class Meta(NamedTuple):
    """Weights and geometry of one row chunk (no visibilities read): the first pass."""

    uvw: np.ndarray  # float64 (row, 3) metres, re-phased
    freq: np.ndarray  # float64 (chan,) Hz
    wsum: np.ndarray  # float32 (row, chan): w1 + w2, zero where unusable
    counts: np.ndarray  # int64 [total, unflagged, zero weight, non-finite uvw]
    time: np.ndarray  # float64 (row,) MJD seconds


class Summary(NamedTuple):
    """Reducible statistics of the prepared visibilities."""

    counts: np.ndarray  # int64 [total, unflagged, zero weight, non-finite uvw]
    w_max: float  # wavelengths
    time_sum: float  # MJD seconds, summed over rows
    n_rows: int
    weight_sum: float
    weighted_freq: float  # sum wsum * freq


class Weighted(NamedTuple):
    """Imaging-weighted visibilities of one block, gathered in gridding order.

    ``sorted.values`` are (weighted visibilities of the first Stokes parameter, imaging
    weights, weighted visibilities of the other Stokes parameters...), complex64 (see
    :func:`values_index`). ``uvw``, ``freq``, ``field_id`` and ``w_field`` (field-frame w, only
    with ``w_reference == "field"``) describe the block's rows (for predicting model
    visibilities back to them). Memory: 48 bytes per gridded visibility (positions and w 24,
    two values 16, index 8) and 8 more per further Stokes parameter, plus 32 bytes per row (40
    with ``w_field``).
    """

    sorted: SortedVisibilities
    sumwt: float
    n_off_grid: int
    uvw: np.ndarray
    freq: np.ndarray
    field_id: np.ndarray
    w_field: np.ndarray | None = None


def image_phase_center(datasets: list[xr.Dataset]) -> tuple[float, float]:
    """Centre of the selected fields' phase centres (mean direction), in radians."""
    ds = datasets[0]
    centers = np.asarray(ds.attrs["field_phase_centers_rad"], dtype=np.float64)
    ra, dec = centers[list(ds.attrs["field_ids"])].T
    x, y, z = (np.cos(dec) * np.cos(ra)).mean(), (np.cos(dec) * np.sin(ra)).mean(), \
        np.sin(dec).mean()
    return float(math.atan2(y, x) % (2 * math.pi)), float(math.atan2(z, math.hypot(x, y)))


def rows_by_field(field_id: np.ndarray):
    """(field, rows) for each field in a chunk; rows is a slice when the chunk has one field."""
    fields = np.unique(field_id)
    if fields.size == 1:
        return [(int(fields[0]), slice(None))]
    return [(int(f), field_id == f) for f in fields]


def _usable_rows(uvw, flag_row):
    """UVW with non-finite rows zeroed, and the row flags with those rows flagged: a row whose
    UVW is NaN or infinite is unusable data, excluded (and counted) like a flagged row."""
    uvw = np.asarray(uvw, dtype=np.float64)
    bad = ~np.isfinite(uvw).all(axis=1)
    if not bad.any():
        return uvw, flag_row, 0
    uvw = np.where(bad[:, None], 0.0, uvw)
    flag_row = bad if flag_row is None else (np.asarray(flag_row) | bad)
    return uvw, flag_row, int(bad.sum())


def _rephased(uvw, vis, freq, old, new, field_relative: bool):
    """uvw (and vis, unless None) about the image centre ``new``
    (:func:`rotate_phase_center`, or :func:`to_field_relative_w` keeping the field's w)."""
    if field_relative:
        return to_field_relative_w(uvw, vis, freq, old, new)
    if vis is None:
        return rotate_uvw(uvw, old, new), None
    return rotate_phase_center(uvw, vis, freq, old, new)


def _prepare(data, flag, weight, flag_row, uvw, field_id, freq, recipes, centers, new,
             spw, field_relative=False) -> Block:
    uvw, flag_row, _ = _usable_rows(uvw, flag_row)
    out_uvw = np.empty_like(uvw)
    vis = np.empty((len(recipes),) + flag.shape[:2], dtype=np.complex64)
    wsum = np.empty(flag.shape[:2], dtype=np.float32)
    for f, rows in rows_by_field(field_id):
        v, w, _ = stokes_block(data[rows], flag[rows], weight[rows],
                               None if flag_row is None else flag_row[rows], recipes=recipes,
                               label=f"(field {f}, spw {spw})")
        out_uvw[rows], vis[:, rows] = _rephased(uvw[rows], v, freq, tuple(centers[f]), new,
                                                field_relative)
        wsum[rows] = w
    return Block(out_uvw, freq, vis, wsum, np.asarray(field_id),
                 uvw[:, 2].copy() if field_relative else None)


def _meta(flag, weight, flag_row, uvw, time, field_id, freq, recipes, centers, new, spw,
          field_relative=False) -> Meta:
    uvw, flag_row, bad_rows = _usable_rows(uvw, flag_row)
    out_uvw = np.empty_like(uvw)
    wsum = np.empty(flag.shape[:2], dtype=np.float32)
    counts = np.zeros(4, dtype=np.int64)
    counts[3] = bad_rows * flag.shape[1]
    for f, rows in rows_by_field(field_id):
        wsum[rows], c = stokes_weights(flag[rows], weight[rows],
                                       None if flag_row is None else flag_row[rows],
                                       recipes=recipes, label=f"(field {f}, spw {spw})")
        out_uvw[rows], _ = _rephased(uvw[rows], None, freq, tuple(centers[f]), new,
                                     field_relative)
        counts[:3] += c
    return Meta(out_uvw, freq, wsum, counts, np.asarray(time, dtype=np.float64))


def summarise(meta: Meta) -> Summary:
    """The reducible statistics of one chunk's first pass."""
    rows = (meta.wsum > 0).any(axis=1)
    scale = meta.freq.max() / SPEED_OF_LIGHT
    w_max = float(np.abs(meta.uvw[rows, 2]).max() * scale) if rows.any() else 0.0
    return Summary(meta.counts, w_max, float(np.sum(meta.time)), int(meta.time.size),
                   float(meta.wsum.sum(dtype=np.float64)),
                   float((meta.wsum * meta.freq[None, :]).sum(dtype=np.float64)))


def merge_summaries(*parts: Summary) -> Summary:
    """Combine chunk summaries (tree-reduction step)."""
    return Summary(
        np.sum([p.counts for p in parts], axis=0),
        max(p.w_max for p in parts),
        sum(p.time_sum for p in parts),
        sum(p.n_rows for p in parts),
        sum(p.weight_sum for p in parts),
        sum(p.weighted_freq for p in parts),
    )


def chunk_tasks(datasets: list[xr.Dataset], config: ImagingConfig, weight_column: str,
                center: tuple[float, float]) -> tuple[list, list]:
    """Delayed per-chunk first-pass metadata (no DATA read) and prepared blocks (with DATA),
    one of each per row chunk of every dataset, in dataset and row order."""
    metas, blocks = [], []
    for ds in datasets:
        recipes = stokes_recipes(config.stokes, list(ds.attrs["corr_types"]))
        freq = np.asarray(ds.chan_freq.values, dtype=np.float64)
        centers = np.asarray(ds.attrs["field_phase_centers_rad"], dtype=np.float64)
        spw = ds.attrs.get("spw_id", "?")
        data, flag, weight = [p.rechunk({i: -1 for i in range(1, p.ndim)}).to_delayed()
                              .reshape(-1) for p in (ds[config.data_column].data, ds.FLAG.data,
                                                     ds[weight_column].data)]
        uvw = ds.UVW.data.rechunk({1: -1}).to_delayed().reshape(-1)
        time = ds.TIME.data.to_delayed().reshape(-1)
        field_id = ds.FIELD_ID.data.to_delayed().reshape(-1)
        flag_row = ds.FLAG_ROW.data.to_delayed().reshape(-1) if "FLAG_ROW" in ds else \
            [None] * len(uvw)
        field_relative = config.w_reference == "field"
        for k in range(len(uvw)):
            metas.append(dask.delayed(_meta)(flag[k], weight[k], flag_row[k], uvw[k], time[k],
                                             field_id[k], freq, recipes, centers, center, spw,
                                             field_relative))
            blocks.append(dask.delayed(_prepare)(data[k], flag[k], weight[k], flag_row[k],
                                                 uvw[k], field_id[k], freq, recipes, centers,
                                                 center, spw, field_relative))
    return metas, blocks


def values_index(stokes_index: int) -> int:
    """Index into ``Weighted.sorted.values`` of the weighted visibilities of the
    ``stokes_index``-th configured Stokes parameter (index 1 holds the imaging weights)."""
    return 0 if stokes_index == 0 else stokes_index + 1


def check_summary(summary: Summary) -> None:
    """Refuse data that cannot make an image (nothing selected, all flagged, zero weights)."""
    total, unflagged, zero, _ = (int(c) for c in summary.counts)
    if total == 0:
        raise InputError("the selection contains no visibilities")
    if unflagged == 0:
        raise InputError(f"all {total} visibilities are flagged: nothing to image")
    if zero == unflagged or summary.weight_sum <= 0:
        raise InputError(f"all {unflagged} unflagged visibilities have zero weight")


def weight_block(block: Block, density, scheme: WeightingScheme, f2: float,
                 plan: GridPlan, group_of_field: np.ndarray | None = None) -> Weighted:
    """Imaging-weight one block and gather it in the gridding order of ``plan``.

    ``group_of_field`` (int, indexed by FIELD_ID) labels each field's pointing group: each
    w-layer's visibilities of a group are then contiguous (``Weighted.sorted.n_groups``).
    """
    fac = imaging_weight_factors(block.uvw, block.freq, block.wsum, density, scheme, f2)
    off = plan.off_grid(block.uvw, block.freq) & (block.wsum > 0)
    fac[off] = 0.0
    psf = (block.wsum * fac).astype(np.complex64)
    vis = (block.vis * fac).astype(np.complex64)
    values = (vis[0], psf, *vis[1:])
    group, n_groups = None, 1
    if group_of_field is not None:
        group, n_groups = group_of_field[block.field_id], int(group_of_field.max()) + 1
    gathered = sort_for_plan(block.uvw, block.freq, values, plan, mask=psf != 0,
                             group=group, n_groups=n_groups)
    return Weighted(gathered, float(np.sum(psf.real, dtype=np.float64)), int(off.sum()),
                    block.uvw, block.freq, block.field_id, block.w_field)
