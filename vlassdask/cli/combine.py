"""``vlassdask combine``: epoch images (Zarr stores or VLASS FITS) -> combined-epoch Zarr store."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import Annotated

import typer

from vlassdask.cli.common import (
    ClusterOption,
    OverwriteOption,
    SchedulerOption,
    console,
    report_outputs,
    run_on_scheduler,
)


def combine(
    inputs: Annotated[list[Path], typer.Argument(
        help="Epoch images: vlassdask image stores (with an RMS variable) and/or VLASS FITS "
        "images (...image.pbcor.tt0.subim.fits, whose ...rms.subim.fits beside them is used).",
        show_default=False)],
    out: Annotated[Path, typer.Option("--out", help="Combined Zarr store to write.")],
    rms: Annotated[list[Path] | None, typer.Option(
        "--rms", help="rms image of each input (FITS, or a store with RMS), in input order; "
        "repeat once per input. Default: found by VLASS naming (FITS) or the store's RMS.")
    ] = None,
    config: Annotated[Path | None, typer.Option(
        "--config", help="YAML with a combine: section (pipelines/combine.yaml; defaults are the "
        "VLASS values).")] = None,
    fits: Annotated[Path | None, typer.Option(
        "--fits", help="Also export FITS: combined.fits gives combined.sky.fits, "
        "combined.rms.fits and combined.coverage.fits.")] = None,
    preview: Annotated[Path | None, typer.Option(
        "--preview", help="Also write a PNG preview of the combined image here.")] = None,
    overwrite: OverwriteOption = False,
    scheduler: SchedulerOption = None,
    cluster: ClusterOption = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print a JSON summary on stdout.")
                        ] = False,
) -> None:
    """Combine epochs at a common beam: the RMS-weighted mean, its rms and the epoch coverage.

    Every input is convolved to the smallest beam enclosing all input beams (exact Gaussian
    difference kernel, Jy/beam kept), put on the first input's pixel grid where the grids differ
    (shift or interpolation), and averaged with weights 1/rms^2 per pixel. Runs on dask's
    threaded scheduler unless --scheduler or --cluster says otherwise.
    """
    from vlassdask.combine.config import CombineConfig
    from vlassdask.products.combined import combine_products, read_combine_config

    cfg = read_combine_config(config) if config else CombineConfig()
    with run_on_scheduler(scheduler, cluster, default="threads"), \
            contextlib.redirect_stdout(sys.stderr):  # fmt: skip
        product = combine_products(inputs, out, rms=rms, config=cfg, overwrite=overwrite,
                                   fits=fits, preview=preview, command=" ".join(sys.argv))
    beam = product.summary["common_beam"]
    console.print(f'wrote {product.store} (common beam {beam["major_arcsec"]:.4g}" x '
                  f'{beam["minor_arcsec"]:.4g}" PA {beam["pa_deg"]:.4g} deg)')
    report_outputs(product, json_out=json_out)


def register(app: typer.Typer) -> None:
    """Add the ``combine`` command to ``app``."""
    app.command("combine")(combine)
