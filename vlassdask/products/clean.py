"""Deconvolved image product: Measurement Set -> CLEAN -> Zarr image store (+ FITS, PNG, JSON).

:func:`clean_image` is the Python API (datasets in, image Dataset out); :func:`make_clean_product`
the recipe behind ``vlassdask clean`` (Measurement Set in, products written atomically).

Peak memory: the imaging operator's persisted blocks (48 bytes per gridded visibility, on the
workers) and one image graph at a time, plus the major-cycle loop's images on the client (see
:mod:`vlassdask.deconvolution.major_cycle`: about ten float64 nx x ny images, more for
multiscale), plus the product Dataset (six float32 images) while it is written.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import dask
import numpy as np
import xarray as xr

from vlassdask.deconvolution.config import CleanConfig
from vlassdask.deconvolution.major_cycle import (
    CleanResult,
    CycleRecord,
    check_clean_config,
    client_images,
    cotton_schwab,
)
from vlassdask.errors import ConfigError, InputError
from vlassdask.imaging.config import ImagingConfig
from vlassdask.imaging.graph import worker_memory_bytes
from vlassdask.imaging.imaging_operator import BlockCache, ImagingOperator
from vlassdask.io.atomic import atomic_output, check_can_write
from vlassdask.io.block_cache import ZarrBlockCache
from vlassdask.io.fits_export import export_fits, fits_paths
from vlassdask.io.image_schema import DEFAULT_CHUNK_PIXELS, make_image_dataset
from vlassdask.io.image_store import provenance_record, write_image_store
from vlassdask.io.mask_read import read_mask
from vlassdask.io.ms_read import open_measurement_set
from vlassdask.io.ms_write import write_model_data
from vlassdask.io.preview import write_preview_png
from vlassdask.products.dirty import fits_header_keys, imaging_history
from vlassdask.products.display import beam_text, product_html

#: Where the prepared visibilities are kept: worker memory, a Zarr cache, or chosen by size.
VISIBILITY_CACHES = ("auto", "memory", "zarr")
#: ``auto`` spills to Zarr when the prepared visibilities would take more than this fraction of
#: the workers' memory.
SPILL_FRACTION = 0.5
#: Threads of the minor cycles and restoration, which run in this (the client) process.
MINOR_CYCLE_THREADS = dask.system.CPU_COUNT
#: The variables written as FITS files (``<stem>.<variable>.fits``).
FITS_VARIABLES = ("SKY", "RESIDUAL", "MODEL", "POINT_SPREAD_FUNCTION")


@dataclass
class CleanProduct:
    """What :func:`make_clean_product` wrote and measured."""

    store: Path
    cycles_json: Path
    fits: list[Path] = field(default_factory=list)
    preview: Path | None = None
    summary: dict = field(default_factory=dict)

    def _repr_html_(self) -> str:
        s = self.summary
        return product_html("vlassdask CLEAN image", [
            ("store", self.store), ("FITS", self.fits), ("stopped", s.get("stop_reason")),
            ("iterations", s.get("iterations")), ("major cycles", s.get("major_cycles")),
            ("peak", s.get("peak_jy_per_beam")), ("rms (Jy/beam)", s.get("final_rms_jy")),
            ("restoring beam", beam_text(s.get("restoring_beam"))),
        ], preview=self.preview)


def clean_dataset(result: CleanResult, operator: ImagingOperator, clean: CleanConfig,
                  mask: np.ndarray | None, *, inputs: list, name: str, command: str | None,
                  scale: float = 1.0, extra_variables: dict | None = None,
                  product_kind: str = "clean", extra_attrs: dict | None = None,
                  config: dict | None = None) -> xr.Dataset:  # fmt: skip
    """The image Dataset of a finished CLEAN run (in memory, not chunked).

    Parameters
    ----------
    result, operator, clean, mask
        The run, its operator and configuration, and the clean mask (or None).
    inputs, name, command
        Provenance: input paths, the input's name (history) and the command line.
    scale
        Factor applied to SKY, RESIDUAL and MODEL (e.g. 1 / the mosaic's peak sensitivity).
    extra_variables
        More image variables (name -> (nx, ny) array or a full-shape array).
    product_kind
        The schema's product kind.
    extra_attrs
        More attrs.
    config
        The configuration recorded in the provenance (default: imaging and clean).
    """
    beam = result.beam
    variables = {
        "SKY": (result.restored * scale).astype(np.float32),
        "RESIDUAL": (result.residual * scale).astype(np.float32),
        "MODEL": (result.model * scale).astype(np.float32),
        "POINT_SPREAD_FUNCTION": result.psf.astype(np.float32),
        "SUM_OF_WEIGHTS": np.array([[[operator.sum_of_weights]]]),
        "BEAM": np.array([[[[beam.major_arcsec, beam.minor_arcsec, beam.pa_deg]]]]),
        **(extra_variables or {}),
    }
    if mask is not None:
        variables["MASK"] = mask
    history = imaging_history(operator, name, f"{clean.deconvolver} CLEAN")
    history.append(f"CLEAN stopped after {result.iterations} iterations and "
                   f"{result.major_cycles} major cycles: {result.stop_reason} "
                   f"(tclean stop code {result.stop_code})")
    ds = make_image_dataset(
        variables,
        cell_rad=operator.config.cell_rad,
        phase_center_rad=operator.phase_center_rad,
        frequency_hz=[operator.frequency_hz],
        polarization=(operator.stokes,),
        time_mjd=[operator.time_mjd],
        product_kind=product_kind,
        attrs={
            "provenance": provenance_record(
                config=config or {"imaging": operator.config.to_dict(),
                                  "clean": clean.to_dict()},
                inputs=inputs, command=command),
            "history": history,
            "gridding": operator.plan.describe(),
            "visibility_counts": operator.counts,
            "fits_header": fits_header_keys(operator),
            "clean": result.summary(),
            "stop_code": result.stop_code,
            "stop_reason": result.stop_reason,
            **(extra_attrs or {}),
        },
    )
    return ds


def clean_image(
    datasets: list[xr.Dataset],
    imaging: ImagingConfig,
    clean: CleanConfig,
    *,
    weight_column: str = "WEIGHT",
    mask: np.ndarray | None = None,
    progress: Callable[[CycleRecord], None] | None = None,
    cache: BlockCache | None = None,
    name: str = "visibilities",
    command: str | None = None,
) -> xr.Dataset:
    """Deconvolve visibilities with Cotton-Schwab CLEAN: one call, an image Dataset back.

    Parameters
    ----------
    datasets
        dask-ms datasets as :func:`vlassdask.io.ms_read.open_measurement_set` returns them.
    imaging, clean
        Imaging and CLEAN parameters.
    weight_column
        WEIGHT_SPECTRUM or WEIGHT.
    mask
        Clean mask (nx, ny), true where components may go; default everywhere.
    progress
        Called with each major cycle's :class:`~vlassdask.deconvolution.major_cycle.CycleRecord`.
    cache
        Keep the prepared visibilities in this block cache instead of worker memory.
    name, command
        The input's name (history) and the command line (provenance).

    Returns
    -------
    xarray.Dataset
        A ``clean`` image product (dask-backed, chunked as a store is): ``SKY`` (restored),
        ``RESIDUAL``, ``MODEL``, ``POINT_SPREAD_FUNCTION``, ``SUM_OF_WEIGHTS``, ``BEAM`` (and
        ``MASK``); attrs ``restoring_beam``, ``stop_code``, ``stop_reason`` and ``clean`` (the
        per-cycle history).

    Raises
    ------
    InputError, ConfigError
        Bad data, a mask that does not fit, or options that do not fit the image.
    """
    check_clean_config(clean, imaging.imsize)
    operator = ImagingOperator.build(datasets, imaging, weight_column=weight_column, cache=cache,
                                     client_images=client_images(clean))
    result = cotton_schwab(operator, clean, mask=mask, progress=progress,
                           threads=MINOR_CYCLE_THREADS)
    ds = clean_dataset(result, operator, clean, mask, inputs=[], name=name, command=command)
    return ds.chunk({"l": DEFAULT_CHUNK_PIXELS, "m": DEFAULT_CHUNK_PIXELS})


def prepared_bytes(datasets: list[xr.Dataset]) -> int:
    """Upper bound of the prepared visibilities' memory: 48 bytes per visibility (all of them,
    flagged or not) + 32 per row (see :class:`vlassdask.imaging.first_pass.Weighted`)."""
    return sum(48 * ds.sizes["row"] * ds.sizes["chan"] + 32 * ds.sizes["row"] for ds in datasets)


def spills_to_zarr(visibility_cache: str, estimate: int) -> bool:
    """Whether prepared visibilities of ``estimate`` bytes go to a Zarr block cache under the
    ``visibility_cache`` setting (``auto``, ``memory`` or ``zarr``)."""
    if visibility_cache not in VISIBILITY_CACHES:
        raise ConfigError(f"visibility cache must be one of {', '.join(VISIBILITY_CACHES)}, got "
                          f"{visibility_cache!r}")
    if visibility_cache == "auto":
        return estimate > SPILL_FRACTION * worker_memory_bytes()
    return visibility_cache == "zarr"


def cycles_json_path(out: str | os.PathLike) -> Path:
    """Where the per-cycle JSON summary of the product ``out`` goes: ``<stem>.clean.json``."""
    out = Path(out)
    return out.with_name(f"{out.stem}.clean.json")


def make_clean_product(
    ms: str | os.PathLike,
    out: str | os.PathLike,
    imaging: ImagingConfig,
    clean: CleanConfig,
    *,
    mask: str | os.PathLike | None = None,
    overwrite: bool = False,
    fits: str | os.PathLike | None = None,
    preview: str | os.PathLike | None = None,
    command: str | None = None,
    progress: Callable[[CycleRecord], None] | None = None,
    visibility_cache: str = "auto",
    savemodel: bool = False,
) -> CleanProduct:
    """CLEAN ``ms`` and write the image product ``out`` and its cycle summary.

    Parameters
    ----------
    ms
        Measurement Set.
    out
        Zarr store to create (atomically, with a completion marker; refused if it exists unless
        ``overwrite``). The JSON summary of every major cycle and the stop reason goes beside it
        (:func:`cycles_json_path`).
    imaging, clean
        Imaging and CLEAN parameters.
    mask
        Clean mask: a FITS image or an image store on the image's pixel grid.
    overwrite
        Replace existing outputs.
    fits
        Also export SKY, RESIDUAL, MODEL and PSF as ``<stem>.<variable>.fits``.
    preview
        Also write a PNG preview of the restored image here.
    command
        The command line, recorded in the provenance.
    progress
        Called with each major cycle's record.
    visibility_cache
        ``memory`` (prepared visibilities persisted on the workers), ``zarr`` (a Zarr block
        cache beside ``out``, removed at the end) or ``auto``: ``zarr`` when their estimate
        (:func:`prepared_bytes`) exceeds :data:`SPILL_FRACTION` of the workers' memory.
    savemodel
        Write the final model's visibilities into the MS's MODEL_DATA column (tclean's
        ``savemodel='modelcolumn'``), after every product is written: the only change made to
        the input, and only when asked.

    Raises
    ------
    InputError, ConfigError, ProductExistsError
        Before anything is computed for outputs that exist, options that do not fit the image and
        masks on another grid; before anything is written for bad data.
    """
    inputs = [ms] + ([mask] if mask is not None else [])
    store = check_can_write(out, overwrite=overwrite, inputs=inputs, kind="store")
    cycles = check_can_write(cycles_json_path(store), overwrite=overwrite, inputs=inputs,
                             kind="file")
    for path in (fits_paths(fits, FITS_VARIABLES) if fits else []) + (
            [Path(preview)] if preview else []):
        check_can_write(path, overwrite=overwrite, inputs=inputs, kind="file")
    check_clean_config(clean, imaging.imsize)
    mask_file = read_mask(mask) if mask is not None else None
    if mask_file is not None:
        mask_file.check_grid(imaging.imsize, imaging.cell_arcsec, mask_file.center_deg)
    ms_path = Path(ms)
    if savemodel and not os.access(ms_path, os.W_OK):
        raise InputError(f"cannot write MODEL_DATA into {ms_path}: it is not writable")
    vis = open_measurement_set(ms_path, data_column=imaging.data_column,
                               row_chunks=imaging.row_chunks,
                               fields=list(imaging.fields) if imaging.fields else None,
                               spws=list(imaging.spws) if imaging.spws else None)
    spill = spills_to_zarr(visibility_cache, prepared_bytes(vis.datasets))
    with contextlib.ExitStack() as stack:
        cache = stack.enter_context(ZarrBlockCache(store.parent, prefix=f".{store.name}.blocks-")
                                    ) if spill else None
        operator = ImagingOperator.build(vis.datasets, imaging, weight_column=vis.weight_column,
                                         cache=cache, client_images=client_images(clean))
        mask_array = None if mask_file is None else mask_file.check_grid(
            imaging.imsize, imaging.cell_arcsec,
            tuple(math.degrees(v) for v in operator.phase_center_rad))
        result = cotton_schwab(operator, clean, mask=mask_array, progress=progress,
                               threads=MINOR_CYCLE_THREADS)
        product = _write_products(result, operator, clean, mask_array, store=store,
                                  cycles=cycles, inputs=[ms_path] + (
                                      [mask_file.path] if mask_file is not None else []),
                                  command=command, overwrite=overwrite, fits=fits,
                                  preview=preview, extra={
                                      "ms": str(ms_path), "imaging": imaging.to_dict(),
                                      "visibility_cache": "zarr" if spill else "memory"})
        if savemodel:
            write_model_data(ms_path, vis.datasets, operator.predict(result.model))
            product.summary["model_data_written"] = str(ms_path)
    return product


def _write_products(result: CleanResult, operator: ImagingOperator, clean: CleanConfig,
                    mask: np.ndarray | None, *, store: Path, cycles: Path, inputs: list[Path],
                    command: str | None, overwrite: bool, fits, preview, extra: dict
                    ) -> CleanProduct:  # fmt: skip
    """Write the image store, the cycle JSON, FITS and PNG of a finished run."""
    ds = clean_dataset(result, operator, clean, mask, inputs=inputs, name=inputs[0].name,
                        command=command)
    write_image_store(ds, store, overwrite=overwrite)
    summary = {
        **extra, "store": str(store), "clean_config": clean.to_dict(), **result.summary(),
        "sum_of_weights": operator.sum_of_weights, "visibilities": operator.counts,
        "gridding": operator.plan.describe(),
        "prepared_bytes": operator.block_bytes,
        "peak_jy_per_beam": float(np.abs(result.restored).max()),
    }
    with atomic_output(cycles, overwrite=overwrite, directory=False) as tmp:
        tmp.write_text(json.dumps(summary, indent=2, default=str) + "\n")
    product = CleanProduct(store=store, cycles_json=cycles,
                           summary={k: v for k, v in summary.items() if k != "cycles"})
    if fits:
        product.fits = export_fits(ds, fits, variables=FITS_VARIABLES, overwrite=overwrite)
    if preview:
        product.preview = write_preview_png(ds, preview, overwrite=overwrite)
    return product
