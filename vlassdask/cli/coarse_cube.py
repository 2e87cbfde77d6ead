"""``vlassdask coarse-cube``: one phase centre -> its coarse cube (spw x I, Q, U) with rejection.

A thin layer over :func:`vlassdask.products.coarse_cube.make_coarse_cube`.
"""

from __future__ import annotations

import contextlib
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
from vlassdask.io.config_files import read_yaml_mapping


def coarse_cube(
    ms: ProductMsOption,
    phasecenter: PhaseCenterOption,
    out: ProductOutOption,
    config: Annotated[Path | None, typer.Option(
        "--config", help="Coarse-cube YAML (pipelines/coarse_cube.yaml); default: the built-in "
        "VLASS values, which that file lists.")] = None,
    preset: PresetOption = None,
    scheduler: SchedulerOption = None,
    cluster: ClusterOption = None,
    overwrite: OverwriteOption = False,
    json_out: JsonOption = False,
) -> None:
    """Make the coarse cube of one phase centre: every spectral window x Stokes I, Q, U.

    Counts each spectral window's flags over the fields reaching the image and does not image
    a window with more than 12 fields above 90% flagged (or fully flagged); images and CLEANs
    the others plane by plane in parallel (each window's visibilities prepared once for I, Q
    and U); then rejects planes whose flagged fraction is >= 80% or whose beam is more than 20%
    from the frequency-scaled median beam. Writes <out>/VLASS<epoch>.cc.<tile>.<name>.10.2048
    .v1.IQU.iter3.zarr (all planes, with beams, noise images, flag fractions and statuses),
    VLASS-named FITS per imaged spectral window (IQU with a BEAMS table, and its .rms), the
    spectral index of Stokes I (.alpha.zarr and FITS), the common-beam cube, the band-averaged
    Stokes V image, an HTML report with the flag and beam plot, and a JSON summary.
    """
    from vlassdask.products.coarse_cube import make_coarse_cube
    from vlassdask.products.coarse_cube_config import CoarseCubeConfig

    doc = read_yaml_mapping(config, what="coarse-cube configuration") if config else {}
    cfg = CoarseCubeConfig.from_document(doc, preset=preset)
    with run_on_scheduler(scheduler, cluster, job_bytes=path_bytes(ms)), \
            contextlib.redirect_stdout(sys.stderr):
        console.print(f"coarse-cube {ms} at {phasecenter} -> {out} ({cfg.imsize}^2 planes at "
                      f"{cfg.plane.imaging.cell_arcsec:g}\", Stokes {cfg.stokes})")
        product = make_coarse_cube(ms, phasecenter, out, cfg, overwrite=overwrite,
                                   command=" ".join(sys.argv), log=console.print)
    for path in [*product.files, product.names.report / "report.html", product.names.summary]:
        console.print(f"wrote {path}")
    console.print(f"accepted planes (spw): {product.accepted or 'none'}")
    if json_out:
        print(json.dumps(product.summary, default=str))


def register(app: typer.Typer) -> None:
    """Add the ``coarse-cube`` command to ``app``."""
    app.command("coarse-cube")(coarse_cube)
