"""Quick Look images: one phase centre of an on-the-fly Measurement Set -> the VLASS QL products.

:func:`make_quicklook_product` is the recipe behind ``vlassdask quicklook``:

1. the fields whose primary beam reaches the image of the phase centre are selected
   (:func:`vlassdask.imaging.mosaic_beam.fields_reaching`);
2. each attempt of the QA retry ladder (image size, ``cycleniter``) builds the imaging operator
   (reused while the image size does not change), the mosaic primary beam from the gridded
   weights, and CLEANs inside the PB mask (PB >= ``pb_limit``);
3. the products of the attempt: the flat-noise restored image, the PB-corrected image (NaN
   below the PB limit), the sliding-box rms of the PB-corrected image, the mosaic PB;
4. QA (:func:`vlassdask.qa.assess.assess`) decides: ``retry`` runs the next attempt, anything
   else ends the run; every attempt is kept;
5. the w-term position correction (2-D gridding) goes into the metadata; the store holds the
   full image; the FITS files are the VLASS-named central sub-images.

Units: the operator's images are normalised by the sum of weights, so a source of flux S appears
with ``S A(x)`` (``A`` the mosaic sensitivity). The products are divided by the peak of ``A``
(``SKY`` is the flat-noise image, as CASA's ``normtype='flatnoise'``) and ``SKY_PBCOR =
SKY / PRIMARY_BEAM`` (the beam normalised to peak 1). CLEAN's ``threshold`` applies to the
operator's image (before that division).

Peak memory: that of :func:`vlassdask.products.clean.make_clean_product` (prepared visibilities on
the workers, about ten float64 images in the major-cycle loop) plus, on the client, about eight
float32 full images of the attempt (PB, mask, restored, residual, model, PB-corrected, rms, PSF)
and the QA's copies of four planes.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dask
import dask.array as da
import numpy as np
import pandas as pd
import xarray as xr
from astropy.time import Time

from vlassdask.deconvolution.config import CleanConfig
from vlassdask.deconvolution.major_cycle import (
    CycleRecord,
    check_clean_config,
    client_images,
    cotton_schwab,
)
from vlassdask.errors import ConfigError, InputError
from vlassdask.imaging.imaging_operator import ImagingOperator
from vlassdask.imaging.mosaic_beam import (
    MosaicBeam,
    fields_reaching,
    mean_square_offset,
    mosaic_primary_beam,
    relative_beams,
)
from vlassdask.imaging.pointing_groups import field_mean_times, pointing_groups
from vlassdask.imaging.rms_image import sliding_rms
from vlassdask.io.atomic import atomic_output, check_can_write
from vlassdask.io.block_cache import ZarrBlockCache
from vlassdask.io.fits_export import export_fits
from vlassdask.io.image_schema import DEFAULT_CHUNK_PIXELS
from vlassdask.io.image_store import write_image_store
from vlassdask.io.ms_read import observation_mjd, open_measurement_set
from vlassdask.io.preview import write_preview_png
from vlassdask.io.qa_report import report_panels, write_qa_report
from vlassdask.products.clean import (
    MINOR_CYCLE_THREADS,
    clean_dataset,
    prepared_bytes,
    spills_to_zarr,
)
from vlassdask.products.display import beam_text, product_html
from vlassdask.products.quicklook_config import QuickLookConfig
from vlassdask.qa.assess import assess, subimage_box
from vlassdask.qa.decision import ImagingParameters, QAResult
from vlassdask.qa.types import QAImages
from vlassdask.survey.observing_log import read_observing_log
from vlassdask.survey.phase_centers import locate_phase_center
from vlassdask.survey.position_correction import (
    REFERENCE_FREQUENCY_HZ,
    apply_position_correction,
)
from vlassdask.survey.product_names import (
    ProductName,
    product_header_keywords,
    product_name_for,
)

#: Variable of each FITS sub-image -> how its name differs from the PB-corrected image's.
FITS_NAME_FIELDS: dict[str, dict[str, Any]] = {
    "SKY_PBCOR": {}, "RMS": {"rms": True}, "PRIMARY_BEAM": {"image_type": "pb"}}


@dataclass(frozen=True)
class QuickLookNames:
    """The VLASS names of one Quick Look product's files in the output directory."""

    image: ProductName
    out_dir: Path

    @property
    def stem(self) -> str:
        """``VLASS<epoch>.ql.<tile>.<name>.10.2048.v<version>.I.iter1``."""
        return self.image.file_name[: -len(".image.pbcor.tt0.subim.fits")]

    @property
    def store(self) -> Path:
        """The Zarr store (full images, every attempt's QA)."""
        return self.out_dir / f"{self.stem}.zarr"

    def product_of(self, variable: str) -> ProductName:
        """The name record of the FITS file of ``variable``."""
        return dataclasses.replace(self.image, **FITS_NAME_FIELDS[variable])

    @property
    def fits(self) -> dict[str, Path]:
        """Variable -> FITS sub-image: the PB-corrected image, its rms, the primary beam."""
        return {v: self.out_dir / self.product_of(v).file_name for v in FITS_NAME_FIELDS}

    @property
    def preview(self) -> Path:
        """PNG of the PB-corrected sub-image."""
        return self.out_dir / f"{self.stem}.image.pbcor.tt0.subim.png"

    @property
    def qa_report(self) -> Path:
        """QA report directory (result.json, attempts.json, report.html, thumbnails)."""
        return self.out_dir / f"{self.stem}.qa"

    @property
    def summary(self) -> Path:
        """JSON summary of the run (every attempt, its CLEAN cycles and QA)."""
        return self.out_dir / f"{self.stem}.quicklook.json"

    def all(self) -> list[tuple[Path, str]]:
        """Every output with its kind (for the pre-flight overwrite checks)."""
        return [(self.store, "store"), *((p, "file") for p in self.fits.values()),
                (self.preview, "file"), (self.qa_report, "store"), (self.summary, "file")]


