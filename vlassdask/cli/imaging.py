"""``vlassdask image``: Measurement Set -> dirty image + PSF Zarr store (+ FITS, PNG)."""

from __future__ import annotations

import contextlib
import re
import sys
from pathlib import Path
from typing import Annotated

import typer

from vlassdask.cli.common import (
    ClusterOption,
    JsonOption,
    OverwriteOption,
    SchedulerOption,
    console,
    parse_spw_selection,
    path_bytes,
    report_outputs,
    run_on_scheduler,
)
from vlassdask.errors import ConfigError
from vlassdask.imaging.backend import NUMPY_BACKEND, resolve_backend
from vlassdask.imaging.config import DEVICES, WEIGHTINGS, ImagingConfig
from vlassdask.io.config_files import read_yaml_mapping

_ANGLE_UNITS = {"arcsec": 1.0, "asec": 1.0, '"': 1.0, "arcmin": 60.0, "amin": 60.0, "'": 60.0,
                "deg": 3600.0, "mas": 1e-3, "": 1.0}


def parse_angle_arcsec(text: str) -> float:
    """'1arcsec', '0.6asec', '2"', '0.5arcmin', '1e-4deg' or a bare number (arcsec) -> arcsec."""
    match = re.fullmatch(r"\s*([-+0-9.eE]+)\s*([a-zA-Z\"']*)\s*", text)
    if not match or match.group(2).lower() not in _ANGLE_UNITS:
        raise ConfigError(f"cannot read the angle {text!r} (examples: 1arcsec, 0.5arcmin, 1e-4deg)")
    try:
        value = float(match.group(1))
    except ValueError as exc:
        raise ConfigError(f"cannot read the angle {text!r}") from exc
    return value * _ANGLE_UNITS[match.group(2).lower()]


def parse_phase_center(text: str) -> tuple[float, float]:
    """'RA DEC' in degrees or sexagesimal ('15:26:14 -16:30:00', '15h26m14s -16d30m') -> deg."""
    from astropy import units as u
    from astropy.coordinates import SkyCoord

    parts = text.replace(",", " ").split()
    if len(parts) != 2:
        raise ConfigError(f"phase centre must be 'RA DEC', got {text!r}")
    try:
        sexagesimal = any(c in parts[0] for c in ":hms")
        coord = SkyCoord(parts[0], parts[1], unit=(u.hourangle if sexagesimal else u.deg, u.deg))
    except ValueError as exc:
        raise ConfigError(f"cannot read the phase centre {text!r}: {exc}") from exc
    return float(coord.ra.deg), float(coord.dec.deg)


def parse_imsize(text: str) -> tuple[int, int]:
    """'512' (square), '512,384', '512x384' or '512 384' -> (nx, ny).

    Raises
    ------
    ConfigError
        If the text is not one or two integers (their values are checked by ImagingConfig).
    """
    parts = [p for p in re.split(r"[,x\s]+", text.strip().lower()) if p]
    try:
        values = [int(p) for p in parts]
    except ValueError:
        values = []
    if len(values) not in (1, 2):
        raise ConfigError(f"--imsize {text!r}: give one size (512) or two (512,384)")
    return values[0], values[-1]


def _imsize_callback(value: str | None) -> str | None:
    """Reject a malformed --imsize as a usage error (exit 2, with the --help hint)."""
    if value is not None:
        try:
            parse_imsize(value)
        except ConfigError as exc:
            raise typer.BadParameter(str(exc).split(": ", 1)[-1]) from None
    return value


#: Imaging options shared by ``vlassdask image`` and ``vlassdask clean``.
ImsizeOption = Annotated[str | None, typer.Option(
    "--imsize", callback=_imsize_callback, help="Image size in pixels: 512 (square), 512,384 "
    "or '512 384' (nx, ny); even. Default 2048.")]
CellOption = Annotated[str | None, typer.Option(
    "--cell", help="Pixel size with unit: 1arcsec, 0.6asec, 0.01arcmin (bare number: arcsec). "
    "Default 1arcsec.")]
