"""Dirty image + PSF product: Measurement Set -> Zarr image store (+ FITS, PNG preview)."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from vlassdask.errors import InputError
from vlassdask.imaging.config import ImagingConfig
from vlassdask.imaging.dirty import DirtyImage, make_dirty_image
from vlassdask.imaging.imaging_operator import ImagingOperator
from vlassdask.io.atomic import check_can_write
from vlassdask.io.fits_export import export_fits
from vlassdask.io.image_schema import make_image_dataset
from vlassdask.io.image_store import provenance_record, write_image_store
from vlassdask.io.ms_read import open_measurement_set
from vlassdask.io.preview import write_preview_png
from vlassdask.products.display import product_html
from vlassdask.progress import persist_with_progress


@dataclass
class DirtyProduct:
    """What :func:`make_dirty_product` wrote and measured."""

    store: Path
    fits: list[Path] = field(default_factory=list)
    preview: Path | None = None
    summary: dict = field(default_factory=dict)

    def _repr_html_(self) -> str:
        g = self.summary.get("gridding", {})
        return product_html("vlassdask dirty image", [
            ("store", self.store), ("FITS", self.fits),
            ("peak", f"{self.summary.get('peak_abs_jy_per_beam', float('nan')):.4g} Jy/beam"),
            ("gridder", ("w-projection" if g.get("w_projection") else "2-D") if g else None),
        ], preview=self.preview)


def fits_header_keys(operator: ImagingOperator) -> dict:
    """Header keys the imaging knows: CDELT3 (the imaged bandwidth) and OBJECT (the field)."""
    keys = {"OBJECT": operator.object_name} if operator.object_name else {}
    if operator.bandwidth_hz > 0:
        keys["CDELT3"] = operator.bandwidth_hz
    return keys


def imaging_history(operator: ImagingOperator, ms_name: str, what: str) -> list[str]:
    """History lines describing how ``operator`` imaged ``ms_name`` (``what``: the product)."""
    config = operator.config
    history = [
        f"vlassdask {what} of {ms_name}: {config.imsize[0]}x{config.imsize[1]} "
        f"{config.cell_arcsec} arcsec, {config.weighting}"
        + (f" robust {config.robust}" if config.weighting == "briggs" else ""),
        "gridding: " + ", ".join(f"{k}={v}" for k, v in operator.plan.describe().items()),
    ]
    if operator.counts.get("off_grid"):
        history.append(f"{operator.counts['off_grid']} visibilities beyond the grid's uv extent "
                       "were not gridded (cell too coarse for the longest baselines)")
    return history


def _dataset(result: DirtyImage, config: ImagingConfig, ms_path: Path, command: str | None):
    gx, gy = result.grid_correction
    variables = {
        "SKY": result.dirty,
        "SUM_OF_WEIGHTS": np.array([[[result.sum_of_weights]]]),
        "GRID_CORRECTION_L": gx,
        "GRID_CORRECTION_M": gy,
    }
    if result.psf is not None:
        variables["POINT_SPREAD_FUNCTION"] = result.psf
    return make_image_dataset(
        variables,
        cell_rad=config.cell_rad,
        phase_center_rad=result.phase_center_rad,
        frequency_hz=[result.frequency_hz],
        time_mjd=[result.time_mjd],
        product_kind="dirty",
        attrs={
            "provenance": provenance_record(config=config.to_dict(), inputs=[ms_path],
                                            command=command),
            "history": imaging_history(result.operator, ms_path.name, "dirty image"),
            "gridding": result.plan.describe(),
            "visibility_counts": result.counts,
            "fits_header": fits_header_keys(result.operator),
        },
    )


def make_dirty_product(
    ms: str | os.PathLike,
    out: str | os.PathLike,
    config: ImagingConfig,
    *,
    overwrite: bool = False,
    fits: str | os.PathLike | None = None,
    preview: str | os.PathLike | None = None,
    command: str | None = None,
    progress: bool = True,
) -> DirtyProduct:
    """Image ``ms`` and write the dirty image and PSF to the Zarr store ``out``.

    Parameters
    ----------
    ms
        Measurement Set.
    out
        Zarr store to create (atomically; refused if it exists unless ``overwrite``).
    config
        Imaging parameters.
    overwrite
        Replace existing outputs.
    fits
        Also export the image (SKY) to this FITS file.
    preview
        Also write a PNG preview here.
    command
        The command line, recorded in the provenance.
    progress
        Show progress bars.

    Notes
    -----
    Peak memory: that of :func:`vlassdask.imaging.dirty.make_dirty_image`, plus the persisted
    dirty image and PSF (2 x nx x ny x 4 bytes) while the store is written.
    """
    store = check_can_write(out, overwrite=overwrite, inputs=[ms], kind="store")
    for path in ([Path(fits)] if fits else []) + ([Path(preview)] if preview else []):
        check_can_write(path, overwrite=overwrite, inputs=[ms], kind="file")
    ms_path = Path(ms)
    vis = open_measurement_set(ms_path, data_column=config.data_column,
                               row_chunks=config.row_chunks,
                               fields=list(config.fields) if config.fields else None,
                               spws=list(config.spws) if config.spws else None)
    result = make_dirty_image(vis.datasets, config, weight_column=vis.weight_column)
    images = [result.dirty] + ([result.psf] if result.psf is not None else [])
    persisted = persist_with_progress(*images, show=progress)
    result.dirty = persisted[0]
    if result.psf is not None:
        result.psf = persisted[1]
    ds = _dataset(result, config, ms_path, command)
    peak = float(abs(ds.SKY).max().compute())  # a reduction over the persisted chunks
    if not math.isfinite(peak):
        raise InputError(f"the dirty image of {ms_path} is not finite")
    write_image_store(ds, store, overwrite=overwrite)
    product = DirtyProduct(store=store, summary={
        "peak_abs_jy_per_beam": peak,
        "sum_of_weights": result.sum_of_weights,
        "phase_center_deg": [math.degrees(v) for v in result.phase_center_rad],
        "frequency_hz": result.frequency_hz,
        "gridding": result.plan.describe(),
        "visibilities": result.counts,
    })
    if fits:
        product.fits = export_fits(ds, fits, overwrite=overwrite)
    if preview:
        product.preview = write_preview_png(ds, preview, overwrite=overwrite)
    return product
