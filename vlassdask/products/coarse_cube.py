"""Coarse cubes: one phase centre -> a plane per spectral window x Stokes I, Q, U, with rejection.

:func:`make_coarse_cube` is the recipe behind ``vlassdask coarse-cube`` (SPEC.md "Coarse
cubes"; VLASS paper section 3.4). :func:`plan_coarse_cube` builds, without reading any data,
one dask graph for the phase centre:

* per spectral window, the flag statistics of the image's fields (a tree sum over the row
  chunks of FLAG: :func:`vlassdask.qa.plane_rejection.flag_counts`) and the decision before
  imaging (not imaged: more than 12 fields above 90% flagged, or the window fully flagged);
* per spectral window a *plane task*: one task that, unless the window was rejected before
  imaging, prepares its visibilities once (:class:`~vlassdask.imaging.imaging_operator.
  ImagingOperator` with Stokes I, Q and U), makes its mosaic primary beam and PSF, CLEANs I, Q
  and U with the Quick Look machinery (Cotton-Schwab inside the PB mask, the model predicted
  through each pointing group's own beam), measures the noise images and the w-term position
  correction at the window's frequency, and writes the planes to a scratch store;
* one task for the band-averaged Stokes V image of the windows imaged.

The planes are independent tasks, so a cluster images them in parallel (one plane per worker
thread; each task computes its own graphs on that thread: :func:`vlassdask.imaging.graph.
in_this_task`). The client then applies the rejection after imaging (flag fraction >= 0.8;
a beam axis more than 20% from the median beam scaled to the plane's frequency), and writes,
streaming from the scratch stores:

* the cube store (dims frequency = planes, polarization = I, Q, U; per plane its BEAM, noise
  image RMS, FLAG_FRACTION and PLANE_STATUS; attrs ``planes`` with the reasons and the
  per-plane position correction);
* the VLASS-named FITS of every imaged plane (``...spwN.IQU.iter3.image.pbcor.tt0.subim.fits``
  with CASA's BEAMS table, and its ``.rms``), each with its own position correction and, when
  rejected, ``REJECTED = T`` and the reasons;
* the spectral index of Stokes I from the accepted planes (``ALPHA``, ``ALPHA_ERROR``), the
  common-beam cube (accepted planes convolved to the smallest beam enclosing all of theirs),
  the band-averaged V image, an HTML report with the flag and beam plot, and a JSON summary.

Peak memory
-----------
* per plane task (one per worker thread): the spectral window's prepared visibilities (64 bytes
  per visibility with I, Q and U: :func:`vlassdask.imaging.memory.bytes_per_visibility`) plus
  the Quick Look attempt's images (about ten float64 full images in the major cycles and eight
  float32 product images); checked before anything is computed against the workers' memory
  with as many planes in flight as there are worker threads;
* the client: the plane records (a few numbers each) and, while writing, one store chunk per
  thread (the stores are written lazily from the scratch stores).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dask
import dask.array as da
import numpy as np
import xarray as xr

from vlassdask.combine.beam import GaussianBeam, common_beam, deconvolve
from vlassdask.combine.config import CombineConfig
from vlassdask.combine.convolve import convolve_image
from vlassdask.deconvolution.major_cycle import check_clean_config, client_images, cotton_schwab
from vlassdask.errors import InputError
from vlassdask.imaging.graph import current_client, in_this_task, worker_memory_bytes
from vlassdask.imaging.imaging_operator import ImagingOperator
from vlassdask.imaging.memory import check_memory, estimate_imaging_memory
from vlassdask.imaging.mosaic_beam import fields_reaching, mosaic_primary_beam
from vlassdask.imaging.spectral_fit import spectral_index_images
from vlassdask.io.atomic import atomic_output, check_can_write, temporary_sibling
from vlassdask.io.cube_report import write_cube_report
from vlassdask.io.fits_export import export_fits
from vlassdask.io.image_schema import DEFAULT_CHUNK_PIXELS, make_image_dataset
from vlassdask.io.image_store import open_image_store, write_image_store
from vlassdask.io.ms_read import observation_mjd, open_measurement_set
from vlassdask.io.preview import write_preview_png
from vlassdask.products.coarse_cube_config import CoarseCubeConfig
from vlassdask.products.quicklook import (
    attempt_clean_config,
    beam_images,
    field_groups,
    pixels,
    position_corrected,
    product_dataset,
    quicklook_names,
    with_mosaic_beams,
)
from vlassdask.qa.plane_rejection import (
    IMAGED,
    NOT_IMAGED,
    REJECTED,
    STATUS_CODES,
    FlagSummary,
    flag_counts,
    reasons_after_imaging,
    reasons_before_imaging,
    summarise_flags,
)
from vlassdask.survey.product_names import ProductName, product_header_keywords, product_name_for

#: Image variables of the cube (per plane and Stokes parameter).
CUBE_VARIABLES = ("SKY", "SKY_PBCOR", "RESIDUAL", "MODEL", "PRIMARY_BEAM", "RMS")
#: Variables of each plane's FITS files and how their names differ from the image's.
FITS_NAME_FIELDS: dict[str, dict[str, Any]] = {"SKY_PBCOR": {}, "RMS": {"rms": True}}
#: Minimum signal-to-noise of a plane's pixel in the spectral-index fit, and planes needed.
ALPHA_MIN_SNR, ALPHA_MIN_PLANES = 5.0, 3


@dataclass(frozen=True)
class CubeNames:
    """The VLASS names of one coarse cube's files in the output directory."""

    epoch: str
    tile: str
    phase_center: str
    version: int
    cell_arcsec: float
    out_dir: Path

    def name(self, **fields: Any) -> ProductName:
        """A coarse-cube product name of this phase centre (``fields`` as
        :func:`vlassdask.survey.product_names.product_name_for`)."""
        return product_name_for(self.epoch, "cc", self.tile, self.phase_center,
                                pixel_size_arcsec=self.cell_arcsec, version=self.version,
                                **fields)

    def _stem(self, stokes: str) -> str:
        return self.name(stokes=stokes).file_name[: -len(".image.pbcor.tt0.subim.fits")]

    @property
    def stem(self) -> str:
        """``VLASS<epoch>.cc.<tile>.<name>.10.2048.v<version>.IQU.iter3``."""
        return self._stem("IQU")

    @property
    def store(self) -> Path:
        """The cube store."""
        return self.out_dir / f"{self.stem}.zarr"

    @property
    def common_beam_store(self) -> Path:
        """The accepted planes at a common beam."""
        return self.out_dir / f"{self.stem}.commonbeam.zarr"

    @property
    def alpha_store(self) -> Path:
        """The spectral index of Stokes I."""
        return self.out_dir / f"{self._stem('I')}.alpha.zarr"

    @property
    def v_store(self) -> Path:
        """The band-averaged Stokes V image."""
        return self.out_dir / f"{self._stem('V')}.zarr"

    def plane_fits(self, spw: int) -> dict[str, Path]:
        """Variable -> FITS path of one plane's sub-images."""
        return {v: self.out_dir / self.name(spw=spw, stokes="IQU", **f).file_name
                for v, f in FITS_NAME_FIELDS.items()}

    @property
    def alpha_fits(self) -> dict[str, Path]:
        """ALPHA and ALPHA_ERROR sub-image FITS."""
        return {v: self.out_dir / self.name(stokes="I", image_type=t, taylor_term=None
                                            ).file_name
                for v, t in (("ALPHA", "alpha"), ("ALPHA_ERROR", "alpha.error"))}

    @property
    def v_fits(self) -> dict[str, Path]:
        """The band-averaged V sub-image FITS (image and rms)."""
        return {v: self.out_dir / self.name(stokes="V", **f).file_name
                for v, f in FITS_NAME_FIELDS.items()}

    @property
    def report(self) -> Path:
        """The report directory (``report.html``, ``planes.png``)."""
        return self.out_dir / f"{self.stem}.report"

    @property
    def summary(self) -> Path:
        """The JSON summary."""
        return self.out_dir / f"{self.stem}.summary.json"

    def all(self, spws: list[int], band_v: bool) -> list[tuple[Path, str]]:
        """Every output that may be written, with its kind (for the overwrite check)."""
        out = [(self.store, "store"), (self.common_beam_store, "store"),
               (self.alpha_store, "store"), (self.report, "directory"),
               (self.summary, "file"), *((p, "file") for p in self.alpha_fits.values())]
        for spw in spws:
            out += [(p, "file") for p in self.plane_fits(spw).values()]
        if band_v:
            out += [(self.v_store, "store"), *((p, "file") for p in self.v_fits.values())]
        return out


