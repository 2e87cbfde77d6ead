"""CLI commands that turn an image store into FITS files and PNG previews."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from vlassdask.cli.common import OverwriteOption, console
from vlassdask.io.fits_export import export_fits
from vlassdask.io.image_store import open_image_store
from vlassdask.io.preview import STRETCHES, write_preview_png

StoreArgument = Annotated[
    Path, typer.Argument(help="Image store (a Zarr directory written by vlassdask).")
]


def export_fits_command(
    store: StoreArgument,
    out: Annotated[
        Path,
        typer.Option(
            "--out",
            help="Output FITS file. With several --variable options the files are named "
            "<stem>.<variable>.fits beside it (img.fits -> img.sky.fits, img.rms.fits).",
        ),
    ],
    variable: Annotated[
        list[str] | None,
        typer.Option(
            "--variable",
            help="Image variable to export (SKY, RESIDUAL, MODEL, POINT_SPREAD_FUNCTION, "
            "PRIMARY_BEAM, RMS, ALPHA, ...); repeat for several. Default: SKY.",
        ),
    ] = None,
    overwrite: OverwriteOption = False,
) -> None:
    """Export image variables of a store as FITS (RA---SIN/DEC--SIN, FREQ, STOKES axes)."""
    paths = export_fits(store, out, variables=variable or ["SKY"], overwrite=overwrite)
    for path in paths:
        console.print(f"wrote {path}")


def preview_command(
    store: StoreArgument,
    out: Annotated[Path, typer.Option("--out", help="Output PNG file.")],
    variable: Annotated[
        str, typer.Option("--variable", help="Image variable to show (default SKY).")
    ] = "SKY",
    stretch: Annotated[
        str, typer.Option("--stretch", help=f"Colour stretch: {' or '.join(STRETCHES)}.")
    ] = "asinh",
    percentile: Annotated[
        float | None,
        typer.Option("--percentile", help="Colour-map this central percentile of the pixel "
                     "values. Default: a noise-based scale (-3 sigma to the peak, asinh knee at "
                     "5 sigma)."),
    ] = None,
    overwrite: OverwriteOption = False,
) -> None:
    """Render the first plane of an image variable as a PNG with RA/Dec axes."""
    ds = open_image_store(store)
    path = write_preview_png(
        ds, out, variable=variable, stretch=stretch, percentile=percentile, overwrite=overwrite
    )
    console.print(f"wrote {path}")


def register(app: typer.Typer) -> None:
    """Add the ``export-fits`` and ``preview`` commands to ``app``."""
    app.command("export-fits")(export_fits_command)
    app.command("preview")(preview_command)
