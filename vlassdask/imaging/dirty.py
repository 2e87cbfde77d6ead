"""Dirty image and point-spread function from Measurement Set datasets, as a dask graph.

Flow: a first, small computation reads only flags, weights, UVW and TIME of every row chunk
and reduces their summaries (counts, max |w|, mean time) and, for uniform/Briggs weighting, the
weight-density grid; these fix the gridding plan and the Briggs constant. The image graph then
makes each row chunk a *prepared block* (Stokes I weighted visibilities, each field's rows
re-phased to the image centre, imaging-weighted and gathered in gridding order) and grids the
blocks layer by layer:

* for each w-layer, the blocks are split into ``accumulators`` chains; each chain grids its blocks
  one after the other into one (G, G) grid (two with the first-order Fresnel correction;
  per-worker accumulation, no grid per chunk);
* the chain grids are summed, FFT'd in place and added (w-phased, real part) to the image;
* the first task of each layer depends on the image of the previous layer, so layers run one after
  another and at most ``accumulators + 1`` grids exist at any time.

Peak memory: ``accumulators x (G^2 x 8 bytes [complex64 grid] + one row chunk)`` + one grid for
the FFT + two (nx, ny) float64 images + the prepared blocks (~60 bytes per visibility: the graph
keeps them, gathered in gridding order, while the layers are gridded; w-layered images read each
block once, not once per layer). The PSF graph starts only after the dirty image is finished.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import NamedTuple

import dask
import dask.array as da
import numpy as np
import xarray as xr

from vlassdask.errors import InputError
from vlassdask.imaging.config import ImagingConfig
from vlassdask.imaging.operator import (
    add_layer_to_image,
    apply_grid_correction,
    grid_layer,
    sort_for_plan,
)
from vlassdask.imaging.visibilities import (
    parallel_hand_indices,
    rotate_phase_center,
    rotate_uvw,
    stokes_i_block,
    stokes_i_weights,
)
from vlassdask.imaging.weighting import WeightingScheme, add_density, imaging_weight_factors
from vlassdask.imaging.wplan import GridPlan, plan_gridding
from vlassdask.kernels.constants import SPEED_OF_LIGHT
from vlassdask.kernels.ordering import SortedVisibilities


class Block(NamedTuple):
    """Prepared visibilities of one row chunk (Stokes I, re-phased)."""

    uvw: np.ndarray  # float64 (row, 3) metres
    freq: np.ndarray  # float64 (chan,) Hz
    vis: np.ndarray  # complex64 (row, chan): w1 V1 + w2 V2
    wsum: np.ndarray  # float32 (row, chan): w1 + w2


class Meta(NamedTuple):
    """Weights and geometry of one row chunk (no visibilities read): the first pass."""

    uvw: np.ndarray  # float64 (row, 3) metres, re-phased
    freq: np.ndarray  # float64 (chan,) Hz
    wsum: np.ndarray  # float32 (row, chan): w1 + w2, zero where unusable
    counts: np.ndarray  # int64 [total, unflagged, zero weight]
    time: np.ndarray  # float64 (row,) MJD seconds


class Summary(NamedTuple):
    """Reducible statistics of the prepared visibilities."""

    counts: np.ndarray  # int64 [total, unflagged, zero weight]
    w_max: float  # wavelengths
    time_sum: float  # MJD seconds, summed over rows
    n_rows: int
    weight_sum: float
    weighted_freq: float  # sum wsum * freq


@dataclass
class DirtyImage:
    """Result of :func:`make_dirty_image`: lazy images plus what was measured to make them.

    Attributes
    ----------
    dirty, psf
        dask arrays float32 (nx, ny), indexed [x, y] (l decreasing along x); psf may be None.
    totals
        dask Delayed (sum of the imaging weights of all gridded visibilities, number of
        visibilities off the grid); see :meth:`compute_totals` and :attr:`sum_of_weights`.
    grid_correction
        (psi_l (nx,), psi_m (ny,)): the anti-aliasing correction the images were divided by.
    plan
        The gridding plan used.
    phase_center_rad
        Image centre (RA, Dec).
    frequency_hz, time_mjd
        Weighted mean frequency and mean time (MJD days) of the data.
    counts
        total, unflagged, zero_weight and (after :meth:`compute_totals`) off_grid (baselines too
        long for the cell size: not gridded and not counted in the weights) visibilities.
    """

    dirty: da.Array
    psf: da.Array | None
    totals: object
    grid_correction: tuple[np.ndarray, np.ndarray]
    plan: GridPlan
    phase_center_rad: tuple[float, float]
    frequency_hz: float
    time_mjd: float
    counts: dict[str, int] = field(default_factory=dict)
    _totals_value: tuple[float, int] | None = None

    def compute_totals(self) -> tuple[float, int]:
        """(sum of weights, visibilities off the grid), computed once; also sets
        ``counts["off_grid"]``. Cheap after the images were persisted together with
        :attr:`totals` (as :func:`vlassdask.products.dirty.make_dirty_product` does)."""
        if self._totals_value is None:
            (totals,) = dask.compute(self.totals)
            self._totals_value = (float(totals[0]), int(totals[1]))
            self.counts["off_grid"] = self._totals_value[1]
        return self._totals_value

    @property
    def sum_of_weights(self) -> float:
        """Sum of the imaging weights of all gridded visibilities (both hands)."""
        return self.compute_totals()[0]


def image_phase_center(datasets: list[xr.Dataset]) -> tuple[float, float]:
    """Centre of the selected fields' phase centres (mean direction), in radians."""
    ds = datasets[0]
    centers = np.asarray(ds.attrs["field_phase_centers_rad"], dtype=np.float64)
    ra, dec = centers[list(ds.attrs["field_ids"])].T
    x, y, z = (np.cos(dec) * np.cos(ra)).mean(), (np.cos(dec) * np.sin(ra)).mean(), \
        np.sin(dec).mean()
    return float(math.atan2(y, x) % (2 * math.pi)), float(math.atan2(z, math.hypot(x, y)))