@dataclass
class CubePlan:
    """The lazy graph of one coarse cube (:func:`plan_coarse_cube`): nothing is computed.

    Attributes
    ----------
    names, center_deg, config, ms
        What is made, where, how and from what.
    spws
        Spectral-window ids of the planes, in frequency order.
    frequencies_hz
        Each plane's reference frequency (the window's centre).
    candidates
        FIELD rows whose primary beam reaches the image.
    fields
        Delayed list of those with data.
    flags
        Delayed :class:`~vlassdask.qa.plane_rejection.FlagSummary` per plane.
    scratch
        Directory of the planes' scratch stores (made when the tasks run).
    """

    names: CubeNames
    center_deg: tuple[float, float]
    config: CoarseCubeConfig
    ms: Path
    spws: list[int]
    frequencies_hz: list[float]
    candidates: list[int]
    fields: Any
    flags: list[Any]
    scratch: Path

    def tasks(self, fields: Any = None, flags: list[Any] | None = None) -> list[Any]:
        """Delayed plane records (one per plane) and, with ``band_averaged_v``, the V record:
        the whole cube as one graph. ``fields``/``flags`` replace the plan's delayed ones by
        values already computed (so that the flags are not read twice)."""
        fields = self.fields if fields is None else fields
        flags = self.flags if flags is None else flags
        ms, center, config, scratch = str(self.ms), self.center_deg, self.config, \
            str(self.scratch)
        out = [dask.delayed(image_plane, pure=False)(ms, s, fields, center, config, f, scratch)
               for s, f in zip(self.spws, flags, strict=True)]
        if config.band_averaged_v:
            out.append(dask.delayed(image_band_v, pure=False)(ms, self.spws, fields, center,
                                                              config, flags, scratch))
        return out


