"""Catalog recipes: image -> component catalog; directory of images -> survey catalog; DRAGNs,
cross-matching, catalog comparison and the resolved-calibrator test, each from files to files.

Every recipe checks that all its outputs may be written before any work (no output replaces an
input; an existing output only with ``overwrite``) and writes them atomically, so a failed run
leaves nothing behind.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dask
import pandas as pd
import xarray as xr

from vlassdask.catalog.calibrator import CalibratorCheck, check_calibrator
from vlassdask.catalog.compare import CatalogComparison, compare_catalogs
from vlassdask.catalog.config import CatalogConfig
from vlassdask.catalog.crossmatch import DEFAULT_RADIUS_ARCSEC, crossmatch
from vlassdask.catalog.dragns import DragnConfig, find_dragns
from vlassdask.catalog.find import find_sources
from vlassdask.catalog.merge import DUPLICATE_RADIUS_ARCSEC, merge_catalogs
from vlassdask.catalog.spectral_index import spectral_indices
from vlassdask.errors import InputError, VlassdaskError
from vlassdask.io.catalog_files import check_outputs, read_catalog, sky_columns, write_catalog
from vlassdask.io.catalog_report import write_calibrator_report, write_comparison_report
from vlassdask.io.catalog_schema import check_catalog, make_catalog
from vlassdask.io.fits_import import open_fits_image
from vlassdask.io.image_schema import celestial_wcs
from vlassdask.io.image_store import open_image_store
from vlassdask.io.ms_amplitudes import read_field_amplitudes
from vlassdask.products.qa import FITS_SUFFIXES, ProductSource, find_products
from vlassdask.progress import persist_with_progress
from vlassdask.survey.product_names import parse_product_name


@dataclass(frozen=True)
class CatalogResult:
    """What a catalog recipe wrote: the table and the files, plus per-image errors (batch)."""

    table: pd.DataFrame
    files: list[Path]
    errors: dict[str, str] = field(default_factory=dict)


def open_image(path: str | os.PathLike) -> tuple[xr.Dataset, str, str]:
    """Open a Zarr image store or FITS image lazily; also return its name and VLASS tile.

    Raises
    ------
    InputError
        Missing or unreadable image.
    """
    p = Path(path)
    if not p.exists():
        raise InputError(f"image {p} does not exist")
    ds = open_fits_image(p) if p.suffix.lower() in FITS_SUFFIXES else open_image_store(p)
    try:
        tile = parse_product_name(p.name).tile
    except InputError:
        tile = ""
    name = p.name[: -len(p.suffix)] if p.suffix else p.name
    return ds, name, tile


def _alpha_planes(ds: xr.Dataset, alpha: Path | None, alpha_error: Path | None):
    """(alpha plane, error plane or None, WCS), or None when there is no alpha image."""
    if alpha is not None:
        adata = open_fits_image(alpha)
        error = open_fits_image(alpha_error)["SKY"][0, 0, 0].data if alpha_error else None
        return adata["SKY"][0, 0, 0].data, error, celestial_wcs(adata)
    if "ALPHA" in ds.data_vars:
        error = ds["ALPHA_ERROR"][0, 0, 0].data if "ALPHA_ERROR" in ds.data_vars else None
        return ds["ALPHA"][0, 0, 0].data, error, celestial_wcs(ds)
    return None


def catalog_table(image: str | os.PathLike, *, alpha: str | os.PathLike | None = None,
                  alpha_error: str | os.PathLike | None = None,
                  config: CatalogConfig | None = None,
                  scheduler: str | None = None) -> pd.DataFrame:  # fmt: skip
    """The component catalog of one image (with ``Alpha``/``E_Alpha`` when an alpha image is
    given, or the store holds ``ALPHA``), not written anywhere."""
    ds, name, tile = open_image(image)
    table = find_sources(ds, config, image_name=name, tile=tile, scheduler=scheduler)
    if alpha_error is not None and alpha is None:
        raise InputError("--alpha-error needs --alpha")
    planes = _alpha_planes(ds, Path(alpha) if alpha else None,
                           Path(alpha_error) if alpha_error else None)
    if planes is not None:
        table["Alpha"], table["E_Alpha"] = spectral_indices(table, planes[0], planes[2],
                                                            planes[1], scheduler=scheduler)
    return make_catalog(table)


def _write_all(table: pd.DataFrame, outputs: Sequence[str | os.PathLike | None], *,
               overwrite: bool, inputs: Sequence[Any]) -> list[Path]:  # fmt: skip
    return [write_catalog(table, p, overwrite=overwrite, inputs=inputs)
            for p in outputs if p is not None]  # fmt: skip


def catalog_image(image: str | os.PathLike, out: str | os.PathLike, *,
                  alpha: str | os.PathLike | None = None,
                  alpha_error: str | os.PathLike | None = None,
                  fits_out: str | os.PathLike | None = None,
                  csv_out: str | os.PathLike | None = None,
                  config: CatalogConfig | None = None,
                  overwrite: bool = False) -> CatalogResult:  # fmt: skip
    """Find the components of one image and write the catalog (Parquet/FITS/CSV by suffix).

    Parameters
    ----------
    image
        Zarr image store or FITS image (with a restoring beam).
    out
        Catalog file (``.parquet``, ``.fits`` or ``.csv``).
    alpha, alpha_error
        FITS spectral-index image and its error image (any grid covering the components).
    fits_out, csv_out
        Extra copies as a FITS table / CSV.
    config
        Finder parameters.
    overwrite
        Replace existing outputs (never an input).

    Raises
    ------
    InputError
        Bad input (no beam, no finite pixel, unreadable file); ProductExistsError for an
        existing output without ``overwrite``. Nothing is written then.

    Notes
    -----
    Peak memory: see :func:`vlassdask.catalog.find.find_sources` (a chunk per task).
    """
    inputs = [p for p in (image, alpha, alpha_error) if p is not None]
    outputs = [out, fits_out, csv_out]
    check_outputs(outputs, overwrite=overwrite, inputs=inputs)
    table = catalog_table(image, alpha=alpha, alpha_error=alpha_error, config=config)
    return CatalogResult(table, _write_all(table, outputs, overwrite=overwrite, inputs=inputs))


def _catalog_task(source: ProductSource, config: CatalogConfig | None) -> tuple[str, Any]:
    """One batch task: the catalog of one product on this thread, or its error message."""
    try:
        return "ok", catalog_table(source.path, config=config, scheduler="synchronous")
    except VlassdaskError as exc:
        return "error", str(exc)


def catalog_batch(directory: str | os.PathLike, out: str | os.PathLike, *,
                  fits_out: str | os.PathLike | None = None,
                  csv_out: str | os.PathLike | None = None,
                  config: CatalogConfig | None = None,
                  radius_arcsec: float = DUPLICATE_RADIUS_ARCSEC,
                  keep_duplicates: bool = False, overwrite: bool = False,
                  progress: bool = True) -> CatalogResult:  # fmt: skip
    """Catalog every image under ``directory`` in parallel and merge them into a survey
    catalog (duplicates in overlaps resolved, :func:`vlassdask.catalog.merge.merge_catalogs`).

    One dask task per image (:func:`vlassdask.products.qa.find_products` finds Zarr stores and
    VLASS FITS images) on the current scheduler (a distributed client if one is active); each
    task searches its image on its own thread. Images that fail are reported in ``errors``.

    Raises
    ------
    InputError
        No images, or none could be catalogued.

    Notes
    -----
    Peak memory per task: that of :func:`vlassdask.catalog.find.find_sources` for one image run
    synchronously (a few chunks); the client holds the catalogs.
    """
    outputs = [out, fits_out, csv_out]
    check_outputs(outputs, overwrite=overwrite, inputs=[directory])
    sources = find_products(directory)
    if not sources:
        raise InputError(f"no images (Zarr image stores or VLASS FITS images) in {directory}")
    tasks = [dask.delayed(_catalog_task, pure=False)(s, config) for s in sources]
    results = dask.compute(*persist_with_progress(*tasks, show=progress))
    tables = [r for status, r in results if status == "ok"]
    errors = {str(s.path): r for s, (status, r) in zip(sources, results, strict=True)
              if status == "error"}  # fmt: skip
    if not tables:
        raise InputError(f"no image in {directory} could be catalogued: "
                         + "; ".join(f"{k}: {v}" for k, v in errors.items()))
    table = merge_catalogs(tables, radius_arcsec=radius_arcsec, keep_duplicates=keep_duplicates)
    files = _write_all(table, outputs, overwrite=overwrite, inputs=[directory])
    return CatalogResult(table, files, errors)


def read_component_catalog(path: str | os.PathLike) -> pd.DataFrame:
    """Read a component catalog and validate it (RA/Dec and the columns a step needs).

    Raises
    ------
    InputError
        Unreadable file, or no ``RA``/``DEC`` columns.
    """
    table = read_catalog(path)
    if "RA" not in table or "DEC" not in table:
        raise InputError(f"{path} has no RA and DEC columns (a vlassdask/PyBDSF component "
                         "catalog is needed)")
    return table


def dragns_catalog(catalog: str | os.PathLike, out: str | os.PathLike, *,
                   config: DragnConfig | None = None, overwrite: bool = False) -> CatalogResult:
    """Find the DRAGNs of a (survey) component catalog and write them."""
    check_outputs([out], overwrite=overwrite, inputs=[catalog])
    table = read_component_catalog(catalog)
    check_catalog(table, require=("RA", "DEC", "Total_flux", "E_Total_flux", "DC_Maj", "DC_PA",
                                  "Component_name"))
    dragns = find_dragns(table, config)
    return CatalogResult(dragns, _write_all(dragns, [out], overwrite=overwrite,
                                            inputs=[catalog]))


def crossmatch_catalog(catalog: str | os.PathLike, external: str | os.PathLike,
                       out: str | os.PathLike, *, radius_arcsec: float = DEFAULT_RADIUS_ARCSEC,
                       overwrite: bool = False) -> CatalogResult:  # fmt: skip
    """Cross-match a component catalog with an external catalog file and write the result."""
    check_outputs([out], overwrite=overwrite, inputs=[catalog, external])
    if not radius_arcsec > 0:
        raise InputError(f"the match radius must be positive, got {radius_arcsec}")
    table = read_component_catalog(catalog)
    other = read_catalog(external)
    ra, dec = sky_columns(other, external)
    matched = crossmatch(table, other, ra=ra, dec=dec, radius_arcsec=radius_arcsec)
    return CatalogResult(matched, _write_all(matched, [out], overwrite=overwrite,
                                             inputs=[catalog, external]))


def compare_catalog_files(a: str | os.PathLike, b: str | os.PathLike, out: str | os.PathLike,
                          *, overwrite: bool = False) -> CatalogComparison:  # fmt: skip
    """Compare two catalogs (Memo 19) and write the report directory ``out``."""
    check_outputs([out], overwrite=overwrite, inputs=[a, b])
    comparison = compare_catalogs(read_component_catalog(a), read_component_catalog(b))
    write_comparison_report(comparison, out, names=(str(a), str(b)), overwrite=overwrite)
    return comparison


def calibrator_check(ms: str | os.PathLike, field_name: str, out: str | os.PathLike, *,
                     data_column: str = "DATA", overwrite: bool = False) -> CalibratorCheck:
    """Run the resolved-calibrator test on a field of an MS and write the report ``out``."""
    check_outputs([out], overwrite=overwrite, inputs=[ms])
    amplitudes = read_field_amplitudes(ms, field_name, data_column=data_column)
    check = check_calibrator(amplitudes.uv_klambda, amplitudes.amplitude, amplitudes.weight,
                             field=field_name)
    write_calibrator_report(check, out, ms=str(ms), overwrite=overwrite)
    return check


__all__ = ["CatalogResult", "calibrator_check", "catalog_batch", "catalog_image",
           "catalog_table", "compare_catalog_files", "crossmatch_catalog", "dragns_catalog",
           "open_image", "read_component_catalog"]
