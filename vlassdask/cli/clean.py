"""``vlassdask clean``: Measurement Set -> Cotton-Schwab CLEAN -> restored image product.

Options are named as CASA tclean names its parameters; each help text gives tclean's default.
"""

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
    path_bytes,
    report_outputs,
    run_on_scheduler,
)
from vlassdask.cli.imaging import (
    CellOption,
    DataColumnOption,
    DeviceOption,
    GridderOption,
    ImsizeOption,
    PhaseCenterOption,
    RobustOption,
    TaperOption,
    WeightingOption,
    imaging_config,
)
from vlassdask.deconvolution.config import CleanConfig
from vlassdask.deconvolution.minor_cycle import DECONVOLVERS
from vlassdask.errors import ConfigError
from vlassdask.imaging.config import ImagingConfig
from vlassdask.io.config_files import read_yaml_mapping

#: Exit status of a run that stopped because CLEAN diverged (its product is written).
DIVERGED_EXIT = 3
_FLUX_UNITS = {"jy": 1.0, "mjy": 1e-3, "ujy": 1e-6, "µjy": 1e-6, "": 1.0}


def parse_flux_jy(text: str) -> float:
    """'0.1mJy', '100uJy', '1e-4Jy' or a bare number (Jy, as tclean reads it) -> Jy."""
    match = re.fullmatch(r"\s*([-+0-9.eE]+)\s*([a-zA-Zµ]*)(/beam)?\s*", text)
    if not match or match.group(2).lower() not in _FLUX_UNITS:
        raise ConfigError(f"cannot read the flux {text!r} (examples: 0.1mJy, 100uJy, 1e-4Jy)")
    try:
        value = float(match.group(1))
    except ValueError:
        raise ConfigError(f"cannot read the flux {text!r}") from None
    return value * _FLUX_UNITS[match.group(2).lower()]


def parse_scales(text: str) -> tuple[float, ...]:
    """'0,5,12' -> (0.0, 5.0, 12.0) (pixels)."""
    try:
        return tuple(float(v) for v in text.replace(" ", "").split(",") if v)
    except ValueError:
        raise ConfigError(f"--scales takes pixel sizes separated by commas, got {text!r}") \
            from None