@dataclass
class CoarseCubeProduct:
    """What :func:`make_coarse_cube` wrote and decided."""

    names: CubeNames
    planes: list[dict]
    files: list[Path] = field(default_factory=list)
    summary: dict = field(default_factory=dict)

    @property
    def accepted(self) -> list[int]:
        """Spectral windows of the accepted planes."""
        return [p["spw"] for p in self.planes if p["status"] == IMAGED]


def _present_fields(candidates: list[int], *counts: np.ndarray) -> list[int]:
    """The candidate fields with data in any spectral window."""
    total = np.sum([c[:, 1] for c in counts], axis=0)
    present = [f for f in candidates if total[f] > 0]
    if not present:
        raise InputError("no field reaching the image has any data")
    return present


def _cube_spws(datasets: list[xr.Dataset], wanted: tuple[int, ...] | None, ms: Path
               ) -> list[int]:  # fmt: skip
    have = {int(ds.attrs["spw_id"]): float(ds["chan_freq"].values.mean()) for ds in datasets}
    spws = sorted(have) if wanted is None else list(wanted)
    missing = [s for s in spws if s not in have]
    if missing:
        raise InputError(f"cube.spws names spectral window(s) {missing} that {ms} lacks (it has "
                         f"{sorted(have)})")
    return sorted(spws, key=lambda s: have[s])


def plan_coarse_cube(ms: str | os.PathLike, phasecenter: str, out_dir: str | os.PathLike,
                     config: CoarseCubeConfig | None = None, *,
                     scratch: Path | None = None) -> CubePlan:  # fmt: skip
    """The lazy graph of one phase centre's coarse cube (see the module docstring).

    Reads the Measurement Set's subtables and dask-ms's row index only: no visibility, flag or
    weight is read until the graph is computed.

    Raises
    ------
    InputError, ConfigError
        A malformed phase centre, spectral windows the MS lacks, a phase centre no field
        reaches, Stokes parameters the data cannot make (Q/U without cross-hands), or a bad
        CLEAN configuration.
    """
    config = config or CoarseCubeConfig()
    ms = Path(ms)
    ql = config.plane
    ql_names, center = quicklook_names(phasecenter, out_dir, ql, observation_mjd(ms))
    names = CubeNames(ql_names.image.epoch, ql_names.image.tile, phasecenter, ql.version,
                      ql.imaging.cell_arcsec, Path(out_dir))
    check_clean_config(_clean_config(config), (config.imsize, config.imsize))
    vis = open_measurement_set(ms, data_column=ql.imaging.data_column,
                               row_chunks=ql.imaging.row_chunks)
    spws = _cube_spws(vis.datasets, config.spws, ms)
    by_spw = {int(ds.attrs["spw_id"]): ds for ds in vis.datasets}
    centers = np.asarray(vis.datasets[0].attrs["field_phase_centers_rad"], dtype=np.float64)
    freq_min = min(float(by_spw[s]["chan_freq"].values.min()) for s in spws)
    half = 0.5 * config.imsize * ql.imaging.cell_rad
    chosen, nearest = fields_reaching(centers, tuple(math.radians(v) for v in center), half,
                                      freq_min)
    if not chosen.size:
        raise InputError(f"no field of {ms} reaches the image of {phasecenter}: the nearest "
                         f"pointing is {math.degrees(nearest) * 60:.1f} arcmin away")
    candidates = [int(f) for f in chosen]
    stokes = config.stokes + ("V" if config.band_averaged_v else "")
    counts = [flag_counts(by_spw[s], stokes) for s in spws]
    fields = dask.delayed(_present_fields)(candidates, *counts)
    flags = [dask.delayed(summarise_flags)(c, fields, config.rejection) for c in counts]
    scratch = scratch or temporary_sibling(names.store, "tmp")  # a killed run's: removed later
    freqs = [float(by_spw[s]["chan_freq"].values.mean()) for s in spws]
    return CubePlan(names, center, config, ms, spws, freqs, candidates, fields, flags, scratch)


def _clean_config(config: CoarseCubeConfig):
    return attempt_clean_config(config.plane, config.plane.ladder.parameters(0))