@dataclass
class Attempt:
    """One imaging attempt: its parameters, CLEAN outcome and QA."""

    attempt: int
    imsize: int
    cycleniter: int
    niter: int
    nmajor: int
    stop_code: int
    stop_reason: str
    iterations: int
    major_cycles: int
    seconds: float
    qa: QAResult

    def to_dict(self) -> dict[str, Any]:
        """JSON form (the QA result in strict JSON)."""
        qa = self.qa.to_dict()
        return {"attempt": self.attempt, "imsize": self.imsize, "cycleniter": self.cycleniter,
                "niter": self.niter, "nmajor": self.nmajor,
                "stop_code": self.stop_code, "stop_reason": self.stop_reason,
                "iterations": self.iterations, "major_cycles": self.major_cycles,
                "seconds": round(self.seconds, 2), "decision": qa["decision"],
                "reasons": qa["reasons"], "statistics": qa["statistics"]}  # fmt: skip


@dataclass
class QuickLookProduct:
    """What :func:`make_quicklook_product` wrote and decided."""

    names: QuickLookNames
    decision: str
    attempts: list[Attempt] = field(default_factory=list)
    fits: list[Path] = field(default_factory=list)
    summary: dict = field(default_factory=dict)

    def _repr_html_(self) -> str:
        return product_html(f"vlassdask Quick Look {self.names.stem}", [
            ("store", self.names.store), ("FITS", self.fits), ("QA decision", self.decision),
            ("attempts", len(self.attempts)),
            ("restoring beam", beam_text(self.summary.get("restoring_beam"))),
            ("QA report", self.names.qa_report / "report.html"),
        ], preview=self.names.preview)


def _epoch(config: QuickLookConfig, tile: str, mjd: float) -> str:
    """The half-epoch of the file names: configured, or the logged one nearest the data."""
    if config.epoch != "auto":
        return config.epoch
    log = read_observing_log()
    rows = log[log["tile"] == tile]
    dates = pd.to_datetime(rows["date"], errors="coerce")
    data_date = pd.Timestamp(Time(mjd, format="mjd").datetime)
    days = (dates - data_date).abs().dt.days
    if rows.empty or days.isna().all() or days.min() > config.epoch_tolerance_days:
        when = data_date.strftime("%Y-%m-%d")
        raise ConfigError(f"cannot tell the VLASS epoch of data taken {when} on tile {tile} "
                          f"(no logged observation within {config.epoch_tolerance_days:g} "
                          "days): set quicklook.epoch, e.g. VLASS2.1")
    return str(rows["epoch"].iloc[int(days.to_numpy().argmin())])