def _by_field(field_id: np.ndarray):
    """(field, rows) for each field in a chunk; rows is a slice when the chunk has one field."""
    fields = np.unique(field_id)
    if fields.size == 1:
        return [(int(fields[0]), slice(None))]
    return [(int(f), field_id == f) for f in fields]


def _prepare(data, flag, weight, flag_row, uvw, field_id, freq, hands, centers, new,
             spw) -> Block:
    uvw = np.asarray(uvw, dtype=np.float64)
    out_uvw = np.empty_like(uvw)
    vis = np.empty(flag.shape[:2], dtype=np.complex64)
    wsum = np.empty(flag.shape[:2], dtype=np.float32)
    for f, rows in _by_field(field_id):
        v, w, _ = stokes_i_block(data[rows], flag[rows], weight[rows],
                                 None if flag_row is None else flag_row[rows], hands=hands,
                                 label=f"(field {f}, spw {spw})")
        out_uvw[rows], vis[rows] = rotate_phase_center(uvw[rows], v, freq, tuple(centers[f]), new)
        wsum[rows] = w
    return Block(out_uvw, freq, vis, wsum)


def _meta(flag, weight, flag_row, uvw, time, field_id, freq, hands, centers, new, spw) -> Meta:
    uvw = np.asarray(uvw, dtype=np.float64)
    out_uvw = np.empty_like(uvw)
    wsum = np.empty(flag.shape[:2], dtype=np.float32)
    counts = np.zeros(3, dtype=np.int64)
    for f, rows in _by_field(field_id):
        wsum[rows], c = stokes_i_weights(flag[rows], weight[rows],
                                         None if flag_row is None else flag_row[rows],
                                         hands=hands, label=f"(field {f}, spw {spw})")
        out_uvw[rows] = rotate_uvw(uvw[rows], tuple(centers[f]), new)
        counts += c
    return Meta(out_uvw, freq, wsum, counts, np.asarray(time, dtype=np.float64))


def _summarise(meta: Meta) -> Summary:
    rows = (meta.wsum > 0).any(axis=1)
    scale = meta.freq.max() / SPEED_OF_LIGHT
    w_max = float(np.abs(meta.uvw[rows, 2]).max() * scale) if rows.any() else 0.0
    return Summary(meta.counts, w_max, float(np.sum(meta.time)), int(meta.time.size),
                   float(meta.wsum.sum(dtype=np.float64)),
                   float((meta.wsum * meta.freq[None, :]).sum(dtype=np.float64)))


def _merge(*parts: Summary) -> Summary:
    return Summary(
        np.sum([p.counts for p in parts], axis=0),
        max(p.w_max for p in parts),
        sum(p.time_sum for p in parts),
        sum(p.n_rows for p in parts),
        sum(p.weight_sum for p in parts),
        sum(p.weighted_freq for p in parts),
    )


def _tree(items: list, combine, split_every: int = 8):
    """Tree reduction of delayed ``items`` with ``combine(*children)``."""
    level = list(items)
    while len(level) > 1:
        level = [dask.delayed(combine)(*level[i : i + split_every])
                 for i in range(0, len(level), split_every)]
    return level[0]