def _clean_stokes(ms: str, spws: list[int], fields: list[int], center, config: CoarseCubeConfig,
                  stokes: str) -> tuple[dict[str, xr.Dataset], dict[str, Any]]:  # fmt: skip
    """Image and CLEAN ``stokes`` of ``spws`` with the Quick Look machinery, here (in the
    calling task). Returns one Dataset per Stokes parameter (position-corrected) and facts."""
    ql = config.plane
    vis = open_measurement_set(ms, data_column=ql.imaging.data_column,
                               row_chunks=ql.imaging.row_chunks, fields=fields, spws=spws)
    groups = field_groups(vis.datasets, fields, ql.pointing_groups)
    clean = _clean_config(config)
    imaging = ql.imaging.replace(imsize=(config.imsize, config.imsize), phase_center_deg=center,
                                 fields=tuple(fields), stokes=stokes)
    operator = ImagingOperator.build(vis.datasets, imaging, weight_column=vis.weight_column,
                                     client_images=client_images(clean),
                                     field_groups=groups if len(groups) > 1 else None)
    (table,) = dask.compute(operator.field_weights())
    beam = mosaic_primary_beam(table, operator.field_centers_rad, shape=operator.shape,
                               cell_rad=imaging.cell_rad, center_rad=operator.phase_center_rad,
                               step=pixels(ql.pb_step_arcsec, imaging.cell_arcsec),
                               chunks=DEFAULT_CHUNK_PIXELS)
    pb, peak = beam_images(beam)
    operator = with_mosaic_beams(operator, vis.datasets, table, ql)
    (psf,) = dask.compute(operator.psf(beam_at=operator.phase_center_rad)[0])
    mask = pb >= ql.pb_limit
    out, stops = {}, {}
    for s in stokes:
        op = operator.for_stokes(s)
        result = cotton_schwab(op, clean, mask=mask, psf=psf, threads=1)
        ds = product_dataset(result, op, ql, clean, pb, peak, inputs=[ms], name=Path(ms).name,
                              command=None, extra_attrs={})
        out[s] = position_corrected(ds, op, ql, table)
        stops[s] = {"stop_code": result.stop_code, "stop_reason": result.stop_reason,
                    "iterations": result.iterations, "major_cycles": result.major_cycles}
    facts = {"frequency_hz": operator.frequency_hz, "visibilities": operator.counts,
             "pointing_groups": len(groups), "clean": stops,
             "beam": out[stokes[0]].attrs["restoring_beam"],
             "position_correction": out[stokes[0]].attrs.get("position_correction")}
    return out, facts