WeightingOption = Annotated[str | None, typer.Option(
    "--weighting", help=f"Visibility weighting: {', '.join(WEIGHTINGS)}. Default briggs "
    "(VLASS; tclean: natural).")]
RobustOption = Annotated[float | None, typer.Option(
    "--robust", help="Briggs robustness, -2 (uniform-like) ... 2 (natural-like). Default 1 "
    "(VLASS; tclean: 0.5).")]
TaperOption = Annotated[str | None, typer.Option(
    "--taper", help="Gaussian uv taper given as its image-plane FWHM, e.g. 5arcsec.")]
GridderOption = Annotated[str | None, typer.Option(
    "--gridder", help="auto (w-projection where the w-term matters), wproject or 2d.")]
PhaseCenterOption = Annotated[str | None, typer.Option(
    "--phase-center", help="Image centre 'RA DEC' (degrees or hh:mm:ss dd:mm:ss). Default: "
    "the centre of the observed fields.")]
DataColumnOption = Annotated[str | None, typer.Option(
    "--data-column", help="Visibility column: DATA, CORRECTED_DATA, MODEL_DATA.")]
DeviceOption = Annotated[str | None, typer.Option(
    "--device", help=f"Where gridding, FFTs and major cycles run: {', '.join(DEVICES)}. gpu "
    "needs cupy and a CUDA device (pip install 'vlassdask[gpu]'; docs/gpu.md); auto uses the "
    "GPU when one is usable. Default cpu.")]


def resolved_device(device: str) -> str:
    """``device`` as it will run: ``auto`` becomes ``gpu`` or ``cpu`` (what the product's
    provenance records); ``gpu`` without cupy or a device raises
    :class:`~vlassdask.errors.ConfigError` (the CLI's one-line error). Unknown names are
    returned as given, for the configuration to refuse."""
    if device not in DEVICES:
        return device
    return "cpu" if resolve_backend(device) is NUMPY_BACKEND else "gpu"


def imaging_config(base: ImagingConfig, *, imsize: str | None, cell: str | None,
                   weighting: str | None, robust: float | None, taper: str | None,
                   gridder: str | None, phase_center: str | None, data_column: str | None,
                   device: str | None, **more) -> ImagingConfig:
    """``base`` with the shared imaging options (as typed on the command line) and ``more``
    (ImagingConfig fields) applied; options left out (None) keep the base value.

    The device is resolved here, before any work starts (:func:`resolved_device`).
    """
    device = resolved_device(device or base.device)
    return base.replace(
        imsize=parse_imsize(imsize) if imsize else None,
        cell_arcsec=parse_angle_arcsec(cell) if cell else None,
        weighting=weighting, robust=robust,
        taper_arcsec=parse_angle_arcsec(taper) if taper else None, gridder=gridder,
        phase_center_deg=parse_phase_center(phase_center) if phase_center else None,
        data_column=data_column, device=device, **more,
    )


