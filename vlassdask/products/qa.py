"""QA recipes: one product -> decision + report; a directory of products -> table + HTML index.

A product is a vlassdask Zarr image store or a FITS image (with its rms / primary-beam / residual
companions: given explicitly, or found beside a VLASS-named image by
:func:`vlassdask.io.fits_import.vlass_companions`). A VLASS file name also says the product type
(``ql`` -> QL, ``se``/``cc`` -> SE); otherwise the configuration's ``product_type`` applies.
"""

from __future__ import annotations

import dataclasses
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dask
import pandas as pd

from vlassdask.errors import InputError, VlassdaskError
from vlassdask.io.atomic import atomic_output, check_can_write
from vlassdask.io.fits_import import open_fits_image, vlass_companions
from vlassdask.io.image_store import open_image_store
from vlassdask.io.qa_report import (
    error_row,
    report_panels,
    result_row,
    write_batch_index,
    write_qa_report,
    write_qa_table,
)
from vlassdask.products.display import product_html
from vlassdask.progress import persist_with_progress
from vlassdask.qa.assess import assess, qa_images_from_dataset
from vlassdask.qa.config import VLASS_PRODUCT_TYPES, QAConfig
from vlassdask.qa.decision import QAResult
from vlassdask.qa.types import QAImages
from vlassdask.survey.product_names import parse_product_name

FITS_SUFFIXES = (".fits", ".fit", ".fts")
# VLASS images the batch assesses (companions, Taylor term 1 and spectral-index maps are not),
# in order of preference when both exist for one product: PB-corrected, then flat-noise.
BATCH_IMAGE_TYPES = ("image.pbcor", "image")


@dataclass(frozen=True)
class ProductSource:
    """Where one product's planes come from.

    Attributes
    ----------
    path
        Zarr store directory or FITS image (the sky plane).
    companions
        FITS only: ``"rms"``, ``"pb"``, ``"residual"`` -> file.
    product_type
        Product type named by a VLASS file name (None: the configuration decides).
    """

    path: Path
    companions: dict[str, Path] = field(default_factory=dict)
    product_type: str | None = None

    @property
    def is_fits(self) -> bool:
        return self.path.suffix.lower() in FITS_SUFFIXES

    @property
    def name(self) -> str:
        """The product name used in reports: the file or store name without its suffix."""
        return self.path.name[: -len(self.path.suffix)] if self.path.suffix else self.path.name


def _vlass_product_type(path: Path) -> str | None:
    try:
        return VLASS_PRODUCT_TYPES[parse_product_name(path.name).product]
    except InputError:
        return None


def product_source(
    path: str | os.PathLike,
    *,
    rms: str | os.PathLike | None = None,
    pb: str | os.PathLike | None = None,
    residual: str | os.PathLike | None = None,
) -> ProductSource:
    """Describe the product at ``path`` (a Zarr store or a FITS image).

    For a FITS image, companions given here take precedence over those found beside a
    VLASS-named image.

    Raises
    ------
    InputError
        Companions given for a Zarr store, or a path that is neither a directory nor a FITS file.
    """
    path = Path(path)
    given = {k: Path(v) for k, v in (("rms", rms), ("pb", pb), ("residual", residual)) if v}
    if path.suffix.lower() in FITS_SUFFIXES:
        return ProductSource(path, {**vlass_companions(path), **given}, _vlass_product_type(path))
    if given:
        raise InputError(f"--rms/--pb/--residual go with FITS images; {path} is not a FITS file "
                         "(a Zarr store carries its RMS and PRIMARY_BEAM variables)")  # fmt: skip
    if path.exists() and not path.is_dir():
        raise InputError(f"{path} is neither a Zarr image store nor a FITS image (.fits)")
    return ProductSource(path)


def open_product(source: ProductSource, config: QAConfig, *, product_type: str | None = None
                 ) -> tuple[QAImages, QAConfig, dict[str, str]]:  # fmt: skip
    """Open a product lazily and pick its QA planes.

    The product type is ``product_type`` if given, else the one a VLASS file name says (when
    the configuration has it), else ``config.product_type``.

    Returns
    -------
    images : QAImages
    config : QAConfig
        ``config`` set to the product's type.
    inputs : dict
        Role -> absolute path of every file read.
    """
    chosen = product_type or source.product_type
    if chosen is not None and (product_type or chosen in config.product_types):
        config = config.with_product_type(chosen)
    if source.is_fits:
        ds = open_fits_image(source.path, **source.companions)
        inputs = {"sky": source.path, **source.companions}
    else:
        ds = open_image_store(source.path)
        inputs = {"store": source.path}
    images = qa_images_from_dataset(ds, config, name=source.name)
    return images, config, {k: str(Path(v).absolute()) for k, v in inputs.items()}