def clean(
    ms: Annotated[Path, typer.Option("--ms", help="Measurement Set to image.")],
    out: Annotated[Path, typer.Option("--out", help="Zarr image store to write (img.zarr).")],
    imsize: ImsizeOption = None,
    cell: CellOption = None,
    weighting: WeightingOption = None,
    robust: RobustOption = None,
    taper: TaperOption = None,
    gridder: GridderOption = None,
    phase_center: PhaseCenterOption = None,
    data_column: DataColumnOption = None,
    device: DeviceOption = None,
    deconvolver: Annotated[str | None, typer.Option(
        "--deconvolver", help=f"Minor-cycle algorithm: {', '.join(DECONVOLVERS)}. tclean "
        "default: hogbom.")] = None,
    scales: Annotated[str | None, typer.Option(
        "--scales", help="Multiscale scale sizes in pixels, e.g. 0,5,12 (VLASS SE). tclean "
        "default: 0.")] = None,
    smallscalebias: Annotated[float | None, typer.Option(
        "--smallscalebias", help="Multiscale bias towards small scales, -1 ... 1. tclean "
        "default: 0.")] = None,
    niter: Annotated[int | None, typer.Option(
        "--niter", help="Total minor-cycle iterations. tclean default: 0 (dirty image only). "
        "VLASS QL: 20000.")] = None,
    cycleniter: Annotated[int | None, typer.Option(
        "--cycleniter", help="Most iterations per minor cycle; -1: up to niter. tclean default: "
        "-1. VLASS QL: 500.")] = None,
    nsigma: Annotated[float | None, typer.Option(
        "--nsigma", help="Stop when the peak residual is below nsigma x the robust rms "
        "(1.4826 x MAD inside the mask); 0: off. tclean default: 0. VLASS QL: 4.5.")] = None,
    threshold: Annotated[str | None, typer.Option(
        "--threshold", help="Global stopping threshold on the peak residual, e.g. 0.1mJy "
        "(bare number: Jy). tclean default: 0.")] = None,
    nmajor: Annotated[int | None, typer.Option(
        "--nmajor", help="Most major cycles; -1: no limit. tclean default: -1. VLASS QL: 220.")
    ] = None,
    gain: Annotated[float | None, typer.Option(
        "--gain", help="Loop gain, 0 < gain < 2. tclean default: 0.1.")] = None,
    cyclefactor: Annotated[float | None, typer.Option(
        "--cyclefactor", help="Minor-cycle threshold = cyclefactor x PSF sidelobe x peak "
        "residual, clamped by minpsffraction/maxpsffraction. tclean default: 1.0.")] = None,
    minpsffraction: Annotated[float | None, typer.Option(
        "--minpsffraction", help="Lower clamp of that fraction. tclean default: 0.05.")] = None,
    maxpsffraction: Annotated[float | None, typer.Option(
        "--maxpsffraction", help="Upper clamp of that fraction. tclean default: 0.8.")] = None,
    psfcutoff: Annotated[float | None, typer.Option(
        "--psfcutoff", help="Fit the restoring beam to the PSF down to this fraction of its "
        "peak. tclean default: 0.35.")] = None,
    divergence_factor: Annotated[float | None, typer.Option(
        "--divergence-factor", help="Stop as diverged when the peak residual grows by more "
        "than this factor (tclean: 3, fixed).")] = None,
    mask: Annotated[Path | None, typer.Option(
        "--mask", help="Clean mask on the image's grid: FITS image or image store, non-zero "
        "where components may go. tclean default: no mask.")] = None,
    visibility_cache: Annotated[str, typer.Option(
        "--visibility-cache", help="Where the prepared visibilities stay between major cycles: "
        "memory (on the workers), zarr (a cache beside --out, removed at the end) or auto "
        "(zarr when they would take over half the workers' memory).")] = "auto",
    savemodel: Annotated[bool, typer.Option(
        "--savemodel", help="Write the final model's visibilities into the MS's MODEL_DATA "
        "column (tclean savemodel='modelcolumn'), after the products are written. This changes "
        "the input MS. tclean default: none.")] = False,
    config: Annotated[Path | None, typer.Option(
        "--config", help="YAML file with 'imaging:' and 'clean:' sections "
        "(pipelines/clean.yaml); options given here override it.")] = None,
    fits: Annotated[Path | None, typer.Option(
        "--fits", help="Also export image, residual, model and PSF as <stem>.<variable>.fits.")
    ] = None,
    preview: Annotated[Path | None, typer.Option(
        "--preview", help="PNG preview of the restored image (default: <out stem>.png).")
    ] = None,
    no_preview: Annotated[bool, typer.Option("--no-preview", help="Write no PNG preview.")] = False,
    scheduler: SchedulerOption = None,
    cluster: ClusterOption = None,
    overwrite: OverwriteOption = False,
    json_out: JsonOption = False,
) -> None:
    """Deconvolve a Measurement Set with Cotton-Schwab CLEAN and write the restored image.

    Each major cycle recomputes the residual exactly from the visibilities; the run stops as
    tclean does (niter, threshold, nsigma, nmajor, no change, divergence) and records tclean's
    stop code. One line per major cycle shows the peak residual, robust rms, model flux,
    iterations and seconds. Writes the image store (restored SKY, RESIDUAL, MODEL, PSF, BEAM)
    and <out stem>.clean.json with every cycle and the stop reason. Exit status 3 when CLEAN
    diverged (the products are still written, for inspection).
    """
    from vlassdask.products.clean import make_clean_product

    sections = read_yaml_mapping(config, what="clean configuration") if config else {}
    imaging_base = ImagingConfig.from_mapping(sections.get("imaging") or {})
    clean_base = CleanConfig.from_mapping(sections.get("clean") or {})
    imaging_cfg = imaging_config(
        imaging_base, imsize=imsize, cell=cell, weighting=weighting, robust=robust, taper=taper,
        gridder=gridder, phase_center=phase_center, data_column=data_column, device=device)
    clean_cfg = clean_base.replace(
        deconvolver=deconvolver, scales=parse_scales(scales) if scales else None,
        smallscalebias=smallscalebias, niter=niter, cycleniter=cycleniter, nsigma=nsigma,
        threshold_jy=parse_flux_jy(threshold) if threshold else None, nmajor=nmajor, gain=gain,
        cyclefactor=cyclefactor, minpsffraction=minpsffraction, maxpsffraction=maxpsffraction,
        psfcutoff=psfcutoff, divergence_factor=divergence_factor,
    )
    preview_path = None if no_preview else (preview or out.with_suffix(".png"))
    with run_on_scheduler(scheduler, cluster, job_bytes=path_bytes(ms)) as threads, \
            contextlib.redirect_stdout(sys.stderr):
        imaging_cfg = imaging_cfg.with_threads(threads.total, threads.per_worker)
        console.print(f"cleaning {ms} -> {out} ({imaging_cfg.imsize[0]}x{imaging_cfg.imsize[1]}, "
                      f"{imaging_cfg.cell_arcsec} arcsec, {imaging_cfg.weighting}; "
                      f"{clean_cfg.deconvolver}, niter {clean_cfg.niter})")
        product = make_clean_product(
            ms, out, imaging_cfg, clean_cfg, mask=mask, overwrite=overwrite, fits=fits,
            preview=preview_path, command=" ".join(sys.argv),
            progress=lambda record: console.print(record.line()),
            visibility_cache=visibility_cache, savemodel=savemodel)
    s = product.summary
    beam = s["restoring_beam"]
    console.print(f"wrote {product.store}: stop code {s['stop_code']} ({s['stop_reason']}), "
                  f"{s['iterations']} iterations in {s['major_cycles']} major cycles; beam "
                  f"{beam['major_arcsec']:.3f}\" x {beam['minor_arcsec']:.3f}\" at "
                  f"{beam['pa_deg']:.1f} deg; final rms {s['final_rms_jy']:.4g} Jy/beam")
    console.print(f"prepared visibilities: {s['prepared_bytes'] / 2**20:.1f} MiB kept in "
                  f"{'a Zarr cache' if s['visibility_cache'] == 'zarr' else 'worker memory'}")
    console.print(f"wrote {product.cycles_json}")
    if savemodel:
        console.print(f"wrote MODEL_DATA into {ms}")
    report_outputs(product, json_out=json_out)
    if s["diverged"]:
        console.print(f"warning: CLEAN diverged ({s['stop_reason']}); the product is kept for "
                      "inspection: retry with a smaller --cycleniter or --gain")
        raise typer.Exit(DIVERGED_EXIT)


def register(app: typer.Typer) -> None:
    """Add the ``clean`` command to ``app``."""
    app.command("clean")(clean)