def _scratch_store(ds_by_stokes: dict[str, xr.Dataset], path: Path) -> None:
    """The Stokes planes of one imaging as one scratch store (dims polarization = Stokes)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    merged = xr.concat(list(ds_by_stokes.values()), dim="polarization", data_vars="minimal",
                       coords="minimal", compat="override", combine_attrs="override")
    write_image_store(merged, path, overwrite=True)


def image_plane(ms: str, spw: int, fields: list[int], center, config: CoarseCubeConfig,
                flags: FlagSummary, scratch: str) -> dict[str, Any]:
    """One plane task: decide before imaging, then image and CLEAN the Stokes planes of ``spw``
    in this task (see the module docstring) into ``<scratch>/spw<N>.zarr``.

    Returns
    -------
    dict
        The plane record: ``spw``, ``status``, ``reasons``, ``flags`` and, when imaged,
        ``frequency_hz``, ``beam``, ``position_correction``, ``clean``, ``seconds``.
    """
    t0 = time.perf_counter()
    record: dict[str, Any] = {"spw": int(spw), "flags": flags.to_dict(),
                              "reasons": reasons_before_imaging(flags, config.rejection)}
    if record["reasons"]:
        return {**record, "status": NOT_IMAGED}
    with in_this_task():
        images, facts = _clean_stokes(ms, [spw], fields, center, config.with_threads(1, 1),
                                      config.stokes)
        _scratch_store(images, Path(scratch) / f"spw{spw}.zarr")
    return {**record, **facts, "status": IMAGED, "seconds": time.perf_counter() - t0}


def image_band_v(ms: str, spws: list[int], fields: list[int], center,
                 config: CoarseCubeConfig, flags: list[FlagSummary],
                 scratch: str) -> dict[str, Any]:  # fmt: skip
    """The band-averaged Stokes V task: the windows not rejected before imaging, imaged and
    CLEANed together here into ``<scratch>/V.zarr``."""
    t0 = time.perf_counter()
    use = [s for s, f in zip(spws, flags, strict=True)
           if not reasons_before_imaging(f, config.rejection)]
    if not use:
        return {"spws": [], "status": NOT_IMAGED}
    with in_this_task():
        images, facts = _clean_stokes(ms, use, fields, center, config.with_threads(1, 1), "V")
        Path(scratch).mkdir(parents=True, exist_ok=True)
        write_image_store(images["V"], Path(scratch) / "V.zarr", overwrite=True)
    return {**facts, "spws": use, "status": IMAGED, "seconds": time.perf_counter() - t0}


def _check_cube_memory(plan: CubePlan, slots: int) -> None:
    """Refuse a cube whose planes in flight (one per worker thread) exceed the memory."""
    config = plan.config
    vis = open_measurement_set(plan.ms, row_chunks=config.plane.imaging.row_chunks,
                               fields=plan.candidates)
    by_spw = {int(ds.attrs["spw_id"]): ds for ds in vis.datasets}
    imaging = config.plane.imaging.replace(imsize=(config.imsize, config.imsize),
                                           stokes=config.stokes)
    per_plane = max(estimate_imaging_memory(
        [by_spw[s]], imaging, client_images=client_images(_clean_config(config))).total
        for s in plan.spws if s in by_spw)
    in_flight = min(slots, len(plan.spws))
    estimate = estimate_imaging_memory(
        [by_spw[s] for s in plan.spws[:in_flight] if s in by_spw], imaging,
        client_images=in_flight * client_images(_clean_config(config)))
    check_memory(estimate, worker_memory_bytes(),
                 what=f"a coarse cube of {config.imsize}^2 planes with {in_flight} plane(s) "
                      f"in flight ({per_plane / 2**30:.2f} GiB each)")


def _compute(tasks: list, slots: int) -> list:
    """Compute delayed ``tasks`` on the cluster (or this machine's threads)."""
    client = current_client()
    if client is None:
        return list(dask.compute(*tasks, scheduler="threads", num_workers=slots))
    return client.gather(client.compute(tasks))


def _compute_tasks(tasks: list, log: Callable[[str], None], slots: int) -> list[dict]:
    """Compute the plane (and V) tasks on the cluster, logging each as it finishes."""
    client = current_client()
    if client is None:
        return _compute(tasks, slots)
    from distributed import as_completed

    futures = client.compute(tasks)
    index = {f.key: i for i, f in enumerate(futures)}
    results: list[Any] = [None] * len(futures)
    for future in as_completed(futures):
        record = future.result()
        results[index[future.key]] = record
        what = f"spw {record['spw']}" if "spw" in record else "band-averaged V"
        log(f"{what}: {record['status']}" + "".join(f"; {r}" for r in record.get("reasons", [])))
    return results


def _slots() -> int:
    """Worker threads of the current cluster (planes in flight at once)."""
    client = current_client()
    if client is None:
        return max(1, os.cpu_count() or 1)
    return max(1, sum(w.get("nthreads", 1) for w in
                      client.scheduler_info(n_workers=-1)["workers"].values()))


def _decide(plan: CubePlan, records: list[dict]) -> list[dict]:
    """The planes' final statuses: the rejection after imaging applied."""
    beams = [(r["beam"]["major_arcsec"], r["beam"]["minor_arcsec"]) if r["status"] == IMAGED
             else None for r in records]
    after = reasons_after_imaging([FlagSummary(**r["flags"]) for r in records], beams,
                                  plan.frequencies_hz, plan.config.rejection)
    out = []
    for r, freq, reasons in zip(records, plan.frequencies_hz, after, strict=True):
        r = {**r, "reference_frequency_hz": freq}
        if reasons:
            r.update(status=REJECTED, reasons=reasons)
        out.append(r)
    return out


def _scratch_stores(plan: CubePlan, planes: list[dict]) -> dict[int, xr.Dataset | None]:
    """Each plane's scratch store, opened once (lazily; None for planes not imaged)."""
    return {p["spw"]: open_image_store(plan.scratch / f"spw{p['spw']}.zarr")
            if p["status"] != NOT_IMAGED else None for p in planes}


def _plane_images(plan: CubePlan, stores: dict[int, xr.Dataset | None],
                  npol: int) -> dict[str, da.Array]:  # fmt: skip
    """(time, frequency, polarization, l, m) dask images of the cube, NaN where not imaged."""
    n = plan.config.imsize
    chunks = (1, 1, 1, DEFAULT_CHUNK_PIXELS, DEFAULT_CHUNK_PIXELS)
    return {v: da.concatenate([ds[v].data.rechunk(chunks) if ds is not None else
                               da.full((1, 1, npol, n, n), np.nan, dtype=np.float32,
                                       chunks=chunks) for ds in stores.values()], axis=1)
            for v in CUBE_VARIABLES}


def _cube_dataset(plan: CubePlan, planes: list[dict], command: str | None) -> xr.Dataset:
    """The cube Dataset, lazily over the scratch stores."""
    stokes = plan.config.stokes
    npol = len(stokes)
    stores = _scratch_stores(plan, planes)
    images = _plane_images(plan, stores, npol)
    nan_beam = [np.nan, np.nan, np.nan]
    beam = np.array([[[[p["beam"][k] for k in ("major_arcsec", "minor_arcsec", "pa_deg")]
                       if p["status"] != NOT_IMAGED else nan_beam] * npol for p in planes]])
    sumwt = np.array([[[0.0 if ds is None else float(ds["SUM_OF_WEIGHTS"].values.ravel()[0])]
                       * npol for ds in stores.values()]])
    status = np.array([[[STATUS_CODES[p["status"]]] * npol for p in planes]], dtype=np.int8)
    fraction = np.array([[[p["flags"]["flagged_fraction"]] * npol for p in planes]])
    first = next(ds for ds in stores.values() if ds is not None)  # _write: one is imaged
    header = {**first.attrs["fits_header"],
              **product_header_keywords(plan.names.name(spw=plan.spws[0], stokes=stokes),
                                        *plan.center_deg)}
    for key in ("CRVAL1", "CRVAL2"):
        header.pop(key, None)  # the uncorrected centre: each plane's correction is in attrs
    return make_image_dataset(
        {**images, "BEAM": beam, "SUM_OF_WEIGHTS": sumwt, "PLANE_STATUS": status,
         "FLAG_FRACTION": fraction},
        cell_rad=plan.config.plane.imaging.cell_rad,
        phase_center_rad=tuple(math.radians(v) for v in plan.center_deg),
        frequency_hz=plan.frequencies_hz, polarization=tuple(stokes),
        time_mjd=[header.get("MJD-OBS", 0.0)], product_kind="cube",
        attrs={"fits_header": header, "planes": planes,
               "phase_center_name": plan.names.phase_center, "tile": plan.names.tile,
               "epoch": plan.names.epoch,
               "provenance": {"command": command, "config": plan.config.to_dict(),
                              "inputs": [str(plan.ms)]},
               "history": [f"vlassdask coarse cube of {plan.ms.name}: {len(planes)} planes, "
                           f"{sum(p['status'] == IMAGED for p in planes)} accepted"]})


def _plane_fits(plan: CubePlan, p: dict, box, overwrite: bool) -> list[Path]:
    """The VLASS-named FITS of one imaged plane (its own position correction, rejection
    flag and reasons in the header)."""
    ds = open_image_store(plan.scratch / f"spw{p['spw']}.zarr")
    sub = ds.isel(l=slice(box[0], box[1]), m=slice(box[2], box[3]))
    written = []
    for variable, path in plan.names.plane_fits(p["spw"]).items():
        keywords = product_header_keywords(plan.names.name(spw=p["spw"], stokes=plan.config.stokes,
                                                           **FITS_NAME_FIELDS[variable]),
                                           *plan.center_deg)
        keywords["REJECTED"] = (p["status"] == REJECTED)
        for i, reason in enumerate(p["reasons"][:9], start=1):
            keywords[f"REJREA{i}"] = reason[:68]
        one = sub.assign_attrs(fits_header={**sub.attrs["fits_header"], **keywords})
        written += export_fits(one, path, variables=(variable,), overwrite=overwrite)
    return written


def _accepted(planes: list[dict]) -> list[int]:
    return [k for k, p in enumerate(planes) if p["status"] == IMAGED]


def _alpha_dataset(plan: CubePlan, cube: xr.Dataset, planes: list[dict]) -> xr.Dataset | None:
    """Spectral index of Stokes I from the accepted planes (None with fewer than
    :data:`ALPHA_MIN_PLANES`)."""
    use = _accepted(planes)
    if len(use) < ALPHA_MIN_PLANES or "I" not in plan.config.stokes:
        return None
    i_pol = {"polarization": plan.config.stokes.index("I"), "time": 0}
    flux = cube["SKY_PBCOR"].isel(i_pol).data[use]
    rms = cube["RMS"].isel(i_pol).data[use]
    freqs = np.asarray(plan.frequencies_hz)[use]
    ref = float(np.exp(np.mean(np.log(freqs))))
    alpha, error = spectral_index_images(flux, rms, freqs, ref, min_snr=ALPHA_MIN_SNR,
                                         min_planes=ALPHA_MIN_PLANES)
    return make_image_dataset(
        {"ALPHA": alpha[None, None, None], "ALPHA_ERROR": error[None, None, None]},
        cell_rad=plan.config.plane.imaging.cell_rad,
        phase_center_rad=tuple(math.radians(v) for v in plan.center_deg), frequency_hz=[ref],
        polarization=("I",), time_mjd=cube["time"].values, product_kind="spectral_index",
        attrs={"fits_header": dict(cube.attrs["fits_header"]),
               "planes_used": [planes[k]["spw"] for k in use], "min_snr": ALPHA_MIN_SNR,
               "history": [f"power-law fit of Stokes I over spectral windows "
                           f"{[planes[k]['spw'] for k in use]} (pixels above "
                           f"{ALPHA_MIN_SNR:g} sigma in >= {ALPHA_MIN_PLANES} planes)"]})


def _common_beam_dataset(plan: CubePlan, cube: xr.Dataset, planes: list[dict]
                         ) -> xr.Dataset | None:  # fmt: skip
    """The accepted planes' PB-corrected images convolved to the smallest beam enclosing all
    of theirs (the combined-epoch convolution); other planes NaN."""
    use = _accepted(planes)
    if not use:
        return None
    combine = CombineConfig()
    beams = [GaussianBeam(**planes[k]["beam"]) for k in use]
    target = common_beam(beams, combine)
    cell = plan.config.plane.imaging.cell_arcsec
    sky = cube["SKY_PBCOR"].data
    out = []
    for k in range(len(planes)):
        plane = sky[:, k: k + 1]
        if k not in use:
            out.append(da.full_like(plane, np.nan))
            continue
        out.append(_convolved(plane, target, GaussianBeam(**planes[k]["beam"]), cell, combine))
    beam_var = np.array([[[[target.major_arcsec, target.minor_arcsec, target.pa_deg]]
                          * sky.shape[2]] * len(planes)])
    return make_image_dataset(
        {"SKY": da.concatenate(out, axis=1), "BEAM": beam_var,
         "PLANE_STATUS": cube["PLANE_STATUS"].values},
        cell_rad=plan.config.plane.imaging.cell_rad,
        phase_center_rad=tuple(math.radians(v) for v in plan.center_deg),
        frequency_hz=plan.frequencies_hz, polarization=tuple(plan.config.stokes),
        time_mjd=cube["time"].values, product_kind="cube_common_beam",
        attrs={"fits_header": dict(cube.attrs["fits_header"]), "planes": planes,
               "history": [f"accepted planes convolved to the common beam "
                           f"{target.describe()}"]})


def _convolved(plane: da.Array, target: GaussianBeam, beam: GaussianBeam, cell: float,
               combine: CombineConfig) -> da.Array:
    """``plane`` (Jy/beam at ``beam``) at the ``target`` beam (the combined-epoch convolution:
    kernel ``target - beam``, scaled by the ratio of beam areas)."""
    kernel = deconvolve(target, beam)
    if kernel.major_arcsec < combine.kernel_skip_fraction * cell * math.sqrt(2.0):
        return plane
    cov = kernel.pixel_covariance(cell)
    return convolve_image(plane, cov=(cov[0, 0], cov[0, 1], cov[1, 1]),
                          scale=target.area_arcsec2 / beam.area_arcsec2,
                          truncate_sigma=combine.kernel_truncate_sigma,
                          min_support=combine.min_support)


def make_coarse_cube(
    ms: str | os.PathLike,
    phasecenter: str,
    out_dir: str | os.PathLike,
    config: CoarseCubeConfig | None = None,
    *,
    overwrite: bool = False,
    command: str | None = None,
    log: Callable[[str], None] = lambda _line: None,
) -> CoarseCubeProduct:
    """Make the coarse cube of one phase centre (see the module docstring).

    Parameters
    ----------
    ms
        On-the-fly (or pointed) Measurement Set; never modified.
    phasecenter
        VLASS phase-centre name ``Jhhmmss+ddmmss``.
    out_dir
        Directory of the products (created if needed).
    config
        Coarse-cube configuration (default: the VLASS values).
    overwrite
        Replace existing products of the same names.
    command
        The command line (provenance).
    log
        Called with one line per step and per finished plane.

    Returns
    -------
    CoarseCubeProduct

    Raises
    ------
    InputError, ConfigError, ProductExistsError
        Before anything is computed: see :func:`plan_coarse_cube`, existing outputs, or a
        memory estimate above the workers' memory.
    """
    config = config or CoarseCubeConfig()
    out_dir = Path(out_dir)
    plan = plan_coarse_cube(ms, phasecenter, out_dir, config)
    for path, kind in plan.names.all(plan.spws, config.band_averaged_v):
        check_can_write(path, overwrite=overwrite, inputs=[plan.ms], kind=kind)
    slots = _slots()
    _check_cube_memory(plan, slots)
    log(f"{phasecenter}: {len(plan.candidates)} field(s) reach the {config.imsize}^2 image; "
        f"{len(plan.spws)} plane(s) x Stokes {config.stokes}, {slots} in flight")
    fields, *flags = _compute([plan.fields, *plan.flags], slots)
    before = [reasons_before_imaging(f, config.rejection) for f in flags]
    for spw, reasons in zip(plan.spws, before, strict=True):
        if reasons:
            log(f"spw {spw}: not imaged: {reasons[0]}")
    if all(before):
        raise InputError("every plane is rejected before imaging: "
                         + "; ".join(f"spw {s}: {r[0]}"
                                     for s, r in zip(plan.spws, before, strict=True)))
    created = not out_dir.exists()
    out_dir.mkdir(parents=True, exist_ok=True)
    try:
        t0 = time.perf_counter()
        records = _compute_tasks(plan.tasks(fields, flags), log, slots)
        planes = _decide(plan, records[: len(plan.spws)])
        band_v = records[len(plan.spws)] if config.band_averaged_v else None
        log(f"planes imaged in {time.perf_counter() - t0:.1f} s: "
            f"{len(_accepted(planes))} accepted, "
            f"{sum(p['status'] == REJECTED for p in planes)} rejected after imaging, "
            f"{sum(p['status'] == NOT_IMAGED for p in planes)} not imaged")
        return _write(plan, planes, band_v, overwrite=overwrite, command=command)
    finally:
        shutil.rmtree(plan.scratch, ignore_errors=True)
        if created and not any(out_dir.iterdir()):
            out_dir.rmdir()  # interrupted or failed before any product: leave nothing


def _box(config: CoarseCubeConfig) -> tuple[int, int, int, int]:
    n, side = config.imsize, min(config.subimage_size, config.imsize)
    lo = n // 2 - side // 2
    return lo, lo + side, lo, lo + side


def _write(plan: CubePlan, planes: list[dict], band_v: dict | None, *, overwrite: bool,
           command: str | None) -> CoarseCubeProduct:  # fmt: skip
    """Write every product from the scratch stores (see the module docstring)."""
    names, box = plan.names, _box(plan.config)
    cube = _cube_dataset(plan, planes, command)
    write_image_store(cube, names.store, overwrite=overwrite)
    cube = open_image_store(names.store)
    files: list[Path] = [names.store]
    for p in planes:
        if p["status"] != NOT_IMAGED:
            files += _plane_fits(plan, p, box, overwrite)
    alpha = _alpha_dataset(plan, cube, planes)
    if alpha is not None:
        write_image_store(alpha, names.alpha_store, overwrite=overwrite)
        sub = open_image_store(names.alpha_store).isel(l=slice(box[0], box[1]),
                                                        m=slice(box[2], box[3]))
        for variable, path in names.alpha_fits.items():
            files += export_fits(sub, path, variables=(variable,), overwrite=overwrite)
        files.append(names.alpha_store)
    common = _common_beam_dataset(plan, cube, planes)
    if common is not None:
        write_image_store(common, names.common_beam_store, overwrite=overwrite)
        files.append(names.common_beam_store)
    if band_v is not None and band_v["status"] == IMAGED:
        files += _write_band_v(plan, band_v, box, overwrite)
    preview = _preview(plan, cube, planes, box)
    write_cube_report(names.report, planes, plan.config.rejection, phase_center=names.stem,
                      preview=preview, files=[f.name for f in files], overwrite=overwrite)
    summary = {"phase_center": names.phase_center, "tile": names.tile, "epoch": names.epoch,
               "phase_center_deg": list(plan.center_deg), "ms": str(plan.ms),
               "store": str(names.store), "spws": plan.spws, "stokes": plan.config.stokes,
               "accepted": [p["spw"] for p in planes if p["status"] == IMAGED],
               "decision": cube_decision(planes),
               "planes": planes, "band_averaged_v": band_v,
               "files": [str(f) for f in files], "report": str(names.report / "report.html")}
    with atomic_output(names.summary, overwrite=overwrite, directory=False) as tmp:
        tmp.write_text(json.dumps(summary, indent=2, default=str) + "\n")
    return CoarseCubeProduct(names, planes, files, summary)


def cube_decision(planes: list[dict]) -> str:
    """``accepted (k/n planes)`` when any plane is accepted, else ``rejected (0/n planes)``."""
    accepted = len(_accepted(planes))
    return f"{'accepted' if accepted else 'rejected'} ({accepted}/{len(planes)} planes)"


def _write_band_v(plan: CubePlan, band_v: dict, box, overwrite: bool) -> list[Path]:
    names = plan.names
    src = plan.scratch / "V.zarr"
    with atomic_output(names.v_store, overwrite=overwrite) as tmp:
        shutil.copytree(src, tmp, dirs_exist_ok=True)
    ds = open_image_store(names.v_store)
    sub = ds.isel(l=slice(box[0], box[1]), m=slice(box[2], box[3]))
    written = [names.v_store]
    for variable, path in names.v_fits.items():
        keywords = product_header_keywords(names.name(stokes="V", **FITS_NAME_FIELDS[variable]),
                                           *plan.center_deg)
        one = sub.assign_attrs(fits_header={**sub.attrs["fits_header"], **keywords})
        written += export_fits(one, path, variables=(variable,), overwrite=overwrite)
    return written


def _preview(plan: CubePlan, cube: xr.Dataset, planes: list[dict], box) -> Path | None:
    """A PNG of the Stokes I sub-image of the accepted (else imaged) plane nearest 3 GHz."""
    imaged = _accepted(planes) or [k for k, p in enumerate(planes) if p["status"] != NOT_IMAGED]
    if "I" not in plan.config.stokes:
        return None
    k = min(imaged, key=lambda i: abs(plan.frequencies_hz[i] - 3.0e9))
    sub = cube.isel(frequency=[k], polarization=[plan.config.stokes.index("I")],
                    l=slice(box[0], box[1]), m=slice(box[2], box[3]))
    path = plan.scratch / "preview.png"
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    write_preview_png(sub, path, variable="SKY_PBCOR", overwrite=True)
    return path