def quicklook_names(phasecenter: str, out_dir: str | os.PathLike, config: QuickLookConfig,
                    mjd: float) -> tuple[QuickLookNames, tuple[float, float]]:  # fmt: skip
    """The product names of a phase centre and its (RA, Dec) in degrees.

    Raises
    ------
    InputError
        A malformed phase-centre name.
    ConfigError
        The epoch cannot be told (``epoch: auto`` and no logged observation near the data).
    """
    ra, dec, tile, _ = locate_phase_center(phasecenter)
    image = product_name_for(_epoch(config, tile, mjd), "ql", tile, phasecenter,
                             version=config.version, image_type="image.pbcor", taylor_term=0,
                             subimage=True)  # fmt: skip
    return QuickLookNames(image, Path(out_dir)), (ra, dec)


def attempt_clean_config(config: QuickLookConfig, params: ImagingParameters) -> CleanConfig:
    """The CLEAN configuration of one attempt: the configured one with the ladder's
    ``cycleniter`` (and ``niter``/``nmajor`` where the ladder sets them)."""
    changes = {"cycleniter": params.cycleniter}
    changes.update({k: getattr(params, k) for k in ("niter", "nmajor")
                    if getattr(params, k) is not None})
    return dataclasses.replace(config.clean, **changes)


def pixels(arcsec: float, cell_arcsec: float, minimum: int = 1) -> int:
    """A configured angle in whole pixels (at least ``minimum``)."""
    return max(minimum, int(round(arcsec / cell_arcsec)))


def beam_images(beam: MosaicBeam) -> tuple[np.ndarray, float]:
    """The mosaic primary beam (peak 1) and the peak sensitivity, computed."""
    pb, peak = dask.compute(beam.beam, beam.peak_sensitivity)
    return np.asarray(pb, dtype=np.float32), float(peak)


def frequency_groups(datasets: list[xr.Dataset], n_groups: int) -> list[list[int]]:
    """Dataset indices cut into at most ``n_groups`` groups of neighbouring frequencies."""
    order = np.argsort([float(ds["chan_freq"].values.mean()) for ds in datasets])
    return [list(map(int, g)) for g in np.array_split(order, min(n_groups, len(order)))
            if len(g)]


def field_groups(datasets: list[xr.Dataset], fields: list[int],
                 n_groups: int) -> list[list[int]]:  # fmt: skip
    """The selected fields cut into at most ``n_groups`` pointing groups (runs of OTF rows)."""
    (times,) = dask.compute(field_mean_times(datasets))
    centers = np.asarray(datasets[0].attrs["field_phase_centers_rad"], dtype=np.float64)
    return pointing_groups(fields, times, centers, n_groups)


def with_mosaic_beams(operator: ImagingOperator, datasets: list[xr.Dataset], table,
                       config: QuickLookConfig) -> ImagingOperator:  # fmt: skip
    """The operator predicting each (frequency group, pointing group) of the data from the
    model times ``R_g / A``, that data's mosaic beam over the image's."""
    spw_groups = frequency_groups(datasets, config.beam_groups)
    # (field group index, its fields); one whole-data entry without pointing groups
    pointing = list(enumerate(operator.field_groups)) if operator.field_groups else [(None, None)]
    if len(spw_groups) * len(pointing) == 1:
        return operator
    keys, parts = [], []
    for ids in spw_groups:
        sub = table.at_frequencies(np.concatenate([datasets[i]["chan_freq"].values
                                                   for i in ids]))
        for g, fields in pointing:
            keys.append((ids, g))
            parts.append(sub if fields is None else sub.at_fields(fields))
    factors = relative_beams(
        table, operator.field_centers_rad, parts, shape=operator.shape,
        cell_rad=operator.config.cell_rad, center_rad=operator.phase_center_rad,
        step=pixels(config.pb_step_arcsec, operator.config.cell_arcsec),
        chunks=DEFAULT_CHUNK_PIXELS)
    images = dask.compute(*factors)
    return operator.with_model_weights([(ids, g, image) for (ids, g), image
                                        in zip(keys, images, strict=True)])


def _existing_parent(path: Path) -> Path:
    """``path`` or its nearest existing parent (where a temporary cache may go)."""
    path = path.absolute()
    while not path.exists():
        path = path.parent
    return path