def _chains(items: list, n: int) -> list[list]:
    n = max(1, min(n, len(items)))
    size = math.ceil(len(items) / n)
    return [items[i : i + size] for i in range(0, len(items), size)]


def _density_step(acc, meta: Meta, scheme: WeightingScheme, _after=None):
    return add_density(acc, meta.uvw, meta.freq, meta.wsum, scheme)


def _sum_arrays(*arrays):
    present = [a for a in arrays if a is not None]
    if not present:
        return None
    total = present[0]
    for a in present[1:]:
        total += a
    return total


def _blocks_of(datasets: list[xr.Dataset], config: ImagingConfig, weight_column: str,
               center: tuple[float, float]) -> tuple[list, list]:
    """Delayed per-chunk first-pass metadata (no DATA read) and prepared blocks (with DATA)."""
    metas, blocks = [], []
    for ds in datasets:
        hands = parallel_hand_indices(list(ds.attrs["corr_types"]))
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
        for k in range(len(uvw)):
            metas.append(dask.delayed(_meta)(flag[k], weight[k], flag_row[k], uvw[k], time[k],
                                             field_id[k], freq, hands, centers, center, spw))
            blocks.append(dask.delayed(_prepare)(data[k], flag[k], weight[k], flag_row[k],
                                                 uvw[k], field_id[k], freq, hands, centers,
                                                 center, spw))
    return metas, blocks


def _check_summary(summary: Summary) -> None:
    total, unflagged, zero = (int(c) for c in summary.counts)
    if total == 0:
        raise InputError("the selection contains no visibilities")
    if unflagged == 0:
        raise InputError(f"all {total} visibilities are flagged: nothing to image")
    if zero == unflagged or summary.weight_sum <= 0:
        raise InputError(f"all {unflagged} unflagged visibilities have zero weight")


class Weighted(NamedTuple):
    """Imaging-weighted visibilities of one block, gathered in gridding order."""

    sorted: SortedVisibilities  # values: (weighted Stokes I, imaging weights), complex64
    sumwt: float
    n_off_grid: int


def _weight(block: Block, density, scheme: WeightingScheme, f2: float, plan: GridPlan):
    fac = imaging_weight_factors(block.uvw, block.freq, block.wsum, density, scheme, f2)
    off = plan.off_grid(block.uvw, block.freq) & (block.wsum > 0)
    fac[off] = 0.0
    psf = (block.wsum * fac).astype(np.complex64)
    vis = (block.vis * fac).astype(np.complex64)
    gathered = sort_for_plan(block.uvw, block.freq, (vis, psf), plan, mask=psf != 0)
    return Weighted(gathered, float(np.sum(psf.real, dtype=np.float64)), int(off.sum()))


def _grid_step(acc, wb: Weighted, plan: GridPlan, layer: int, psf: bool, _after=None):
    acc, _ = grid_layer(wb.sorted, 1 if psf else 0, plan, layer, acc)
    return acc


def _add_layer(image, grid, plan: GridPlan, layer: int, threads: int):
    if image is None:
        image = np.zeros((plan.nx, plan.ny), dtype=np.float64)
    if grid is not None:
        add_layer_to_image(image, grid, plan, layer, nthreads=threads)
    return image


def _finish(image, plan: GridPlan, totals: tuple[float, int]) -> np.ndarray:
    sumwt = totals[0]
    if sumwt <= 0:
        raise InputError("the imaging weights sum to zero (all data off the grid, tapered or "
                         "weighted out: check --cell)")
    if image is None:
        image = np.zeros((plan.nx, plan.ny), dtype=np.float64)
    return (apply_grid_correction(image, plan) / sumwt).astype(np.float32)


def _accumulate_in_chains(items: list, step, n_chains: int, *args, after=None):
    """Delayed sum over ``items`` of ``step(acc, item, *args, after)``.

    The items are split into ``n_chains`` chains; each chain folds its items into one accumulator
    in turn (per-worker accumulation: never one array per item). ``after`` is passed to the first
    step of each chain only, so the chains start once it is computed.
    """
    accs = []
    for chain in _chains(items, n_chains):
        acc = None
        for i, item in enumerate(chain):
            acc = dask.delayed(step)(acc, item, *args, after if i == 0 else None)
        accs.append(acc)
    return dask.delayed(_sum_arrays)(*accs)