def image(
    ms: Annotated[Path, typer.Option("--ms", help="Measurement Set to image.")],
    out: Annotated[Path, typer.Option("--out", help="Zarr image store to write (dirty.zarr).")],
    imsize: ImsizeOption = None,
    cell: CellOption = None,
    weighting: WeightingOption = None,
    robust: RobustOption = None,
    taper: TaperOption = None,
    gridder: GridderOption = None,
    wplanes: Annotated[int | None, typer.Option(
        "--wplanes", help="w-kernel planes per table; 1 = plain 2-D gridding. Default: from "
        "--epsilon.")] = None,
    wlayers: Annotated[int | None, typer.Option(
        "--wlayers", help="w-layers (1 = classic w-projection). Default: chosen by cost.")] = None,
    support: Annotated[int | None, typer.Option(
        "--support", help="Convolution kernel support in cells. Default: from --epsilon and w.")
    ] = None,
    epsilon: Annotated[float | None, typer.Option(
        "--epsilon", help="Requested relative accuracy of the gridding (default 1e-5).")] = None,
    padding: Annotated[float | None, typer.Option(
        "--padding", help="uv-grid size over image size (default: chosen by cost).")] = None,
    phase_center: PhaseCenterOption = None,
    field: Annotated[list[int] | None, typer.Option(
        "--field", help="FIELD_ID to image (repeatable). Default: all.")] = None,
    spw: Annotated[str | None, typer.Option(
        "--spw", help="Spectral windows to image, CASA style: 0,3 or 0~3 (or 0-3). Default: "
        "all.")] = None,
    data_column: DataColumnOption = None,
    device: DeviceOption = None,
    row_chunks: Annotated[int | None, typer.Option(
        "--row-chunks", help="Rows per dask chunk (memory per task).")] = None,
    config: Annotated[Path | None, typer.Option(
        "--config", help="YAML file with an 'imaging:' section; options given here override it.")
    ] = None,
    psf: Annotated[bool, typer.Option("--psf/--no-psf", help="Also make the PSF.")] = True,
    fits: Annotated[Path | None, typer.Option(
        "--fits", help="Also export the image to this FITS file.")] = None,
    preview: Annotated[Path | None, typer.Option(
        "--preview", help="Also write a PNG preview here (default: <out stem>.png).")] = None,
    no_preview: Annotated[bool, typer.Option("--no-preview", help="Write no PNG preview.")] = False,
    scheduler: SchedulerOption = None,
    cluster: ClusterOption = None,
    overwrite: OverwriteOption = False,
    json_out: JsonOption = False,
) -> None:
    """Make a dirty image and PSF of a Measurement Set and write them to a Zarr store.

    The default gridding is automatic: w-projection (within w-layers) when the w-term exceeds the
    requested accuracy anywhere in the field, plain 2-D gridding otherwise. Runs on an embedded
    LocalCluster unless --scheduler or --cluster says otherwise.
    """
    from vlassdask.products.dirty import make_dirty_product

    base = ImagingConfig.from_mapping(
        read_yaml_mapping(config, what="imaging configuration").get("imaging") or {}
    ) if config else ImagingConfig()
    cfg = imaging_config(
        base, imsize=imsize, cell=cell, weighting=weighting, robust=robust, taper=taper,
        gridder=gridder, phase_center=phase_center, data_column=data_column, device=device,
        w_planes=wplanes, w_layers=wlayers, support=support, epsilon=epsilon, padding=padding,
        fields=tuple(field) if field else None,
        spws=tuple(parse_spw_selection(spw)) if spw else None,
        row_chunks=row_chunks, make_psf=psf,
    )
    preview_path = None if no_preview else (preview or out.with_suffix(".png"))
    # progress bars (dask's and distributed's print to stdout) go to stderr: stdout carries --json
    with run_on_scheduler(scheduler, cluster, job_bytes=path_bytes(ms)) as threads, \
            contextlib.redirect_stdout(sys.stderr):
        cfg = cfg.with_threads(threads.total, threads.per_worker)
        console.print(f"imaging {ms} -> {out} ({cfg.imsize[0]}x{cfg.imsize[1]}, "
                      f"{cfg.cell_arcsec} arcsec, {cfg.weighting})")
        product = make_dirty_product(ms, out, cfg, overwrite=overwrite, fits=fits,
                                     preview=preview_path, command=" ".join(sys.argv))
    g = product.summary["gridding"]
    console.print(f"wrote {product.store} (peak {product.summary['peak_abs_jy_per_beam']:.4g} "
                  f"Jy/beam; gridder {'w-projection' if g['w_projection'] else '2-D'}, "
                  f"{g['w_layers']} w-layer(s), support {g['support']})")
    report_outputs(product, json_out=json_out)


def register(app: typer.Typer) -> None:
    """Add the ``image`` command to ``app``."""
    app.command("image")(image)