def _qa_images(ds: xr.Dataset, mask: np.ndarray, subimage: tuple[int, int, int, int],
               name: str) -> QAImages:  # fmt: skip
    plane = {"time": 0, "frequency": 0, "polarization": 0}

    def get(var: str) -> xr.DataArray:
        return ds[var].isel(plane).transpose("l", "m")

    residual = get("RESIDUAL").where(mask)
    return QAImages(sky=get("SKY_PBCOR"), residual=residual, rms=get("RMS"),
                    pb=get("PRIMARY_BEAM"), psf=get("POINT_SPREAD_FUNCTION"),
                    cell_arcsec=float(np.degrees(ds["m"].values[1] - ds["m"].values[0]) * 3600),
                    restoring_beam=dict(ds.attrs["restoring_beam"]), subimage=subimage,
                    frequency_hz=float(ds["frequency"].values[0]), name=name)  # fmt: skip


def product_dataset(result, operator: ImagingOperator, config: QuickLookConfig, clean,
                     pb: np.ndarray, peak: float, *, inputs: list, name: str,
                     command: str | None, extra_attrs: dict) -> xr.Dataset:  # fmt: skip
    """The image Dataset of one CLEANed mosaic image: SKY (flat noise, divided by the peak
    sensitivity ``peak``), SKY_PBCOR and the sliding-box RMS of it (NaN below the PB limit),
    PRIMARY_BEAM ``pb``, and what :func:`vlassdask.products.clean.clean_dataset` holds."""
    mask = pb >= config.pb_limit
    scale = 1.0 / peak
    residual = (result.residual * scale).astype(np.float32)
    cell = operator.config.cell_arcsec
    box = pixels(config.rms_box_arcsec, cell, minimum=2)
    step = pixels(config.rms_step_arcsec, cell)
    flat_rms = sliding_rms(da.from_array(residual, chunks=DEFAULT_CHUNK_PIXELS), box=box,
                           step=step).compute(scheduler="threads")  # in-memory input
    with np.errstate(divide="ignore", invalid="ignore"):
        pbcor = np.where(mask, result.restored * scale / pb, np.nan).astype(np.float32)
        rms = np.where(mask, flat_rms / pb, np.nan).astype(np.float32)
    return clean_dataset(
        result, operator, clean, mask, inputs=inputs, name=name, command=command, scale=scale,
        extra_variables={"SKY_PBCOR": pbcor, "RMS": rms, "PRIMARY_BEAM": pb},
        product_kind="quicklook", extra_attrs=extra_attrs, config=config.to_dict())


def position_corrected(ds: xr.Dataset, operator: ImagingOperator, config: QuickLookConfig,
                        table) -> xr.Dataset:  # fmt: skip
    """``ds`` with the w-term position correction in its metadata when the gridding left the
    w-term uncorrected (or as configured). With field-relative w (CASA's 2-D mosaic error
    model) its amplitude is this mosaic's own, ``eps^2 / 2`` with ``eps^2`` from the weights of
    the fields at the image centre (:func:`~vlassdask.imaging.mosaic_beam.mean_square_offset`);
    otherwise VLASS's 0.25" (3 GHz / nu)^2."""
    field_w = operator.config.w_reference == "field"
    wanted = {"always": True, "never": False}.get(
        config.position_correction, field_w or not operator.plan.corrects_w)
    if not wanted:
        return ds
    extra = {}
    if field_w:
        eps2 = mean_square_offset(table, operator.field_centers_rad, operator.phase_center_rad)
        extra["amplitude_arcsec"] = math.degrees(eps2 / 2.0) * 3600.0 \
            * (operator.frequency_hz / REFERENCE_FREQUENCY_HZ) ** 2
    return apply_position_correction(ds, mjd=operator.time_mjd, freq_hz=operator.frequency_hz,
                                     **extra)


def _select_fields(ms: Path, config: QuickLookConfig, center: tuple[float, float],
                   phasecenter: str) -> list[int]:  # fmt: skip
    """Fields whose primary beam reaches the largest image of the ladder."""
    vis = open_measurement_set(ms, data_column=config.imaging.data_column, row_chunks=1 << 30,
                               spws=list(config.imaging.spws) if config.imaging.spws else None)
    ds = vis.datasets[0]
    freq_min = min(float(d["chan_freq"].values.min()) for d in vis.datasets)
    half = 0.5 * config.ladder.imsize * config.imaging.cell_rad
    centers = np.asarray(ds.attrs["field_phase_centers_rad"], dtype=np.float64)
    present = sorted({int(f) for d in vis.datasets for f in np.unique(d["FIELD_ID"].values)})
    chosen, nearest = fields_reaching(centers[present], tuple(math.radians(v) for v in center),
                                      half, freq_min)
    if not chosen.size:
        raise InputError(f"no field of {ms} reaches the image of {phasecenter}: the nearest "
                         f"pointing is {math.degrees(nearest) * 60:.1f} arcmin from the centre "
                         f"(the primary beam reaches {math.degrees(half) * 60:.1f} arcmin "
                         "plus its null radius)")
    return [present[i] for i in chosen]


