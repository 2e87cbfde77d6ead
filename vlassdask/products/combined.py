"""Combined-epoch image product: epoch images (Zarr stores or VLASS FITS) -> combined Zarr store.

Inputs are image stores written by vlassdask (RMS from the store or from ``rms=``) or FITS images
as the VLASS archive serves them (the rms image found beside each by its VLASS name, or given
with ``rms=``). The combination (:func:`vlassdask.combine.epochs.combine_epochs`) is one lazy
dask graph from the input chunks to the output chunks, written chunk by chunk into the store
(atomically, with the completion marker); FITS files and the PNG preview are then made from the
written store.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from vlassdask.combine.config import CombineConfig
from vlassdask.combine.epochs import check_epochs_have_data, combine_epochs
from vlassdask.errors import ConfigError, InputError
from vlassdask.io.atomic import check_can_write
from vlassdask.io.config_files import read_yaml_mapping
from vlassdask.io.fits_export import export_fits, fits_paths
from vlassdask.io.fits_import import open_fits_image, vlass_companions
from vlassdask.io.image_store import open_image_store, provenance_record, write_image_store
from vlassdask.io.preview import write_preview_png
from vlassdask.products.display import beam_text, product_html
from vlassdask.progress import persist_with_progress

FITS_VARIABLES = ("SKY", "RMS", "COVERAGE")
FITS_SUFFIXES = (".fits", ".fit", ".fts")


@dataclass
class CombinedProduct:
    """What :func:`combine_products` wrote: the store, FITS files, preview and a summary."""

    store: Path
    fits: list[Path] = field(default_factory=list)
    preview: Path | None = None
    summary: dict[str, Any] = field(default_factory=dict)

    def _repr_html_(self) -> str:
        return product_html("vlassdask combined-epoch image", [
            ("store", self.store), ("FITS", self.fits),
            ("epochs", len(self.summary.get("epochs", []))),
            ("common beam", beam_text(self.summary.get("common_beam"))),
        ], preview=self.preview)


def read_combine_config(path: str | os.PathLike) -> CombineConfig:
    """A :class:`CombineConfig` from a YAML file with a ``combine:`` section (or only its keys).

    Raises
    ------
    ConfigError
        A missing or invalid file, other sections, unknown keys or invalid values.
    """
    doc = read_yaml_mapping(path, what="combine configuration")
    if "combine" in doc:
        others = sorted(set(doc) - {"combine"})
        if others:
            raise ConfigError(f"{path}: unknown section(s) {', '.join(others)}")
        doc = doc["combine"] or {}
        if not isinstance(doc, dict):
            raise ConfigError(f"{path}: the combine section is not a mapping")
    return CombineConfig.from_mapping(doc)


def _is_fits(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in FITS_SUFFIXES


def _same_grid(a: xr.Dataset, b: xr.Dataset) -> bool:
    cell = float(a["m"].values[1] - a["m"].values[0])
    ha, hb = a.attrs.get("fits_header") or {}, b.attrs.get("fits_header") or {}
    return (a.sizes["l"] == b.sizes["l"] and a.sizes["m"] == b.sizes["m"]
            and np.allclose(a["l"].values, b["l"].values, rtol=0, atol=1e-3 * cell)
            and np.allclose(a["m"].values, b["m"].values, rtol=0, atol=1e-3 * cell)
            and np.allclose([ha.get("CRVAL1"), ha.get("CRVAL2")],
                            [hb.get("CRVAL1"), hb.get("CRVAL2")], rtol=0,
                            atol=1e-3 * np.degrees(cell)))  # fmt: skip


def _separate_rms(image: xr.Dataset, rms: Path, chunks: int) -> xr.DataArray:
    """The rms image of a store input, from a FITS image or the RMS variable of a store."""
    if _is_fits(rms):
        source = open_fits_image(rms, chunks=chunks)
        var = source["SKY"]
    else:
        source = open_image_store(rms)
        if "RMS" not in source.data_vars:
            raise InputError(f"rms store {rms} has no RMS variable")
        var = source["RMS"]
    if var.shape != image["SKY"].shape or not _same_grid(image, source):
        raise InputError(f"rms image {rms} is not on the pixel grid of its image")
    return xr.DataArray(var.data, dims=var.dims, coords=image["SKY"].coords, attrs=var.attrs)


def open_epoch(path: str | os.PathLike, rms: str | os.PathLike | None = None, *,
               chunks: int = 2048) -> xr.Dataset:  # fmt: skip
    """Open one epoch lazily as an image Dataset with SKY and RMS.

    Parameters
    ----------
    path
        A vlassdask image store (directory) or a FITS image.
    rms
        Its rms image (FITS, or a store with RMS). Default: for FITS, the rms image beside it by
        VLASS naming (:func:`vlassdask.io.fits_import.vlass_companions`); for a store, its RMS
        variable.
    chunks
        Chunk size (pixels) of FITS inputs.

    Raises
    ------
    InputError
        A missing or unreadable input, or no rms image.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"input {path} does not exist")
    if path.is_file():
        rms_path = Path(rms) if rms is not None else vlass_companions(path).get("rms")
        if rms_path is None:
            raise InputError(f"no rms image for {path.name}: none beside it with its VLASS rms "
                             "name (...rms.subim.fits); give one with --rms")  # fmt: skip
        if not rms_path.exists():
            raise InputError(f"rms image {rms_path} does not exist")
        return open_fits_image(path, rms=rms_path, chunks=chunks)
    image = open_image_store(path)
    if rms is not None:
        rms_path = Path(rms)
        if not rms_path.exists():
            raise InputError(f"rms image {rms_path} does not exist")
        return image.assign(RMS=_separate_rms(image, rms_path, chunks))
    if "RMS" not in image.data_vars:
        raise InputError(f"{path} has no RMS variable; give its rms image with --rms")
    return image


