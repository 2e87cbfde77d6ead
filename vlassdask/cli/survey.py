"""Survey commands: ``tiles``, ``phasecenters``, ``locate``, ``position-correction``, ``plan``.

Tables go to the terminal as rich tables, or to ``--out`` as CSV or Parquet (by suffix); the
commands that say so also print ``--json``. See ``docs/survey.md``.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer
from rich.console import Console
from rich.table import Table

from vlassdask.cli.common import OverwriteOption, console
from vlassdask.errors import InputError
from vlassdask.io.atomic import atomic_output
from vlassdask.io.schedule import read_schedule
from vlassdask.survey import (
    QL_SUBIMAGE_DEG,
    SE_SUBIMAGE_DEG,
    VLA_SITE,
    GridderThresholds,
    Site,
    covering_images,
    parse_dec,
    parse_ra,
    phase_centers,
    plan_schedule,
    position_correction,
    schedule_images,
    tile_of,
    tile_table,
    tiles_touching,
)

OutOption = Annotated[
    Path | None,
    typer.Option(
        "--out",
        help="Write the table to this file instead of printing it: .csv or .parquet.",
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print the result as JSON on stdout.")]
MaxRowsOption = Annotated[
    int,
    typer.Option("--max-rows", min=1, help="Print at most this many rows (use --out for all)."),
]
SiderealOption = Annotated[
    str,
    typer.Option(
        "--sidereal",
        help="Sidereal time: 'mean' (GMST, with J2000 RA/Dec, as the VLASS pipeline) or "
        "'apparent' (GAST, for apparent RA/Dec of date).",
    ),
]
SUBIMAGE_SIZES = {"ql": QL_SUBIMAGE_DEG, "se": SE_SUBIMAGE_DEG}


def _stdout() -> Console:
    return Console(width=shutil.get_terminal_size((160, 24)).columns, soft_wrap=False)


def _write_table(df: pd.DataFrame, out: Path, overwrite: bool) -> None:
    suffix = out.suffix.lower()
    if suffix not in (".csv", ".parquet", ".pq"):
        raise InputError(f"--out {out}: unknown table type {suffix!r} (use .csv or .parquet)")
    with atomic_output(out, overwrite=overwrite, directory=False) as tmp:
        if suffix == ".csv":
            df.to_csv(tmp, index=False)
        else:
            df.to_parquet(tmp, index=False)
    console.print(f"wrote {len(df)} rows to {out}")


def _print_table(df: pd.DataFrame, title: str, max_rows: int) -> None:
    table = Table(title=title)
    for col in df.columns:
        table.add_column(str(col), no_wrap=True)
    for row in df.head(max_rows).itertuples(index=False):
        table.add_row(*(f"{v:.6f}" if isinstance(v, float) else str(v) for v in row))
    _stdout().print(table)
    if len(df) > max_rows:
        console.print(f"{len(df) - max_rows} more rows not shown: use --out or --max-rows")


def _emit(df: pd.DataFrame, out: Path | None, overwrite: bool, title: str, max_rows: int) -> None:
    if out is not None:
        _write_table(df, out, overwrite)
    else:
        _print_table(df, title, max_rows)


def _print_json(payload: Any) -> None:
    print(json.dumps(payload, indent=2, default=str))


def tiles_command(
    tier: Annotated[
        int | None, typer.Option("--tier", help="Only this tier (1..32); default all tiers.")
    ] = None,
    out: OutOption = None,
    overwrite: OverwriteOption = False,
    max_rows: MaxRowsOption = 1000,
) -> None:
    """List the 899 VLASS tiles with their Dec/RA bounds (deg and hours) and areas."""
    df = tile_table(tier)
    _emit(df, out, overwrite, f"VLASS tiles ({len(df)})", max_rows)


def phasecenters_command(
    tile: Annotated[
        str | None, typer.Option("--tile", help="Tile name TNNtMM, e.g. T06t24.")
    ] = None,
    all_tiles: Annotated[
        bool, typer.Option("--all", help="All image phase centres of the survey.")
    ] = False,
    out: OutOption = None,
    overwrite: OverwriteOption = False,
    max_rows: MaxRowsOption = 1000,
) -> None:
    """Image phase centres (RA, Dec, Jhhmmss+ddmmss name) of one tile or of the whole sky."""
    if (tile is None) == (not all_tiles):
        raise InputError("give exactly one of --tile NAME or --all")
    df = phase_centers(None if all_tiles else tile)
    title = f"{len(df)} image phase centres" + ("" if all_tiles else f" of {tile}")
    _emit(df, out, overwrite, title, max_rows)


def locate_command(
    ra: Annotated[str, typer.Argument(help="RA: hh:mm:ss[.s] (hours) or decimal degrees.")],
    dec: Annotated[str, typer.Argument(help="Dec: [+-]dd:mm:ss[.s] or decimal degrees.")],
    product: Annotated[
        str, typer.Option("--product", help="Sub-image size to test coverage with: ql or se.")
    ] = "ql",
    as_json: JsonOption = False,
) -> None:
    """Which tile holds a sky position and which images (1 deg sub-images) cover it."""
    if product not in SUBIMAGE_SIZES:
        raise InputError(f"--product must be one of {tuple(SUBIMAGE_SIZES)}, got {product!r}")
    ra_deg, dec_deg = parse_ra(ra), parse_dec(dec)
    tile = str(tile_of(ra_deg, dec_deg))
    touching = [t.name for t in tiles_touching(ra_deg, dec_deg)]
    images = covering_images(ra_deg, dec_deg, image_size_deg=SUBIMAGE_SIZES[product])
    if as_json:
        _print_json(
            {
                "ra": ra_deg,
                "dec": dec_deg,
                "tile": tile,
                "tiles_touching": touching,
                "images": images.to_dict(orient="records"),
            }
        )
        return
    _stdout().print(f"RA {ra_deg:.6f} deg, Dec {dec_deg:+.6f} deg is in tile {tile}")
    if len(touching) > 1:
        _stdout().print(f"on the edge of tiles {', '.join(touching)}")
    _print_table(images, f"{len(images)} covering {product.upper()} image(s)", 100)


def position_correction_command(
    ra: Annotated[str, typer.Option("--ra", help="Uncorrected RA: decimal deg or hh:mm:ss.")],
    dec: Annotated[str, typer.Option("--dec", help="Uncorrected Dec: decimal deg or dd:mm:ss.")],
    mjd: Annotated[float, typer.Option("--mjd", help="Mean observing time, UTC MJD.")],
    freq: Annotated[
        float, typer.Option("--freq", help="Image (plane) frequency in Hz; scales as (3 GHz/nu)^2.")
    ] = 3.0e9,
    lat: Annotated[
        float, typer.Option("--lat", help="Site geodetic latitude, deg (default: the VLA).")
    ] = VLA_SITE.lat_deg,
    lon: Annotated[
        float, typer.Option("--lon", help="Site east longitude, deg (default: the VLA).")
    ] = VLA_SITE.lon_deg,
    amplitude: Annotated[
        float, typer.Option("--amplitude", help="Shift in arcsec at zeta = 45 deg and 3 GHz.")
    ] = 0.25,
    sidereal: SiderealOption = "mean",
    as_json: JsonOption = False,
) -> None:
    """The w-term position correction of an image centred at RA/Dec, observed at MJD."""
    corr = position_correction(
        parse_ra(ra),
        parse_dec(dec),
        mjd,
        freq_hz=freq,
        site=Site(lon_deg=lon, lat_deg=lat),
        amplitude_arcsec=amplitude,
        sidereal=sidereal,
    )
    result = corr.to_dict()
    if as_json:
        _print_json(result)
        return
    table = Table(title="w-term position correction")
    table.add_column("quantity")
    table.add_column("value", justify="right")
    for key, value in result.items():
        table.add_row(key, f"{value:.10g}")
    _stdout().print(table)


def plan_command(
    schedule: Annotated[
        Path,
        typer.Option(
            "--tiles-log",
            "--schedule",
            help="Schedule of tile observations: CSV/Parquet/text with columns tile, start_utc, "
            "stop_utc (ISO UTC) and optionally epoch (see docs/survey.md).",
        ),
    ],
    median_zd: Annotated[
        float, typer.Option("--median-zd", help="w-projection when median zenith distance >= this.")
    ] = 45.0,
    max_zd: Annotated[
        float, typer.Option("--max-zd", help="w-projection when maximum zenith distance >= this.")
    ] = 50.0,
    images: Annotated[
        bool, typer.Option("--images", help="One row per image instead of one per tile.")
    ] = False,
    sidereal: SiderealOption = "mean",
    out: OutOption = None,
    overwrite: OverwriteOption = False,
    max_rows: MaxRowsOption = 1000,
    as_json: JsonOption = False,
) -> None:
    """Per scheduled tile: zenith-distance statistics of its images and the gridder choice."""
    table = read_schedule(schedule)
    thresholds = GridderThresholds(median_deg=median_zd, max_deg=max_zd)
    if images:
        df = schedule_images(table, sidereal=sidereal)
    else:
        df = plan_schedule(table, thresholds=thresholds, sidereal=sidereal)
    if out is not None:
        _write_table(df, out, overwrite)
    if as_json:
        _print_json(df.to_dict(orient="records"))
    elif out is None:
        _print_table(df, "Imaging plan", max_rows)


def register(app: typer.Typer) -> None:
    """Add the survey commands to ``app``."""
    app.command("tiles")(tiles_command)
    app.command("phasecenters")(phasecenters_command)
    app.command("locate", context_settings={"ignore_unknown_options": True})(locate_command)
    app.command("position-correction")(position_correction_command)
    app.command("plan")(plan_command)
