"""``vlassdask catalog``, ``dragns``, ``crossmatch``, ``compare-catalogs`` and
``calibrator-check``: source catalogs and the calibration-side checks (docs/catalogs.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from vlassdask.cli.common import (
    ClusterOption,
    OverwriteOption,
    SchedulerOption,
    console,
    run_on_scheduler,
)
from vlassdask.errors import InputError

JsonOption = Annotated[bool, typer.Option("--json", help="Print a one-line JSON summary on "
                                          "stdout.")]  # fmt: skip


def _load_config(path: Path | None):
    from vlassdask.catalog.config import CatalogConfig, catalog_config_from_dict
    from vlassdask.io.config_files import read_yaml_mapping

    if path is None:
        return CatalogConfig()
    values = read_yaml_mapping(path, what="catalog config")
    return catalog_config_from_dict(values.get("catalog", values))


def catalog_command(
    image: Annotated[Path | None, typer.Argument(
        help="Image to search: a Zarr image store or a FITS image with a restoring beam "
        "(omit with --batch).", show_default=False)] = None,
    out: Annotated[Path, typer.Option(
        "--out", help="Catalog to write: .parquet, .fits or .csv.", show_default=False)] = ...,
    batch: Annotated[Path | None, typer.Option(
        "--batch", help="Catalog every Zarr store and VLASS FITS image under this directory in "
        "parallel and merge them into one survey catalog (duplicates in overlaps flagged).")
    ] = None,
    alpha: Annotated[Path | None, typer.Option(
        "--alpha", help="FITS spectral-index image: adds Alpha/E_Alpha (3x3 mean around each "
        "component's peak pixel).")] = None,
    alpha_error: Annotated[Path | None, typer.Option(
        "--alpha-error", help="FITS spectral-index error image (for E_Alpha).")] = None,
    fits_out: Annotated[Path | None, typer.Option(
        "--fits", help="Also write the catalog as this FITS table.")] = None,
    csv_out: Annotated[Path | None, typer.Option(
        "--csv", help="Also write the catalog as this CSV file.")] = None,
    config: Annotated[Path | None, typer.Option(
        "--config", help="YAML with a 'catalog:' section (thresholds, rms boxes). Default: "
        "the VLASS values.")] = None,
    keep_duplicates: Annotated[bool, typer.Option(
        "--keep-duplicates", help="With --batch: keep the duplicates that were not preferred "
        "(Duplicate_flag 2).")] = False,
    scheduler: SchedulerOption = None,
    cluster: ClusterOption = None,
    overwrite: OverwriteOption = False,
    json_out: JsonOption = False,
) -> None:
    """Find and measure the components of an image (PyBDSF-style Gaussian decomposition) and
    write the catalog; with --batch, catalog many images and merge them.

    One image runs on dask's threaded scheduler unless --scheduler/--cluster says otherwise;
    --batch runs one task per image on an embedded LocalCluster by default.
    """
    from vlassdask.products.catalog import catalog_batch, catalog_image

    if (image is None) == (batch is None):
        raise InputError("give either an IMAGE or --batch DIR")
    cfg = _load_config(config)
    if batch is not None:
        if alpha or alpha_error:
            raise InputError("--alpha/--alpha-error go with one image, not with --batch")
        with run_on_scheduler(scheduler, cluster):
            result = catalog_batch(batch, out, fits_out=fits_out, csv_out=csv_out, config=cfg,
                                   keep_duplicates=keep_duplicates, overwrite=overwrite)
        for path, message in result.errors.items():
            console.print(f"warning: {path} was not catalogued: {message}", highlight=False)
    else:
        with run_on_scheduler(scheduler, cluster, default="threads"):
            result = catalog_image(image, out, alpha=alpha, alpha_error=alpha_error,
                                   fits_out=fits_out, csv_out=csv_out, config=cfg,
                                   overwrite=overwrite)
    console.print(f"{len(result.table)} components", highlight=False)
    for path in result.files:
        console.print(f"wrote {path}", highlight=False)
    if json_out:
        print(json.dumps({"components": len(result.table),
                          "files": [str(p) for p in result.files], "errors": result.errors}))


def dragns_command(
    catalog: Annotated[Path, typer.Argument(help="Component (survey) catalog.",
                                            show_default=False)],
    out: Annotated[Path, typer.Option("--out", help="DRAGN table to write: .parquet, .fits or "
                                      ".csv.", show_default=False)] = ...,
    overwrite: OverwriteOption = False,
    json_out: JsonOption = False,
) -> None:
    """Find double radio sources (DRAGNs) and their cores in a component catalog (SPEC.md
    rules: resolved lobes above 1.2 mJy, misalignment/separation cut, core within 30")."""
    from vlassdask.products.catalog import dragns_catalog

    result = dragns_catalog(catalog, out, overwrite=overwrite)
    cores = int((result.table["Core_id"] >= 0).sum()) if len(result.table) else 0
    console.print(f"{len(result.table)} DRAGNs ({cores} with a core); wrote {out}",
                  highlight=False)
    if json_out:
        print(json.dumps({"dragns": len(result.table), "with_core": cores, "out": str(out)}))


def crossmatch_command(
    catalog: Annotated[Path, typer.Argument(help="Component catalog.", show_default=False)],
    external: Annotated[Path, typer.Argument(
        help="External catalog (.parquet, .fits or .csv) with RA/Dec columns in degrees.",
        show_default=False)],
    out: Annotated[Path, typer.Option("--out", help="Matched table to write.",
                                      show_default=False)] = ...,
    radius: Annotated[float, typer.Option("--radius", help="Cone radius in arcsec.")] = 1.5,
    overwrite: OverwriteOption = False,
) -> None:
    """Cross-match a component catalog with an external catalog by position (nearest match
    within --radius; the external columns are added with an X_ prefix)."""
    from vlassdask.products.catalog import crossmatch_catalog

    result = crossmatch_catalog(catalog, external, out, radius_arcsec=radius,
                                overwrite=overwrite)
    matched = int((result.table["X_index"] >= 0).sum())
    console.print(f"{matched} of {len(result.table)} components matched; wrote {out}",
                  highlight=False)


def compare_command(
    a: Annotated[Path, typer.Argument(help="Catalog A (e.g. without a calibrator model).",
                                      show_default=False)],
    b: Annotated[Path, typer.Argument(help="Catalog B.", show_default=False)],
    out: Annotated[Path, typer.Option("--out", help="Report directory to create.",
                                      show_default=False)] = ...,
    overwrite: OverwriteOption = False,
    json_out: JsonOption = False,
) -> None:
    """Compare two catalogs of the same images (VLASS Memo 19): match within 0.5", fit
    Gaussians to the flux, peak and alpha differences, per tile and overall; write PNGs and an
    HTML page."""
    from vlassdask.products.catalog import compare_catalog_files

    comparison = compare_catalog_files(a, b, out, overwrite=overwrite)
    for quantity, fit in comparison.fits["overall"].items():
        console.print(f"{quantity}: B - A mean {fit.mean:.4g} +/- {fit.e_mean:.2g}, sigma "
                      f"{fit.sigma:.4g} ({fit.n} matched)", highlight=False)
    console.print(f"wrote {out / 'index.html'}", highlight=False)
    if json_out:
        print(json.dumps(comparison.summary(), default=float))


def calibrator_command(
    ms: Annotated[Path, typer.Option("--ms", help="Measurement Set holding the calibrator.",
                                     show_default=False)] = ...,
    field: Annotated[str, typer.Option("--field", help="FIELD name of the calibrator.",
                                       show_default=False)] = ...,
    out: Annotated[Path, typer.Option("--out", help="Report directory to create.",
                                      show_default=False)] = ...,
    data_column: Annotated[str, typer.Option("--data-column", help="Visibility column.")
                           ] = "DATA",
    overwrite: OverwriteOption = False,
    json_out: JsonOption = False,
) -> None:
    """Resolved-calibrator test: amplitude against uv distance, flagged where it deviates from a
    point source by more than 3% (a model is needed when that happens between 35 and 90
    klambda)."""
    from vlassdask.products.catalog import calibrator_check

    check = calibrator_check(ms, field, out, data_column=data_column, overwrite=overwrite)
    summary = check.summary()
    console.print(f"{field}: {check.verdict} ({summary['meaning']}); wrote "
                  f"{out / 'index.html'}", highlight=False)
    if json_out:
        print(json.dumps(summary))


def register(app: typer.Typer) -> None:
    """Add the catalog commands to ``app``."""
    app.command("catalog")(catalog_command)
    app.command("dragns")(dragns_command)
    app.command("crossmatch")(crossmatch_command)
    app.command("compare-catalogs")(compare_command)
    app.command("calibrator-check")(calibrator_command)
