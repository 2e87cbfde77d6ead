"""The main job: simulate a small VLASS-like observation and make its images.

Driven by a pipeline YAML (``pipelines/end_to_end.yaml``) with sections ``simulate`` and ``sky``
(as :mod:`vlassdask.simulate` reads them) and any of

* ``quicklook``: ``phasecenter`` (a VLASS phase-centre name), optional ``preset`` and
  ``config`` (a Quick Look document: ``quicklook``/``imaging``/``clean``/``qa`` sections) ->
  the Quick Look products of that phase centre in ``out_dir/products/``
  (:func:`vlassdask.products.quicklook.make_quicklook_product`);
* ``imaging`` (:class:`ImagingConfig`) -> ``dirty.zarr``, ``dirty.fits``, ``dirty.png``; with
  ``clean`` (:class:`CleanConfig`) also ``clean.zarr``, ``clean.clean.json``, ``clean.png`` and
  ``clean.<variable>.fits``.

The simulated Measurement Set is ``out_dir/obs.ms``.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from vlassdask.deconvolution.config import CleanConfig
from vlassdask.errors import ConfigError, reject_unknown_keys
from vlassdask.imaging.config import ImagingConfig
from vlassdask.io.atomic import check_can_write
from vlassdask.io.config_files import read_yaml_mapping
from vlassdask.io.fits_export import fits_paths
from vlassdask.products.clean import FITS_VARIABLES, cycles_json_path, make_clean_product
from vlassdask.products.dirty import make_dirty_product
from vlassdask.products.quicklook import make_quicklook_product, quicklook_names
from vlassdask.products.quicklook_config import QuickLookConfig
from vlassdask.products.simulation import simulate_observation
from vlassdask.simulate import from_dict
from vlassdask.simulate.observation import build_layout
from vlassdask.simulate.sky import random_sky, sky_from_records

#: Antennas of the simulated array when the simulate section names none.
VLA_ANTENNAS = 27
SECTIONS = ("simulate", "sky", "imaging", "clean", "quicklook")
QUICKLOOK_KEYS = ("phasecenter", "preset", "config")


def read_pipeline_config(path: str | os.PathLike) -> dict[str, Any]:
    """Read and check the sections of a pipeline YAML (``yaml.safe_load``)."""
    doc = read_yaml_mapping(path, what="pipeline configuration")
    reject_unknown_keys(doc, SECTIONS, f"{path}: unknown section(s)")
    return doc


def _quicklook_section(section: Any, accumulators: int, fft_threads: int):
    """(phase centre, QuickLookConfig) of a ``quicklook`` section, or None."""
    if not section:
        return None
    if not isinstance(section, dict) or "phasecenter" not in section:
        raise ConfigError("the quicklook section needs a phasecenter (and optionally preset "
                          "and config)")
    reject_unknown_keys(section, QUICKLOOK_KEYS, "unknown quicklook option(s):")
    config = QuickLookConfig.from_document(section.get("config") or {},
                                           preset=section.get("preset"))
    return str(section["phasecenter"]), config.with_threads(accumulators, fft_threads)


def simulated_bytes(config: str | os.PathLike) -> int:
    """Size of the visibilities the pipeline ``config`` simulates (complex64 DATA of four
    correlations per row and channel), from its simulate section alone: nothing is computed.

    Raises
    ------
    ConfigError, InputError
        A bad or unreadable pipeline file.
    """
    sim = from_dict(read_pipeline_config(config).get("simulate") or {})
    layout = build_layout(sim)
    n_antennas = len(sim.antennas) or VLA_ANTENNAS
    rows = layout.n_times * n_antennas * (n_antennas - 1) // 2 * layout.spw_ids.size
    return 8 * 4 * rows * sim.nchan_per_spw


def run_end_to_end(
    config: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    overwrite: bool = False,
    progress: bool = True,
    log=print,
    accumulators: int = 1,
    fft_threads: int = 1,
) -> dict[str, Any]:
    """Run the main job and return a summary (paths, timings, image statistics).

    ``accumulators`` is the number of grids the imaging folds visibilities into in parallel (the
    cluster's worker threads), ``fft_threads`` the threads of each w-layer's FFT and image pass
    (one worker's threads).

    Raises
    ------
    ProductExistsError
        If an output exists and ``overwrite`` is false (checked before anything is written).
    ConfigError
        A bad section (before anything is written).
    """
    doc = read_pipeline_config(config)
    sim = from_dict(doc.get("simulate") or {})
    sky = (sky_from_records(doc["sky"], f"sky: section of {config}") if doc.get("sky")
           else random_sky(10, ra_deg=sim.ra_deg, dec_deg=sim.dec_deg, seed=sim.seed))
    imaging = ImagingConfig.from_mapping(doc["imaging"]).with_threads(accumulators, fft_threads) \
        if doc.get("imaging") else None
    clean = CleanConfig.from_mapping(doc["clean"]) if doc.get("clean") else None
    if clean is not None and imaging is None:
        raise ConfigError(f"{config}: a clean section needs an imaging section")
    quicklook = _quicklook_section(doc.get("quicklook"), accumulators, fft_threads)
    out = Path(out_dir)
    names = ["obs.ms"]
    if imaging is not None:
        names += ["dirty.zarr", "dirty.fits", "dirty.png"]
    if clean is not None:
        names += ["clean.zarr", "clean.png"]
    paths = {name: out / name for name in names}
    for path in paths.values():
        check_can_write(path, overwrite=overwrite)
    if clean is not None:
        for path in [cycles_json_path(paths["clean.zarr"]), *fits_paths(out / "clean.fits",
                                                                         FITS_VARIABLES)]:
            check_can_write(path, overwrite=overwrite)
    if quicklook is not None:
        mjd = float(build_layout(sim).time_mjd_s.mean()) / 86400.0
        ql_names, _ = quicklook_names(quicklook[0], out / "products", quicklook[1], mjd)
        for path, kind in ql_names.all():
            check_can_write(path, overwrite=overwrite, kind=kind)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    log(f"simulating {len(sky)} sources -> {paths['obs.ms']}")
    simulate_observation(sim, sky, paths["obs.ms"], overwrite=overwrite)
    t1 = time.perf_counter()
    summary: dict[str, Any] = {"outputs": {k: str(v) for k, v in paths.items()},
                               "seconds": {"simulate": round(t1 - t0, 2)}}
    if quicklook is not None:
        phasecenter, ql_config = quicklook
        log(f"Quick Look of {phasecenter} -> {out / 'products'}")
        product = make_quicklook_product(paths["obs.ms"], phasecenter, out / "products",
                                         ql_config, overwrite=overwrite,
                                         command=f"vlassdask run {config}",
                                         progress=lambda record: log(record.line()), log=log)
        names_ = product.names
        summary["outputs"].update({p.name: str(p) for p in [
            names_.store, *product.fits, names_.preview, names_.qa_report, names_.summary]})
        summary["seconds"]["quicklook"] = round(time.perf_counter() - t1, 2)
        summary["quicklook"] = {"decision": product.decision,
                                "attempts": len(product.attempts),
                                "restoring_beam": product.summary["restoring_beam"]}
    if imaging is None:
        return summary
    t1 = time.perf_counter()
    log(f"imaging -> {paths['dirty.zarr']}")
    product = make_dirty_product(paths["obs.ms"], paths["dirty.zarr"], imaging,
                                 overwrite=overwrite, fits=paths["dirty.fits"],
                                 preview=paths["dirty.png"], command=f"vlassdask run {config}",
                                 progress=progress)
    t2 = time.perf_counter()
    summary["seconds"]["image"] = round(t2 - t1, 2)
    summary.update(product.summary)
    if clean is not None:
        log(f"cleaning ({clean.deconvolver}, niter {clean.niter}, nsigma {clean.nsigma:g}) -> "
            f"{paths['clean.zarr']}")
        cleaned = make_clean_product(paths["obs.ms"], paths["clean.zarr"], imaging, clean,
                                     overwrite=overwrite, fits=out / "clean.fits",
                                     preview=paths["clean.png"],
                                     command=f"vlassdask run {config}",
                                     progress=lambda record: log(record.line()))
        summary["outputs"].update({"clean.clean.json": str(cleaned.cycles_json),
                                   **{p.name: str(p) for p in cleaned.fits}})
        summary["seconds"]["clean"] = round(time.perf_counter() - t2, 2)
        summary["clean"] = {k: cleaned.summary[k] for k in (
            "stop_code", "stop_reason", "iterations", "major_cycles", "restoring_beam",
            "final_rms_jy", "peak_jy_per_beam")}
    return summary