def make_quicklook_product(
    ms: str | os.PathLike,
    phasecenter: str,
    out_dir: str | os.PathLike,
    config: QuickLookConfig | None = None,
    *,
    overwrite: bool = False,
    command: str | None = None,
    progress: Callable[[CycleRecord], None] | None = None,
    log: Callable[[str], None] = lambda _line: None,
    visibility_cache: str = "auto",
) -> QuickLookProduct:
    """Make the Quick Look products of one phase centre (see the module docstring).

    Parameters
    ----------
    ms
        On-the-fly (or pointed) Measurement Set; never modified.
    phasecenter
        VLASS phase-centre name ``Jhhmmss+ddmmss`` (the image centre).
    out_dir
        Directory of the products (created if needed).
    config
        Quick Look configuration (default: the VLASS values).
    overwrite
        Replace existing products of the same names.
    command
        The command line (provenance).
    progress
        Called with each major cycle's record.
    log
        Called with one line per step (attempts, QA decisions).
    visibility_cache
        As :func:`vlassdask.products.clean.make_clean_product`.

    Returns
    -------
    QuickLookProduct

    Raises
    ------
    InputError, ConfigError, ProductExistsError
        Before anything is computed: a malformed phase centre, outputs that exist, a bad
        configuration, a phase centre no field reaches; before anything is written: bad data.
    """
    config = config or QuickLookConfig()
    ms = Path(ms)
    names, center = quicklook_names(phasecenter, out_dir, config, observation_mjd(ms))
    for path, kind in names.all():
        check_can_write(path, overwrite=overwrite, inputs=[ms], kind=kind)
    for attempt in range(config.ladder.retries + 1):
        params = config.ladder.parameters(attempt)
        check_clean_config(attempt_clean_config(config, params), (params.imsize, params.imsize))
    fields = _select_fields(ms, config, center, phasecenter)
    log(f"{phasecenter}: {len(fields)} field(s) reach the {config.ladder.imsize}^2 image")
    vis = open_measurement_set(ms, data_column=config.imaging.data_column,
                               row_chunks=config.imaging.row_chunks, fields=fields,
                               spws=list(config.imaging.spws) if config.imaging.spws else None)
    spill = spills_to_zarr(visibility_cache, prepared_bytes(vis.datasets))
    groups = field_groups(vis.datasets, fields, config.pointing_groups)
    log(f"{len(groups)} pointing group(s) of {', '.join(str(len(g)) for g in groups)} field(s)")
    attempts: list[Attempt] = []
    with contextlib.ExitStack() as stack:
        cache = stack.enter_context(ZarrBlockCache(_existing_parent(names.out_dir),
                                                   prefix=f".{names.stem}.blocks-")
                                    ) if spill else None
        operator = pb_images = psf = None
        attempt = 0
        while True:
            params = config.ladder.parameters(attempt)
            t0 = time.perf_counter()
            if operator is None or operator.shape[0] != params.imsize:
                operator = pb_images = psf = None
                imaging = config.imaging.replace(imsize=(params.imsize, params.imsize),
                                                 phase_center_deg=center, fields=tuple(fields))
                operator = ImagingOperator.build(
                    vis.datasets, imaging, weight_column=vis.weight_column, cache=cache,
                    client_images=client_images(attempt_clean_config(config, params)),
                    field_groups=groups if len(groups) > 1 else None)
                table = dask.compute(operator.field_weights())[0]
                beam = mosaic_primary_beam(
                    table, operator.field_centers_rad, shape=operator.shape,
                    cell_rad=imaging.cell_rad, center_rad=operator.phase_center_rad,
                    step=pixels(config.pb_step_arcsec, imaging.cell_arcsec),
                    chunks=DEFAULT_CHUNK_PIXELS)
                pb_images = beam_images(beam)
                operator = with_mosaic_beams(operator, vis.datasets, table, config)
                (psf,) = dask.compute(operator.psf(beam_at=operator.phase_center_rad)[0])
            pb, peak = pb_images
            mask = pb >= config.pb_limit
            clean = attempt_clean_config(config, params)
            log(f"attempt {attempt}: imsize {params.imsize}, cycleniter {clean.cycleniter}, "
                f"niter {clean.niter}, nmajor {clean.nmajor}")
            result = cotton_schwab(operator, clean, mask=mask, psf=psf, progress=progress,
                                   threads=MINOR_CYCLE_THREADS)
            ds = product_dataset(
                result, operator, config, clean, pb, peak, inputs=[ms], name=ms.name,
                command=command, extra_attrs={
                    "phase_center_name": phasecenter, "tile": names.image.tile,
                    "epoch": names.image.epoch, "fields": fields, "pointing_groups": groups,
                    "peak_sensitivity": peak, "pb_limit": config.pb_limit})
            side = min(config.subimage_size, params.imsize)
            box = subimage_box(operator.shape, (params.imsize // 2, params.imsize // 2), side)
            images = _qa_images(ds, mask, box, names.stem)
            qa = assess(images, config.qa.with_product_type("QL"), attempt=attempt,
                        inputs={"store": str(names.store)})
            attempts.append(Attempt(
                attempt, params.imsize, params.cycleniter, clean.niter, clean.nmajor,
                result.stop_code, result.stop_reason, result.iterations, result.major_cycles,
                time.perf_counter() - t0, qa))
            log(f"attempt {attempt}: QA {qa.decision}" + "".join(
                f"; {r.message}" for r in qa.reasons))
            if qa.decision != "retry":
                break
            attempt += 1
        ds = position_corrected(ds, operator, config, table)
        ds.attrs["qa"] = {"decision": qa.decision,
                          "attempts": [a.to_dict() for a in attempts]}  # fmt: skip
        return _write(ds, names, box, images, qa, attempts, center, overwrite=overwrite,
                      extra={"ms": str(ms), "fields": fields, "pointing_groups": groups,
                             "visibility_cache": "zarr" if spill else "memory",
                             "visibilities": operator.counts,
                             "gridding": operator.plan.describe(),
                             "peak_sensitivity": peak})


def _subimage(ds: xr.Dataset, box: tuple[int, int, int, int]) -> xr.Dataset:
    x0, x1, y0, y1 = box
    return ds.isel(l=slice(x0, x1), m=slice(y0, y1))


def _write(ds: xr.Dataset, names: QuickLookNames, box, images: QAImages, qa: QAResult,
           attempts: list[Attempt], center: tuple[float, float], *, overwrite: bool,
           extra: dict) -> QuickLookProduct:  # fmt: skip
    """Write the store, the FITS sub-images, the preview, the QA report and the summary."""
    names.out_dir.mkdir(parents=True, exist_ok=True)
    write_image_store(ds, names.store, overwrite=overwrite)
    sub = _subimage(ds, box)
    written = []
    for variable, path in names.fits.items():
        keywords = product_header_keywords(names.product_of(variable), *center)
        one = sub.assign_attrs(fits_header={**sub.attrs["fits_header"], **keywords})
        written += export_fits(one, path, variables=(variable,), overwrite=overwrite)
    write_preview_png(sub, names.preview, variable="SKY_PBCOR", overwrite=overwrite)
    attempt_rows = [a.to_dict() for a in attempts]
    write_qa_report(qa, report_panels(images), names.qa_report, subimage=box,
                    overwrite=overwrite, attempts=attempt_rows)
    summary = {**extra, "phase_center": names.image.phase_center, "tile": names.image.tile,
               "phase_center_deg": list(center),
               "epoch": names.image.epoch, "store": str(names.store),
               "fits": [str(p) for p in written], "decision": qa.decision,
               "attempts": attempt_rows, "restoring_beam": ds.attrs["restoring_beam"],
               "position_correction": ds.attrs.get("position_correction")}  # fmt: skip
    with atomic_output(names.summary, overwrite=overwrite, directory=False) as tmp:
        tmp.write_text(json.dumps(summary, indent=2, default=str) + "\n")
    return QuickLookProduct(names=names, decision=qa.decision, attempts=attempts, fits=written,
                            summary=summary)