def qa_product(
    path_or_fits: str | os.PathLike,
    out: str | os.PathLike,
    *,
    rms: str | os.PathLike | None = None,
    pb: str | os.PathLike | None = None,
    residual: str | os.PathLike | None = None,
    config: QAConfig | None = None,
    attempt: int = 0,
    product_type: str | None = None,
    overwrite: bool = False,
) -> QAResult:
    """Assess one product and write its report directory (``result.json``, HTML, thumbnails).

    Parameters
    ----------
    path_or_fits
        Zarr image store or FITS image.
    out
        Report directory to create (atomically).
    rms, pb, residual
        FITS companions (default: those found beside a VLASS-named image).
    config
        QA configuration (default: the built-in VLASS values, ``QAConfig()``).
    attempt
        Imaging attempt the product comes from (0 = first run).
    product_type
        Force a product type (default: from a VLASS file name, else ``config.product_type``).
    overwrite
        Replace an existing report.

    Returns
    -------
    QAResult

    Raises
    ------
    InputError
        Unreadable or unusable input (missing rms/PB, NaN-only planes, mismatched grids).
    ProductExistsError
        If ``out`` exists and ``overwrite`` is false (checked before any work).

    Notes
    -----
    Peak memory: that of :func:`vlassdask.qa.assess.assess` plus the thumbnails
    (:func:`vlassdask.io.qa_report.report_panels`); the planes are read chunk by chunk.
    """
    check_can_write(out, overwrite=overwrite, inputs=[path_or_fits], kind="store")
    config = config or QAConfig()
    source = product_source(path_or_fits, rms=rms, pb=pb, residual=residual)
    images, config, inputs = open_product(source, config, product_type=product_type)
    result = assess(images, config, attempt=attempt, inputs=inputs)
    write_qa_report(result, report_panels(images), out, subimage=images.subimage,
                    overwrite=overwrite)  # fmt: skip
    return result


def _is_zarr_store(path: Path) -> bool:
    return path.is_dir() and any((path / n).is_file() for n in ("zarr.json", ".zgroup"))


def find_products(directory: str | os.PathLike, *, exclude: Path | None = None
                  ) -> list[ProductSource]:  # fmt: skip
    """The products under ``directory``: Zarr image stores and VLASS FITS images.

    Walks sub-directories (not into Zarr stores), skips hidden entries (staging directories of
    products being written) and ``exclude``. A FITS file counts when its name is a VLASS product
    name of a Stokes image (``image.pbcor`` preferred over flat-noise ``image`` for the same
    product; Taylor term 0; not an rms image); its companions are found beside it.

    Raises
    ------
    InputError
        If ``directory`` is not a directory.
    """
    root = Path(directory)
    if not root.is_dir():
        raise InputError(f"batch directory {root} does not exist or is not a directory")
    excluded = exclude.absolute() if exclude else None
    stores: list[Path] = []
    fits_images: dict[tuple, tuple[int, Path]] = {}
    for here, dirs, files in os.walk(root):
        base = Path(here)
        keep = []
        for d in sorted(dirs):
            path = base / d
            if d.startswith(".") or path.absolute() == excluded:
                continue
            if _is_zarr_store(path):
                stores.append(path)
            else:
                keep.append(d)
        dirs[:] = keep  # descend into ordinary directories only
        for f in sorted(files):
            if f.startswith(".") or Path(f).suffix.lower() not in FITS_SUFFIXES:
                continue
            try:
                name = parse_product_name(f)
            except InputError:
                continue
            if (name.image_type not in BATCH_IMAGE_TYPES or name.rms
                    or name.taylor_term not in (0, None)):  # fmt: skip
                continue
            key = (here, name.epoch, name.product, name.tile, name.phase_center, name.version,
                   name.spw, name.stokes, name.iteration, name.subimage)  # fmt: skip
            rank = BATCH_IMAGE_TYPES.index(name.image_type)
            if key not in fits_images or rank < fits_images[key][0]:
                fits_images[key] = (rank, base / f)
    sources = [ProductSource(p) for p in stores]
    sources += [product_source(p) for _, p in fits_images.values()]
    return sorted(sources, key=lambda s: str(s.path))


def _report_names(sources: list[ProductSource]) -> list[str]:
    """Unique, file-system-safe report directory names."""
    names: list[str] = []
    for source in sources:
        base = re.sub(r"[^A-Za-z0-9._+-]", "_", source.name) or "product"
        name, i = base, 1
        while name in names:
            i += 1
            name = f"{base}-{i}"
        names.append(name)
    return names