def _image_graph(weighted: list, plan, plan_d, totals, config: ImagingConfig, psf: bool, after):
    image = None
    for layer in range(plan.n_layers):
        grid = _accumulate_in_chains(weighted, _grid_step, config.accumulators, plan_d, layer,
                                     psf, after=after)
        image = dask.delayed(_add_layer)(image, grid, plan_d, layer, config.fft_threads)
        after = image
    return dask.delayed(_finish)(image, plan_d, totals)


def make_dirty_image(
    datasets: list[xr.Dataset], config: ImagingConfig, *, weight_column: str = "WEIGHT"
) -> DirtyImage:
    """Dirty image (and PSF) of visibility datasets as lazy dask arrays.

    Parameters
    ----------
    datasets
        dask-ms datasets (one per spectral window) with a per-row FIELD_ID, ``chan_freq``
        coordinates and ``field_phase_centers_rad``/``field_ids``/``corr_types`` attrs (as
        :func:`vlassdask.io.ms_read.open_measurement_set` returns them).
    config
        Imaging parameters.
    weight_column
        WEIGHT_SPECTRUM or WEIGHT.

    Returns
    -------
    DirtyImage
        Lazy dirty image and PSF (normalised by the sum of weights; the PSF peaks at 1).

    Raises
    ------
    InputError
        No visibilities, everything flagged, all weights zero, NaN data (when computed).

    Notes
    -----
    The data summary (and the weight density for uniform/Briggs) is computed eagerly with the
    current dask scheduler; the image graph is returned lazily. See the module docstring for the
    peak memory model.
    """
    if config.phase_center_deg is not None:
        center = tuple(math.radians(v) for v in config.phase_center_deg)
    else:
        center = image_phase_center(datasets)
    nx, ny = config.imsize
    scheme = WeightingScheme(config.weighting, config.robust, config.taper_arcsec, (nx, ny),
                             config.cell_rad)
    metas, blocks = _blocks_of(datasets, config, weight_column, center)
    summary_d = _tree([dask.delayed(_summarise)(m) for m in metas], _merge)
    density_d = _accumulate_in_chains(metas, _density_step, config.accumulators, scheme) \
        if scheme.needs_density else None
    summary, density = dask.compute(summary_d, density_d)
    _check_summary(summary)
    f2 = scheme.briggs_f2(density, summary.weight_sum) if density is not None else 0.0
    plan = plan_gridding(nx, ny, config.cell_rad, summary.w_max, epsilon=config.epsilon,
                         padding=config.padding, gridder=config.effective_gridder,
                         n_layers=config.w_layers, support=config.support,
                         n_vis=int(summary.counts[1]), w_planes=config.w_planes)
    plan_d = _shared(plan)
    density_key = _shared(density) if density is not None else None
    weighted = [dask.delayed(_weight)(b, density_key, scheme, f2, plan_d) for b in blocks]
    totals_d = _tree([dask.delayed(_totals_of)(w) for w in weighted], _add_pairs)
    dirty_d = _image_graph(weighted, plan, plan_d, totals_d, config, psf=False, after=None)
    psf_d = _image_graph(weighted, plan, plan_d, totals_d, config, psf=True, after=dirty_d) \
        if config.make_psf else None
    shape = (nx, ny)
    return DirtyImage(
        dirty=da.from_delayed(dirty_d, shape, dtype=np.float32),
        psf=da.from_delayed(psf_d, shape, dtype=np.float32) if psf_d is not None else None,
        totals=totals_d,
        grid_correction=plan.grid_correction(),
        plan=plan,
        phase_center_rad=(float(center[0]), float(center[1])),
        frequency_hz=summary.weighted_freq / summary.weight_sum,
        time_mjd=summary.time_sum / max(summary.n_rows, 1) / 86400.0,
        counts={"total": int(summary.counts[0]), "unflagged": int(summary.counts[1]),
                "zero_weight": int(summary.counts[2])},
    )


def _shared(obj):
    """``obj`` as one graph input: scattered to the workers when a distributed client is active
    (kernel tables and density grids are megabytes; they should not travel inside the graph)."""
    try:
        from distributed import get_client

        client = get_client()
    except (ImportError, ValueError):
        return dask.delayed(obj, pure=True)
    return client.scatter(obj, broadcast=True, hash=False)


def _totals_of(weighted: Weighted) -> tuple[float, int]:
    return weighted.sumwt, weighted.n_off_grid


def _add_pairs(*pairs: tuple[float, int]) -> tuple[float, int]:
    return float(sum(p[0] for p in pairs)), int(sum(p[1] for p in pairs))
