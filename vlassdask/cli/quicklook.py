"""``vlassdask quicklook``: one phase centre of an on-the-fly MS -> the VLASS Quick Look products.

A thin layer over :func:`vlassdask.products.quicklook.make_quicklook_product`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from vlassdask.cli.common import (
    ClusterOption,
    JsonOption,
    OverwriteOption,
    PhaseCenterOption,
    PresetOption,
    ProductMsOption,
    ProductOutOption,
    SchedulerOption,
    console,
    path_bytes,
    run_on_scheduler,
)
from vlassdask.cli.imaging import DeviceOption, resolved_device
from vlassdask.io.config_files import read_yaml_mapping

#: Exit status when QA did not accept the image (needs review or rejected); products are written.
NOT_ACCEPTED_EXIT = 4


def quicklook(
    ms: ProductMsOption,
    phasecenter: PhaseCenterOption,
    out: ProductOutOption,
    config: Annotated[Path | None, typer.Option(
        "--config", help="Quick Look YAML (pipelines/quicklook.yaml); default: the built-in "
        "VLASS values, which that file lists.")] = None,
    preset: PresetOption = None,
    visibility_cache: Annotated[str, typer.Option(
        "--visibility-cache", help="Where the prepared visibilities stay between major cycles: "
        "memory, zarr or auto.")] = "auto",
    device: DeviceOption = None,
    scheduler: SchedulerOption = None,
    cluster: ClusterOption = None,
    overwrite: OverwriteOption = False,
    json_out: JsonOption = False,
    fail_unless_accepted: Annotated[bool, typer.Option(
        "--fail-unless-accepted", help="Exit with status 4 when QA did not accept the image "
        "(needs review or rejected); the products are written either way.")] = False,
) -> None:
    """Make the Quick Look image of one phase centre, with QA and retries as VLASS did.

    Selects the fields whose primary beam reaches the image, images and CLEANs inside the mosaic
    primary-beam mask, measures the rms image, runs QA and retries with the next step of the
    retry ladder while QA says retry. Writes <out>/VLASS<epoch>.ql.<tile>.<name>.10.2048.v1.I
    .iter1.zarr (full images, every attempt), the VLASS-named FITS sub-images (image.pbcor.tt0,
    its .rms and the .pb), a PNG, the QA report directory and a JSON summary. A QA decision
    other than accepted is an outcome, not an error (exit 0) unless --fail-unless-accepted.
    """
    from vlassdask.products.quicklook import make_quicklook_product
    from vlassdask.products.quicklook_config import QuickLookConfig

    doc = read_yaml_mapping(config, what="Quick Look configuration") if config else {}
    cfg = QuickLookConfig.from_document(doc, preset=preset)
    cfg = dataclasses.replace(cfg, imaging=cfg.imaging.replace(
        device=resolved_device(device or cfg.imaging.device)))
    with run_on_scheduler(scheduler, cluster, job_bytes=path_bytes(ms)) as threads, \
            contextlib.redirect_stdout(sys.stderr):
        cfg = cfg.with_threads(threads.total, threads.per_worker)
        console.print(f"quicklook {ms} at {phasecenter} -> {out} (image {cfg.ladder.imsize}^2 "
                      f"at {cfg.imaging.cell_arcsec}\", sub-image {cfg.subimage_size}^2)")
        product = make_quicklook_product(
            ms, phasecenter, out, cfg, overwrite=overwrite, command=" ".join(sys.argv),
            progress=lambda record: console.print(record.line()), log=console.print,
            visibility_cache=visibility_cache)
    names = product.names
    for path in [names.store, *product.fits, names.preview, names.qa_report / "report.html",
                 names.summary]:
        console.print(f"wrote {path}")
    last = product.attempts[-1]
    console.print(f"QA decision after {len(product.attempts)} attempt(s): {product.decision}"
                  + "".join(f"; {r.message}" for r in last.qa.reasons))
    if json_out:
        print(json.dumps(product.summary, default=str))
    if fail_unless_accepted and product.decision != "accepted":
        raise typer.Exit(NOT_ACCEPTED_EXIT)


def register(app: typer.Typer) -> None:
    """Add the ``quicklook`` command to ``app``."""
    app.command("quicklook")(quicklook)