def _in_memory(images: QAImages) -> QAImages:
    """``images`` with every plane read into memory (dask's synchronous scheduler, named
    explicitly: the global scheduler setting is shared by all threads of a worker)."""
    planes = {role: getattr(images, role) for role in ("sky", "residual", "rms", "pb")}
    return dataclasses.replace(images, **{role: p.compute(scheduler="synchronous")
                                          for role, p in planes.items() if p is not None})


def _assess_to_report(source: ProductSource, config: QAConfig, attempt: int,
                      product_type: str | None, reports: Path, report_name: str
                      ) -> dict[str, Any]:  # fmt: skip
    """One batch task: read a product, assess it on this thread, write its report; its row.

    A product that cannot be assessed (a :class:`VlassdaskError`) gives an error row.
    """
    try:
        images, cfg, inputs = open_product(source, config, product_type=product_type)
        images = _in_memory(images)
        result = assess(images, cfg, attempt=attempt, inputs=inputs)
        panels = report_panels(images)
    except VlassdaskError as exc:
        return {**error_row(source.name, str(exc)), "path": str(source.path)}
    write_qa_report(result, panels, reports / report_name, subimage=images.subimage,
                    index_href="../../index.html")  # fmt: skip
    return {**result_row(result, report=f"reports/{report_name}/report.html",
                         thumbnail=f"reports/{report_name}/sky.png"),
            "path": str(source.path)}  # fmt: skip


@dataclass(frozen=True)
class BatchResult:
    """What :func:`qa_batch` wrote: the batch directory and its table."""

    out: Path
    table: pd.DataFrame

    def _repr_html_(self) -> str:
        return product_html("vlassdask QA batch", [
            ("report", self.out / "index.html"), ("products", len(self.table)),
            *((decision, n) for decision, n in self.counts().items()),
        ])

    def counts(self) -> dict[str, int]:
        """Number of products per decision (``"error"``: could not be assessed)."""
        return {str(k): int(v) for k, v in self.table["decision"].value_counts().items()}


def qa_batch(
    directory: str | os.PathLike,
    out: str | os.PathLike,
    *,
    config: QAConfig | None = None,
    attempt: int = 0,
    product_type: str | None = None,
    overwrite: bool = False,
    progress: bool = True,
) -> BatchResult:
    """Assess every product under ``directory`` in parallel; write reports, table and index.

    One dask task per product (on the current scheduler: a distributed client if one is
    active, else dask's local scheduler). Each task reads its product's planes into memory and
    assesses them on its own thread (no nested dask computation), then writes the report into
    the batch directory's staging copy, so the workers must see that directory (a shared file
    system on a cluster). The directory ``out`` then receives ``qa.parquet``,
    ``index.html`` and the completion marker and is renamed into place.

    Parameters
    ----------
    directory
        Where to look for products (see :func:`find_products`).
    out
        Batch directory to create.
    config
        QA configuration (default ``QAConfig()``).
    attempt
        Imaging attempt of all products.
    product_type
        Force a product type for all products (default: per product, see :func:`open_product`).
    overwrite
        Replace an existing batch directory.
    progress
        Show a progress bar.

    Returns
    -------
    BatchResult

    Raises
    ------
    InputError
        If ``directory`` holds no product.
    ProductExistsError
        If ``out`` exists and ``overwrite`` is false.

    Notes
    -----
    Peak memory per task: the product's planes (up to four: image, residual, rms, PB) plus the
    working copies of the statistics and the bad-baseline detector, about seven planes in all
    (~0.4 GB for a 3722^2 float32 sub-image product, ~1.5 GB for a 7290^2 full image); the
    client holds one table row per product.
    """
    check_can_write(out, overwrite=overwrite)
    config = config or QAConfig()
    sources = find_products(directory, exclude=Path(out))
    if not sources:
        raise InputError(f"no products (Zarr image stores or VLASS FITS images) in {directory}")
    with atomic_output(out, overwrite=overwrite) as tmp:
        reports = tmp / "reports"
        reports.mkdir(parents=True)
        tasks = [dask.delayed(_assess_to_report, pure=False)(s, config, attempt, product_type,
                                                             reports, n)
                 for s, n in zip(sources, _report_names(sources), strict=True)]  # fmt: skip
        rows = list(dask.compute(*persist_with_progress(*tasks, show=progress)))
        write_qa_table(rows, tmp / "qa.parquet")
        write_batch_index(rows, tmp / "index.html",
                          title=f"vlassdask QA of {Path(directory).resolve()}")
    return BatchResult(Path(out), pd.DataFrame(rows))