def combine_products(
    inputs: Sequence[str | os.PathLike],
    out: str | os.PathLike,
    *,
    rms: Sequence[str | os.PathLike] | None = None,
    config: CombineConfig | None = None,
    overwrite: bool = False,
    fits: str | os.PathLike | None = None,
    preview: str | os.PathLike | None = None,
    command: str | None = None,
    progress: bool = True,
) -> CombinedProduct:
    """Combine epoch images into one store at a common beam (RMS-weighted mean).

    Parameters
    ----------
    inputs
        Epoch images: vlassdask image stores and/or VLASS FITS images (any mix).
    out
        Combined Zarr store to create (refused if it exists unless ``overwrite``).
    rms
        One rms image per input, in input order (default: see :func:`open_epoch`).
    config
        Combination parameters (default: the VLASS values, ``pipelines/combine.yaml``).
    overwrite
        Replace existing outputs.
    fits
        Also export SKY, RMS and COVERAGE as FITS: ``<stem>.sky.fits``, ``<stem>.rms.fits``,
        ``<stem>.coverage.fits`` beside this path.
    preview
        Also write a PNG preview of SKY here.
    command
        The command line, recorded in the provenance.
    progress
        Show a progress bar while the store is written.

    Returns
    -------
    CombinedProduct

    Raises
    ------
    InputError
        Bad inputs (see :func:`open_epoch`, :func:`vlassdask.combine.epochs.plan_combination`,
        :func:`vlassdask.combine.epochs.check_epochs_have_data`): raised before anything is
        written.
    ProductExistsError
        An output exists and ``overwrite`` is false (checked first).

    Notes
    -----
    Peak memory: that of :func:`vlassdask.combine.epochs.combine_epochs` per worker thread plus
    one 2048^2 store chunk per variable being written; FITS export and preview stream one plane.
    """
    config = config or CombineConfig()
    paths = [Path(p) for p in inputs]
    if rms is not None and len(rms) != len(paths):
        raise InputError(f"{len(rms)} rms image(s) for {len(paths)} input(s); give one --rms per "
                         "input, in input order")  # fmt: skip
    sources = paths + [Path(r) for r in rms or [] if r is not None]
    store = check_can_write(out, overwrite=overwrite, inputs=sources, kind="store")
    fits_outputs = fits_paths(fits, FITS_VARIABLES) if fits else []
    for path in fits_outputs + ([Path(preview)] if preview else []):
        check_can_write(path, overwrite=overwrite, inputs=sources, kind="file")
    rms_paths = list(rms) if rms is not None else [None] * len(paths)
    images = [open_epoch(p, r, chunks=config.chunk_pixels)
              for p, r in zip(paths, rms_paths, strict=True)]  # fmt: skip
    names = [p.name for p in paths]
    used = paths + [Path(r) for r in rms_paths if r is not None]
    for ds in images:
        used += [Path(f) for name, f in (ds.attrs.get("source_files") or {}).items()
                 if name == "RMS" and Path(f) not in used]  # fmt: skip
    provenance = provenance_record(config=config.to_dict(), inputs=used, command=command)
    combined = combine_epochs(images, config, names=names, attrs={"provenance": provenance})
    check_epochs_have_data(images, names)
    write = write_image_store(combined, store, overwrite=overwrite, compute=False)
    (written,) = persist_with_progress(write, show=progress)
    written.compute()
    product = CombinedProduct(store=store, summary=dict(combined.attrs["combine"]))
    if fits or preview:
        result = open_image_store(store)
        if fits:
            product.fits = export_fits(result, fits, variables=FITS_VARIABLES,
                                       overwrite=overwrite)  # fmt: skip
        if preview:
            product.preview = write_preview_png(result, preview, overwrite=overwrite)
    return product
