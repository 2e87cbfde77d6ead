"""The imaging operator: visibilities prepared once, then dirty image, PSF, predict and residual.

:meth:`ImagingOperator.build` runs the first pass (flags, weights and UVW only), fixes the
gridding plan and the imaging weights, and persists the *prepared blocks* (the Stokes
parameters of ``ImagingConfig.stokes``, re-phased, imaging-weighted, gathered in gridding order:
:class:`~vlassdask.imaging.first_pass.Weighted`)
on the workers, or, with a block cache, in a Zarr store the tasks read back. Every later result
is a lazy dask graph over those blocks:

* :meth:`~ImagingOperator.dirty` and :meth:`~ImagingOperator.psf` (any weight moments
  ``((nu - nu_ref) / nu_ref)^k``, for multi-term MFS);
* :meth:`~ImagingOperator.residual`: ``dirty - A^H W A model``; for each w-layer the model grid
  is made once (from the model image, scattered to the workers once per call) and every block
  task degrids, subtracts and grids its visibilities of that layer in one pass (the fused
  kernel :func:`vlassdask.kernels.gridder.grid_residual_visibilities`), so no model
  visibility is ever stored;
* :meth:`~ImagingOperator.predict`: model visibilities of every row chunk, phased back to each
  row's own field centre (what a MODEL_DATA column holds).

The blocks hold every configured Stokes parameter with one set of imaging weights: the
operator images the first; :meth:`~ImagingOperator.for_stokes` gives the same operator imaging
another (a coarse cube prepares each spectral window once for I, Q and U).

Image graphs run the w-layers one after another; within a layer the blocks are folded into
``accumulators`` grids (per-worker accumulation). All array kernels go through the backend seam
(:mod:`vlassdask.imaging.backend`), chosen by the blocks' array type: with a device backend
(``ImagingConfig.device``, :func:`vlassdask.imaging.backend.resolve_backend`) every prepared
block is moved to the device once, when it is prepared (or each time it is read back from a
block cache), and stays there across major cycles; grids and model grids never leave the
device, and only the finished images (and predicted visibilities) come back to the host.

Peak memory
-----------
* persisted blocks: 48 bytes per gridded visibility (8 more per further Stokes parameter) + 32
  bytes per row (see ``Weighted``),
  spread over the workers (:attr:`ImagingOperator.block_bytes`); with a device backend the 48
  bytes per visibility are device memory (checked before the build by
  :func:`vlassdask.imaging.memory.estimate_device_memory`);
* an image graph: ``accumulators x n_grids x G^2 x 8`` bytes (complex64 grids; G = plan.ngrid,
  n_grids = 2 with the first-order Fresnel correction) + one layer FFT grid + for ``residual``
  the model grids of one group of datasets (one per pointing group, :meth:`with_model_weights`;
  the groups of datasets are folded one after another) + two (nx, ny) float64 images;
* ``predict``: the model visibilities of every block (8 bytes per visibility) until they are
  consumed (written), plus the model grids of every model-weight group of one layer.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import dask
import dask.array as da
import numpy as np
import xarray as xr

from vlassdask.errors import InputError
from vlassdask.imaging.backend import NUMPY_BACKEND, Backend, backend_for, resolve_backend
from vlassdask.imaging.config import ImagingConfig
from vlassdask.imaging.first_pass import (
    Weighted,
    check_summary,
    chunk_tasks,
    image_phase_center,
    merge_summaries,
    rows_by_field,
    summarise,
    values_index,
    weight_block,
)
from vlassdask.imaging.graph import (
    accumulate_in_chains,
    persist_delayed,
    shared,
    sum_arrays,
    tree_reduce,
    worker_memory_bytes,
)
from vlassdask.imaging.memory import (
    bytes_per_visibility,
    check_memory,
    estimate_device_memory,
    estimate_imaging_memory,
)
from vlassdask.imaging.mosaic_beam import FieldWeights, merge_field_weights
from vlassdask.imaging.operator import (
    add_layer_to_image,
    apply_grid_correction,
    degrid_layer,
    grid_layer,
    grid_residual_layer,
    layer_span,
    model_layer_grids,
    to_backend,
)
from vlassdask.imaging.primary_beam import angular_distance, vla_primary_beam
from vlassdask.imaging.visibilities import from_field_relative_w, rotate_phase_center
from vlassdask.imaging.weighting import WeightingScheme, add_density
from vlassdask.imaging.wplan import GridPlan, plan_gridding


class BlockCache(Protocol):
    """Where prepared blocks are kept when they should not stay in worker memory.

    ``put`` runs inside the task that prepared a block and returns a small handle; ``get`` runs
    inside every task that needs the block. :class:`vlassdask.io.block_cache.ZarrBlockCache`
    implements it with one Zarr group per block.
    """

    def put(self, key: str, block: Weighted) -> Any: ...

    def get(self, handle: Any) -> Weighted: ...


def _density_step(acc, meta, scheme: WeightingScheme, _after=None):
    return add_density(acc, meta.uvw, meta.freq, meta.wsum, scheme)


def _on_backend(wb: Weighted, backend: Backend) -> Weighted:
    """``wb`` with its gridding-order arrays on ``backend`` (the rows stay on the host)."""
    return wb._replace(sorted=to_backend(wb.sorted, backend))


@dataclass(frozen=True)
class _CacheOnBackend:
    """A :class:`BlockCache` whose blocks are read back onto ``backend``."""

    cache: BlockCache
    backend: Backend

    def put(self, key: str, block: Weighted) -> Any:
        return self.cache.put(key, block)

    def get(self, handle: Any) -> Weighted:
        return _on_backend(self.cache.get(handle), self.backend)


def _prepared(block, density, scheme, f2, plan, cache, key, backend, group_of_field=None):
    weighted = weight_block(block, density, scheme, f2, plan, group_of_field)
    return _on_backend(weighted, backend) if cache is None else cache.put(key, weighted)


def _load(item, cache) -> Weighted:
    return item if cache is None else cache.get(item)


def _totals_of(item, cache) -> tuple[float, int, int]:
    wb = _load(item, cache)
    return wb.sumwt, wb.n_off_grid, int(wb.sorted.pu.shape[0])


def _field_weights_of(item, cache) -> FieldWeights:
    """Imaging weights of one block summed per (field, channel)."""
    wb = _load(item, cache)
    nchan = wb.freq.size
    to_numpy = backend_for(wb.sorted.pu).to_numpy
    index = to_numpy(wb.sorted.index)
    weights = to_numpy(wb.sorted.values[1]).real.astype(np.float64)
    fields, inverse = np.unique(np.asarray(wb.field_id)[index // nchan], return_inverse=True)
    table = np.zeros((fields.size, nchan))
    np.add.at(table, (inverse, index % nchan), weights)
    return FieldWeights(fields.astype(np.int64), np.asarray(wb.freq, dtype=np.float64), table)


def _add_totals(*parts: tuple[float, int, int]) -> tuple[float, int, int]:
    return (float(sum(p[0] for p in parts)), int(sum(p[1] for p in parts)),
            int(sum(p[2] for p in parts)))


def _beam_factors(wb: Weighted, index: np.ndarray, beam_at) -> np.ndarray:
    """The primary beam of each entry's field towards ``beam_at = (field_centers, (ra, dec))``
    at the entry's frequency."""
    centers, (ra, dec) = beam_at
    nchan = wb.freq.shape[0]
    fields = np.asarray(wb.field_id)[index // nchan]
    ra_f, dec_f = np.asarray(centers, dtype=np.float64)[fields].T
    return vla_primary_beam(angular_distance(ra_f, dec_f, ra, dec), wb.freq[index % nchan])


def _moment_values(wb: Weighted, lo: int, hi: int, moment: int, reffreq: float, beam_at=None):
    """Imaging weights times ((nu - nu_ref) / nu_ref)^moment (times the entry's primary beam
    towards a direction, with ``beam_at``), for entries lo:hi."""
    backend = backend_for(wb.sorted.pu)
    values = backend.zeros(wb.sorted.values[1].shape, dtype=wb.sorted.values[1].dtype)
    nchan = wb.freq.shape[0]
    index = backend.to_numpy(wb.sorted.index[lo:hi])
    factor = ((wb.freq[index % nchan] - reffreq) / reffreq) ** moment
    if beam_at is not None:
        factor = factor * _beam_factors(wb, index, beam_at)
    values[lo:hi] = wb.sorted.values[1][lo:hi] * backend.asarray(factor)
    return values


def _grid_step(acc, item, cache, plan: GridPlan, layer: int, which: int, moment: int,
               reffreq: float, beam_at=None, _after=None):
    wb = _load(item, cache)
    if moment == 0 and beam_at is None:
        acc, _ = grid_layer(wb.sorted, which, plan, layer, acc)
    else:
        lo, hi = layer_span(wb.sorted, layer)
        acc, _ = grid_layer(wb.sorted, _moment_values(wb, lo, hi, moment, reffreq, beam_at),
                            plan, layer, acc)
    return acc


def _residual_step(acc, item, cache, plan: GridPlan, layer: int, model_grids, which: int,
                   _after=None):
    """Add the block's residual of ``layer`` (visibilities ``values[which]``): ``model_grids``
    is ``((field group or None, grids), ...)``, each predicting that pointing group's
    visibilities (all for None)."""
    wb = _load(item, cache)
    for group, grids in model_grids:
        acc, _ = grid_residual_layer(wb.sorted, grids, plan, layer, acc, group=group,
                                     which=which)
    return acc


def _model_grids(corrected_model, plan: GridPlan, layer: int, threads: int, _after=None):
    return model_layer_grids(corrected_model, plan, layer, nthreads=threads)


def _add_layer(image, grid, plan: GridPlan, layer: int, threads: int):
    if grid is None:
        return image
    if image is None:
        image = backend_for(grid).zeros((plan.nx, plan.ny), dtype=np.float64)
    return add_layer_to_image(image, grid, plan, layer, nthreads=threads)


def _finish(image, plan: GridPlan, sumwt: float) -> np.ndarray:
    if image is None:
        return np.zeros((plan.nx, plan.ny), dtype=np.float32)
    backend = backend_for(image)
    return backend.to_numpy(apply_grid_correction(image, plan) / sumwt).astype(np.float32)


def _degrid_step(out, item, cache, plan: GridPlan, layer: int, model_grids):
    """Add the block's model visibilities of ``layer`` (``model_grids`` as in
    :func:`_residual_step`) to ``out``."""
    wb = _load(item, cache)
    if out is None:
        out = backend_for(wb.sorted.pu).zeros((wb.uvw.shape[0], wb.freq.shape[0]),
                                              dtype=np.complex64)
    for group, grids in model_grids:
        out = degrid_layer(wb.sorted, grids, plan, layer, out, group=group)
    return out


def _to_field_centers(out, item, cache, centers: np.ndarray, image_center) -> np.ndarray:
    wb = _load(item, cache)
    if out is None:
        out = np.zeros((wb.uvw.shape[0], wb.freq.shape[0]), dtype=np.complex64)
    out = backend_for(out).to_numpy(out)
    for f, rows in rows_by_field(wb.field_id):
        if wb.w_field is None:
            _, out[rows] = rotate_phase_center(wb.uvw[rows], out[rows], wb.freq, image_center,
                                               tuple(centers[f]))
        else:
            out[rows] = from_field_relative_w(wb.uvw[rows], wb.w_field[rows], out[rows],
                                              wb.freq, image_center, tuple(centers[f]))
    return out


def _bandwidth(datasets: list[xr.Dataset]) -> float:
    """Span of all channel frequencies plus one channel width (the mean spacing)."""
    freqs = np.sort(np.concatenate([np.asarray(ds.chan_freq.values) for ds in datasets]))
    widths = [float(np.mean(np.abs(np.diff(ds.chan_freq.values)))) for ds in datasets
              if ds.sizes["chan"] > 1]
    return float(freqs[-1] - freqs[0]) + (float(np.mean(widths)) if widths else 0.0)


def _object_name(datasets: list[xr.Dataset]) -> str:
    names = datasets[0].attrs.get("field_names") or []
    ids = datasets[0].attrs.get("field_ids") or []
    picked = list(dict.fromkeys(names[i] for i in ids if i < len(names)))
    return ",".join(picked)[:68]


def _group_lookup(datasets: list[xr.Dataset],
                  field_groups: Sequence[Sequence[int]] | None) -> np.ndarray | None:
    """FIELD_ID -> pointing-group index (None without groups); the groups must be disjoint
    and cover every selected field."""
    if field_groups is None:
        return None
    n_fields = len(datasets[0].attrs["field_phase_centers_rad"])
    lookup = np.full(n_fields, -1, dtype=np.int64)
    for g, fields in enumerate(field_groups):
        fields = np.asarray(fields, dtype=np.int64)
        if fields.size == 0 or fields.min() < 0 or fields.max() >= n_fields \
                or (lookup[fields] >= 0).any() or np.unique(fields).size != fields.size:
            raise InputError(f"field group {g} is empty, names unknown FIELD rows or overlaps "
                             "another group")
        lookup[fields] = g
    missing = [int(f) for f in datasets[0].attrs["field_ids"] if lookup[int(f)] < 0]
    if missing:
        raise InputError(f"fields {missing} are in no field group")
    return np.maximum(lookup, 0)


def _after_all(*_items):
    return None


@dataclass
class ImagingOperator:
    """Prepared visibilities and the imaging operations on them (see the module docstring).

    Build with :meth:`build`. Attributes describe the data and plan; every method returns a lazy
    dask array (images: float32 (nx, ny), indexed [x, y], l decreasing along x).

    Attributes
    ----------
    plan
        The gridding plan.
    config
        The imaging configuration.
    blocks
        Delayed handles of the persisted prepared blocks (or their cache handles), one per row
        chunk, in dataset and row order.
    block_rows
        (dataset index, rows, channels) of each block.
    sum_of_weights
        Sum of the imaging weights of all gridded visibilities (CASA sumwt): images are divided
        by it.
    phase_center_rad
        Image centre (RA, Dec).
    frequency_hz
        Weighted mean frequency of the data: the reference frequency of weight moments.
    time_mjd
        Mean observing time (MJD days).
    bandwidth_hz
        Frequency span of the imaged channels, channel edges included (FITS CDELT3).
    object_name
        The imaged field's name, or the names of the imaged fields (FITS OBJECT).
    counts
        Visibility counts: total, unflagged, zero_weight, off_grid, gridded.
    field_centers_rad
        Phase centre of every FIELD row (for predicting back to each row's field).
    cache
        The block cache the blocks live in (None: worker memory).
    backend
        The array backend of the blocks (model images are moved to it once per call).
    field_groups
        None, or the pointing groups the blocks are ordered by (FIELD_IDs of each group; see
        :meth:`build`).
    model_weights
        None, or ``((dataset indices, field group or None, factor image), ...)``: the
        visibilities of those datasets (and of that pointing group's fields) are predicted from
        the model times the factor image (see :meth:`with_model_weights`).
    stokes
        The Stokes parameter this operator images (one of ``config.stokes``; see
        :meth:`for_stokes`).
    """

    plan: GridPlan
    config: ImagingConfig
    blocks: list
    block_rows: list[tuple[int, int, int]]
    sum_of_weights: float
    phase_center_rad: tuple[float, float]
    frequency_hz: float
    time_mjd: float
    counts: dict[str, int]
    field_centers_rad: np.ndarray
    bandwidth_hz: float = 0.0
    object_name: str = ""
    cache: BlockCache | None = None
    backend: Backend = NUMPY_BACKEND
    field_groups: tuple[tuple[int, ...], ...] | None = None
    model_weights: tuple[tuple[tuple[int, ...], int | None, np.ndarray], ...] | None = None
    stokes: str = "I"
    _plan_key: Any = field(default=None, repr=False)

    @classmethod
    def build(
        cls,
        datasets: list[xr.Dataset],
        config: ImagingConfig,
        *,
        weight_column: str = "WEIGHT",
        cache: BlockCache | None = None,
        client_images: int = 1,
        backend: Backend | None = None,
        field_groups: Sequence[Sequence[int]] | None = None,
    ) -> ImagingOperator:
        """Run the first pass, plan the gridding and persist the prepared blocks.

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
        cache
            Keep the prepared blocks in this cache instead of worker memory.
        client_images
            Float64 images the caller will hold besides the operator's (for the memory check).
        backend
            The array backend to keep the prepared blocks on and run the kernels with; default:
            ``resolve_backend(config.device)``.
        field_groups
            Pointing groups: disjoint lists of FIELD_IDs covering every selected field. Each
            block then keeps the visibilities of each group contiguous within a w-layer, so
            that :meth:`with_model_weights` can predict every group from its own model
            weights (a mosaic's fields through their own primary beams).

        Raises
        ------
        ConfigError
            ``config.device`` is ``gpu`` and no usable GPU is present.
        InputError
            Before computing: the job's memory estimate
            (:func:`vlassdask.imaging.memory.estimate_imaging_memory`) exceeds the memory of
            the workers, or, for a device backend, its device estimate
            (:func:`vlassdask.imaging.memory.estimate_device_memory`) exceeds the device's free
            memory. Then: no visibilities, everything flagged, all weights zero, NaN data, or
            all data off the grid.

        Notes
        -----
        Computes on the current dask scheduler: the first pass (and the weight density), then
        the prepared blocks, which stay persisted (48 bytes per visibility, see the module
        docstring) until the operator is released.
        """
        if config.phase_center_deg is not None:
            center = tuple(math.radians(v) for v in config.phase_center_deg)
        else:
            center = image_phase_center(datasets)
        nx, ny = config.imsize
        backend = resolve_backend(config.device) if backend is None else backend
        what = f"imaging {nx}x{ny} pixels of {config.cell_arcsec:g} arcsec"
        n_groups = len(field_groups) if field_groups is not None else 1
        estimate = estimate_imaging_memory(datasets, config, client_images=client_images,
                                           pointing_groups=n_groups)
        if cache is not None or backend.memory_bytes is not None:  # blocks on disk or device
            estimate = dataclasses.replace(estimate, visibilities=0)
        check_memory(estimate, worker_memory_bytes(), what=what)
        if backend.memory_bytes is not None:
            check_memory(estimate_device_memory(datasets, config, cached=cache is not None,
                                                pointing_groups=n_groups),
                         backend.memory_bytes(), what=f"{what} on the {backend.name} device",
                         where="the device has")
        group_of_field = _group_lookup(datasets, field_groups)
        if cache is not None:
            cache = _CacheOnBackend(cache, backend)
        scheme = WeightingScheme(config.weighting, config.robust, config.taper_arcsec, (nx, ny),
                                 config.cell_rad)
        metas, blocks = chunk_tasks(datasets, config, weight_column, center)
        summary_d = tree_reduce([dask.delayed(summarise)(m) for m in metas], merge_summaries)
        density_d = accumulate_in_chains(metas, _density_step, config.accumulators, scheme) \
            if scheme.needs_density else None
        summary, density = dask.compute(summary_d, density_d)
        check_summary(summary)
        f2 = scheme.briggs_f2(density, summary.weight_sum) if density is not None else 0.0
        plan = plan_gridding(nx, ny, config.cell_rad, summary.w_max, epsilon=config.epsilon,
                             padding=config.padding, gridder=config.effective_gridder,
                             n_layers=config.w_layers, support=config.support,
                             n_vis=int(summary.counts[1]), w_planes=config.w_planes)
        plan_key = shared(plan)
        density_key = shared(density) if density is not None else None
        weighted = [dask.delayed(_prepared)(b, density_key, scheme, f2, plan_key, cache,
                                            f"block-{i}", backend, group_of_field)
                    for i, b in enumerate(blocks)]
        weighted = persist_delayed(weighted)
        (totals,) = dask.compute(tree_reduce(
            [dask.delayed(_totals_of)(w, cache) for w in weighted], _add_totals))
        if totals[0] <= 0:
            raise InputError("the imaging weights sum to zero (all data off the grid, tapered "
                             "or weighted out: check --cell)")
        rows = [(i, int(n), int(ds.sizes["chan"])) for i, ds in enumerate(datasets)
                for n in ds.chunks["row"]]
        return cls(
            plan=plan, config=config, blocks=weighted, block_rows=rows, stokes=config.stokes[0],
            sum_of_weights=totals[0],
            phase_center_rad=(float(center[0]), float(center[1])),
            frequency_hz=summary.weighted_freq / summary.weight_sum,
            time_mjd=summary.time_sum / max(summary.n_rows, 1) / 86400.0,
            bandwidth_hz=_bandwidth(datasets), object_name=_object_name(datasets),
            counts={"total": int(summary.counts[0]), "unflagged": int(summary.counts[1]),
                    "zero_weight": int(summary.counts[2]),
                    "non_finite_uvw": int(summary.counts[3]), "off_grid": totals[1],
                    "gridded": totals[2]},
            field_centers_rad=np.asarray(datasets[0].attrs["field_phase_centers_rad"],
                                         dtype=np.float64),
            cache=cache, backend=backend, _plan_key=plan_key,
            field_groups=None if field_groups is None else tuple(
                tuple(int(f) for f in g) for g in field_groups),
        )

    @property
    def shape(self) -> tuple[int, int]:
        """Image size (nx, ny)."""
        return self.plan.nx, self.plan.ny

    @property
    def block_bytes(self) -> int:
        """Bytes held by the persisted blocks (48 per gridded visibility, 8 more per further
        Stokes parameter, + 32 per row, 40 with field-relative w)."""
        per_row = 40 if self.config.w_reference == "field" else 32
        return bytes_per_visibility(self.config) * self.counts["gridded"] \
            + per_row * sum(n for _, n, _ in self.block_rows)

    def for_stokes(self, stokes: str) -> ImagingOperator:
        """The same prepared blocks imaging Stokes ``stokes`` (one of ``config.stokes``):
        ``dirty`` and ``residual`` then use its visibilities, with the same imaging weights,
        PSF and sum of weights.

        Raises
        ------
        InputError
            If the operator was not prepared with ``stokes``.
        """
        if stokes not in self.config.stokes:
            raise InputError(f"the operator was prepared for Stokes {self.config.stokes}, not "
                             f"{stokes!r} (imaging option stokes)")
        return dataclasses.replace(self, stokes=stokes)

    @property
    def _values(self) -> int:
        """Index into the blocks' value arrays of this operator's Stokes visibilities."""
        return values_index(self.config.stokes.index(self.stokes))

    def _fold(self, layer: int, step, *extra, blocks: Sequence[int] | None = None, after=None):
        """Delayed grid of one w-layer: ``blocks`` (default all) folded with ``step`` into the
        accumulator chains."""
        items = self.blocks if blocks is None else [self.blocks[i] for i in blocks]
        return accumulate_in_chains(items, step, self.config.accumulators, self.cache,
                                    self._plan_key, layer, *extra, after=after)

    def _layers(self, grid_of_layer, after=None) -> da.Array:
        """Image graph: per layer the grid ``grid_of_layer(layer, after)``, FFT and add."""
        image = None
        for layer in range(self.plan.n_layers):
            grid = grid_of_layer(layer, after)
            image = dask.delayed(_add_layer)(image, grid, self._plan_key, layer,
                                             self.config.fft_threads)
            after = image
        out = dask.delayed(_finish)(image, self._plan_key, self.sum_of_weights)
        return da.from_delayed(out, self.shape, dtype=np.float32)

    def dirty(self) -> da.Array:
        """The dirty image (Jy/beam) of :attr:`stokes`, normalised by the sum of weights."""
        return self._layers(lambda layer, after: self._fold(
            layer, _grid_step, self._values, 0, self.frequency_hz, None, after=after))

    def psf(self, moments: Sequence[int] = (0,), *,
            beam_at: tuple[float, float] | None = None) -> list[da.Array]:
        """PSF planes of the weight moments ``k`` in ``moments``: the image of the imaging
        weights times ((nu - nu_ref) / nu_ref)^k, in units of the sum of weights (moment 0
        peaks at 1). Planes are computed one after another.

        With ``beam_at = (ra, dec)`` (radians), each weight is also multiplied by the primary
        beam of its visibility's field towards that direction at its frequency: the PSF a source
        there is imaged with in a mosaic (fields and frequencies weighted as they see it, as
        CASA's mosaic gridder's PSF). The planes are then in units of the moment-0 plane's peak.
        """
        planes, after = [], None
        beam = None if beam_at is None else (self.field_centers_rad,
                                             (float(beam_at[0]), float(beam_at[1])))
        for k in moments:
            if int(k) < 0:
                raise InputError(f"weight moments must be >= 0, got {k}")
            plane = self._layers(lambda layer, a, k=int(k): self._fold(
                layer, _grid_step, 1, k, self.frequency_hz, beam, after=a), after=after)
            planes.append(plane)
            after = plane
        if beam is not None:
            peak = planes[0][self.plan.nx // 2, self.plan.ny // 2]
            planes = [p / peak for p in planes]
        return planes

    def field_weights(self):
        """The imaging weights gridded per field and channel, lazily.

        Returns
        -------
        dask.delayed.Delayed
            Of a :class:`~vlassdask.imaging.mosaic_beam.FieldWeights` table (what the mosaic
            primary beam is made from); one small task per block and a tree sum.
        """
        parts = [dask.delayed(_field_weights_of)(b, self.cache) for b in self.blocks]
        return tree_reduce(parts, merge_field_weights)

    def with_model_weights(self, groups) -> ImagingOperator:
        """The operator with a weight image per group of visibilities for the model.

        ``residual`` and ``predict`` then predict the visibilities of each group from ``model
        x factor``, one model grid per group and w-layer. A group is a set of datasets
        (spectral windows), optionally restricted to one of the pointing groups the operator
        was built with (:meth:`build`'s ``field_groups``). A wide-band mosaic uses this to
        apply the primary beam each group of data sees: with the factor ``R_g(x) / A(x)`` (the
        mosaic beam of the group's data over that of all of them,
        :func:`vlassdask.imaging.mosaic_beam.relative_beams`), a model in the image's units
        (``A x S``) predicts every spectral window and pointing group consistently.

        Parameters
        ----------
        groups
            ``[(dataset indices, field group index or None, (nx, ny) factor image), ...]``:
            every dataset covered once, either whole (None) or once for each pointing group.

        Raises
        ------
        InputError
            Groups that do not cover the visibilities exactly once, a field group the
            operator was not built with, or factors of the wrong shape or not finite.
        """
        groups = tuple((tuple(int(i) for i in ids), None if fg is None else int(fg),
                        np.asarray(f, dtype=np.float64)) for ids, fg, f in groups)
        n_field_groups = len(self.field_groups or ())
        covered: dict[int, list] = {}
        for ids, fg, factor in groups:
            if fg is not None and not 0 <= fg < n_field_groups:
                raise InputError(f"model weight group names field group {fg}; the operator "
                                 f"has {n_field_groups}")
            if factor.shape != self.shape or not np.isfinite(factor).all():
                raise InputError(f"model weight images must be finite {self.shape} images")
            for i in ids:
                covered.setdefault(i, []).append(fg)
        datasets = sorted({d for d, _, _ in self.block_rows})
        whole = [None], list(range(n_field_groups))
        if sorted(covered) != datasets or any(
                sorted(v, key=lambda g: -1 if g is None else g) not in whole
                for v in covered.values()):
            raise InputError(f"model weight groups must cover each of the datasets {datasets} "
                             f"once, whole or once per field group ({n_field_groups})")
        return dataclasses.replace(self, model_weights=groups)

    def _model_keys(self, model) -> list[tuple[list[int], list[tuple[int | None, Any]]]]:
        """(block indices, [(field group or None, shared corrected model), ...]) per set of
        datasets sharing model weights."""
        model = self._checked_model(model)
        if self.model_weights is None:
            return [(list(range(len(self.blocks))), [(None, self._corrected_model(model))])]
        by_datasets: dict[tuple[int, ...], list] = {}
        for ids, fg, factor in self.model_weights:
            by_datasets.setdefault(ids, []).append((fg, self._corrected_model(model * factor)))
        return [([i for i, (d, _, _) in enumerate(self.block_rows) if d in ids], keys)
                for ids, keys in by_datasets.items()]

    def _checked_model(self, model) -> np.ndarray:
        model = np.asarray(model, dtype=np.float64)
        if model.shape != self.shape:
            raise InputError(f"model image has shape {model.shape}; the operator's image is "
                             f"{self.shape}")
        if not np.isfinite(model).all():
            raise InputError("model image has non-finite values")
        return model

    def _corrected_model(self, model: np.ndarray) -> Any:
        return shared(apply_grid_correction(self.backend.asarray(model.copy()), self.plan))

    def _layer_model_grids(self, keys, layer: int, after) -> list:
        """Delayed ``[(field group, model grids of layer), ...]`` of :meth:`_model_keys`."""
        return [(fg, dask.delayed(_model_grids)(key, self._plan_key, layer,
                                                self.config.fft_threads, after))
                for fg, key in keys]

    def residual(self, model) -> da.Array:
        """Residual image ``dirty - A^H W A model`` (Jy/beam) of a model image (Jy/pixel,
        float (nx, ny) indexed [x, y]), recomputed from the visibilities (with the model
        weights of :meth:`with_model_weights`, if set)."""
        groups = self._model_keys(model)

        def grid_of_layer(layer, after):
            # groups of datasets one after another: one group's model grids in memory at once
            total = None
            for blocks, keys in groups:
                grid = self._fold(layer, _residual_step,
                                  self._layer_model_grids(keys, layer, after), self._values,
                                  blocks=blocks, after=after)
                total = grid if total is None else dask.delayed(sum_arrays)(total, grid)
                after = total
            return total

        return self._layers(grid_of_layer)

    def predict(self, model) -> list[da.Array]:
        """Model visibilities (Stokes I, Jy) of a model image for every dataset.

        Returns
        -------
        list of dask.array.Array
            complex64 (row, chan) per dataset, chunked like its rows, each row phased to its
            own field's centre (what MODEL_DATA holds for the parallel hands). Flagged
            visibilities, which the operator does not hold, are zero.
        """
        groups = self._model_keys(model)
        outs: list = [None] * len(self.blocks)
        after = None
        for layer in range(self.plan.n_layers):
            for blocks, keys in groups:
                grids = self._layer_model_grids(keys, layer, after)
                for i in blocks:
                    outs[i] = dask.delayed(_degrid_step)(outs[i], self.blocks[i], self.cache,
                                                         self._plan_key, layer, grids)
            after = dask.delayed(_after_all)(*outs)
        outs = [dask.delayed(_to_field_centers)(o, b, self.cache, self.field_centers_rad,
                                                self.phase_center_rad)
                for o, b in zip(outs, self.blocks, strict=True)]
        per_dataset: dict[int, list] = {}
        for (ids, nrow, nchan), out in zip(self.block_rows, outs, strict=True):
            per_dataset.setdefault(ids, []).append(
                da.from_delayed(out, (nrow, nchan), dtype=np.complex64))
        return [da.concatenate(parts, axis=0) for _, parts in sorted(per_dataset.items())]
