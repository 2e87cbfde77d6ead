"""The source finder: background maps, islands and Gaussian decomposition as one dask graph.

:func:`find_sources` takes an image Dataset (a Zarr image store or a FITS image opened by
:mod:`vlassdask.io`) and returns the component catalog (schema: :mod:`vlassdask.io.catalog_schema`).

1. Background mean and rms maps (:mod:`vlassdask.catalog.background`), lazy over chunks.
2. Islands (:mod:`vlassdask.catalog.islands`): chunk-aware labelling, one table row per island.
3. Islands grouped by the chunk of their peak, up to ``islands_per_task`` per task: each task
   reads one region of the image and maps (its islands' bounding boxes grown by the
   ``Peak_to_ring`` annulus) and cuts the islands out of it, fits Gaussians
   (:mod:`vlassdask.catalog.gaussian_fit`) and measures the components
   (:mod:`vlassdask.catalog.measure`).

Peak memory per task: one image chunk and its maps (steps 1-2), or one region of about a chunk
and its maps (step 3); step 3 runs in batches of twice the scheduler's parallel slots, so at most
that many regions (and the blocks they cover) are in memory at once; the client holds the island
table and the catalog.
"""

from __future__ import annotations

from typing import Any

import dask
import dask.array as da
import numpy as np
import pandas as pd
import xarray as xr
from scipy import ndimage

from vlassdask.catalog.background import background_maps
from vlassdask.catalog.blocks import BlockGrid
from vlassdask.catalog.config import CatalogConfig, min_island_pixels
from vlassdask.catalog.gaussian_fit import fit_island, gaussian_model
from vlassdask.catalog.islands import CONNECTIVITY, find_islands, signal_to_noise
from vlassdask.catalog.measure import (
    FWHM_PER_SIGMA,
    condon_errors,
    deconvolve,
    group_gaussians,
    moments,
)
from vlassdask.catalog.names import component_names
from vlassdask.errors import InputError
from vlassdask.imaging.graph import compute_in_batches
from vlassdask.io.catalog_schema import make_catalog
from vlassdask.io.image_schema import celestial_wcs

#: Image variables searched, in order of preference (the primary-beam-corrected image first, as
#: VLASS catalogs are made from ``image.pbcor`` images).
SEARCH_VARIABLES = ("SKY_PBCOR", "SKY")
MJY = 1.0e3


def image_plane(ds: xr.Dataset, variable: str | None = None) -> tuple[str, da.Array]:
    """The variable searched and its first plane as an (nx, ny) dask array.

    Raises
    ------
    InputError
        If the Dataset has none of :data:`SEARCH_VARIABLES` (or not ``variable``).
    """
    names = (variable,) if variable else SEARCH_VARIABLES
    name = next((n for n in names if n in ds.data_vars), None)
    if name is None:
        raise InputError(f"image has no {' or '.join(names)} variable to search")
    data = ds[name].isel(time=0, frequency=0, polarization=0).data
    return name, data if isinstance(data, da.Array) else da.from_array(data)


def beam_pixels(ds: xr.Dataset) -> tuple[float, float, float, float]:
    """Restoring beam ``(fwhm_major, fwhm_minor)`` in pixels, PA in radians, and the cell in
    arcsec.

    Raises
    ------
    InputError
        If the image carries no restoring beam (``attrs["restoring_beam"]``, FITS BMAJ/BMIN).
    """
    beam = ds.attrs.get("restoring_beam")
    keys = ("major_arcsec", "minor_arcsec", "pa_deg")
    if not isinstance(beam, dict) or not all(k in beam for k in keys):
        raise InputError("image has no restoring beam (BMAJ/BMIN/BPA): component sizes and "
                         "fluxes cannot be measured")
    cell = float(np.degrees(ds["m"].values[1] - ds["m"].values[0]) * 3600.0)
    major, minor = float(beam["major_arcsec"]), float(beam["minor_arcsec"])
    if not (np.isfinite(major) and np.isfinite(minor) and major >= minor > 0):
        raise InputError(f"image has an invalid restoring beam {beam}")
    return major / cell, minor / cell, np.radians(float(beam["pa_deg"])), cell


def _island_pixels(snr: np.ndarray, peak: tuple[int, int], thresh_isl: float) -> np.ndarray:
    labels, _ = ndimage.label(snr > thresh_isl, structure=CONNECTIVITY)  # NaN compares False
    return labels == labels[peak]


def _source_values(params: np.ndarray, errors: dict[str, np.ndarray], members: np.ndarray,
                   xs: np.ndarray, ys: np.ndarray) -> dict[str, float]:  # fmt: skip
    """Pixel-unit measurements of one source made of the Gaussians ``members``."""
    p = params[members]
    flux = p[:, 0] * p[:, 3] * p[:, 4]  # integrated flux times the beam's sigma product
    e = {k: v[members] for k, v in errors.items()}
    if len(members) == 1:
        amp, x, y, smaj, smin, theta = p[0]
        return {"peak": amp, "e_peak": e["amp"][0], "x": x, "y": y, "e_x": e["x"][0],
                "e_y": e["y"][0], "maj": smaj * FWHM_PER_SIGMA, "e_maj": e["maj"][0],
                "min": smin * FWHM_PER_SIGMA, "e_min": e["min"][0], "theta": theta,
                "e_theta": e["pa"][0], "flux": flux[0], "e_flux_frac": e["total"][0]}
    x, y, maj, mnr, theta = moments(p, xs, ys)
    weights = flux / flux.sum()
    peak = max(gaussian_model(p, xs, ys).max(), gaussian_model(p, p[:, 1], p[:, 2]).max())
    return {"peak": peak, "e_peak": float(np.sqrt(np.sum(e["amp"] ** 2))), "x": x, "y": y,
            "e_x": float(np.sqrt(np.sum((weights * e["x"]) ** 2))),
            "e_y": float(np.sqrt(np.sum((weights * e["y"]) ** 2))),
            "maj": maj, "e_maj": float(np.sqrt(np.mean(e["maj"] ** 2))), "min": mnr,
            "e_min": float(np.sqrt(np.mean(e["min"] ** 2))), "theta": theta,
            "e_theta": float(np.max(e["pa"])), "flux": flux.sum(),
            "e_flux_frac": float(np.sqrt(np.sum((flux * e["total"]) ** 2)) / flux.sum())}


def _ring_max(data: np.ndarray, x: float, y: float, ring_pixels: tuple[float, float]) -> float:
    dx = np.arange(data.shape[0])[:, None] - x
    dy = np.arange(data.shape[1])[None, :] - y
    r = np.hypot(dx, dy)
    inside = (r >= ring_pixels[0]) & (r <= ring_pixels[1]) & np.isfinite(data)
    return float(data[inside].max()) if inside.any() else np.nan


def measure_island(image: np.ndarray, mean: np.ndarray, rms: np.ndarray, origin: tuple[int, int],
                   peak: tuple[int, int], beam: tuple[float, float, float, float],
                   config: CatalogConfig) -> list[dict[str, Any]]:  # fmt: skip
    """Fit and measure one island in a cut-out; rows in pixel units, Jy and radians.

    Parameters
    ----------
    image, mean, rms
        Cut-outs around the island (same shape).
    origin
        Image pixel of the cut-out's ``[0, 0]``.
    peak
        The island's brightest pixel, in cut-out pixels.
    beam
        :func:`beam_pixels`.
    config
        Finder parameters.
    """
    image, mean, rms = (np.asarray(a, dtype=np.float64) for a in (image, mean, rms))
    data = image - mean
    snr = np.where(rms > 0, data / np.where(rms > 0, rms, 1.0), np.nan)
    island = _island_pixels(snr, peak, config.thresh_isl)
    bmaj, bmin, bpa, cell = beam
    beam_sigma = (bmaj / FWHM_PER_SIGMA, bmin / FWHM_PER_SIGMA, bpa)
    params = fit_island(data, rms, island, beam_sigma, thresh_pix=config.thresh_pix,
                        flag_minsnr=config.flag_minsnr, max_gaussians=config.max_gaussians)
    if params.shape[0] == 0:
        return []
    xs, ys = np.nonzero(island)
    local_rms = rms[np.clip(np.rint(params[:, 1]).astype(int), 0, rms.shape[0] - 1),
                    np.clip(np.rint(params[:, 2]).astype(int), 0, rms.shape[1] - 1)]
    errors = condon_errors(params[:, 0], params[:, 3], params[:, 4], params[:, 5], local_rms,
                           (bmaj, bmin))
    groups = group_gaussians(params, config.group_tol)
    sources = [np.flatnonzero(groups == g) for g in np.unique(groups)]
    owner = np.argmax([gaussian_model(params[m], xs, ys) for m in sources], axis=0)
    beam_area = 2.0 * np.pi * beam_sigma[0] * beam_sigma[1]
    resid = data[xs, ys] - gaussian_model(params, xs, ys)
    isl_rms = float(rms[xs, ys].mean())
    island_values = {
        "isl_flux": float(data[xs, ys].sum() / beam_area),
        "e_isl_flux": float(isl_rms * np.sqrt(xs.size / beam_area)),
        "isl_rms": isl_rms, "isl_mean": float(mean[xs, ys].mean()),
        "resid_rms": float(resid.std()), "resid_mean": float(resid.mean()),
    }  # fmt: skip
    ring = (config.ring_arcsec[0] / cell, config.ring_arcsec[1] / cell)
    rows = []
    for k, members in enumerate(sources):
        values = _source_values(params, errors, members, xs, ys)
        mine = owner == k
        brightest = np.argmax(np.where(mine, data[xs, ys], -np.inf))
        code = "M" if len(members) > 1 else ("S" if len(sources) == 1 else "C")
        rows.append({
            **values, **island_values, "s_code": code, "n_gaussians": len(members),
            "flux": values["flux"] / (beam_sigma[0] * beam_sigma[1]),
            "x": values["x"] + origin[0], "y": values["y"] + origin[1],
            "x_max": float(xs[brightest] + origin[0]), "y_max": float(ys[brightest] + origin[1]),
            "ring_max": _ring_max(data, values["x"], values["y"], ring),
        })  # fmt: skip
    return rows


def _fit_region(blocks: list, origin: tuple[int, int], boxes: np.ndarray,
                beam: tuple[float, float, float, float],
                config: CatalogConfig) -> list[dict[str, Any]]:  # fmt: skip
    """One task: fit the islands ``boxes`` (rows: island, x0, x1, y0, y1, x_peak, y_peak in
    image pixels, boxes already grown by the ring pad) inside one region of the image, given as
    the image, mean and rms blocks (nested lists) that cover it, starting at ``origin``."""
    image, mean, rms = (np.block(b).astype(np.float64, copy=False) for b in blocks)
    rows = []
    for isl, x0, x1, y0, y1, xp, yp in boxes:
        cut = (slice(x0 - origin[0], x1 - origin[0]), slice(y0 - origin[1], y1 - origin[1]))
        for row in measure_island(image[cut], mean[cut], rms[cut], (x0, y0), (xp - x0, yp - y0),
                                  beam, config):
            rows.append({**row, "island": int(isl)})
    return rows


def fit_tasks(image: da.Array, mean: da.Array, rms: da.Array, islands: pd.DataFrame,
              beam: tuple[float, float, float, float], config: CatalogConfig) -> list:
    """Delayed fitting tasks: islands grouped by the chunk of their peak, at most
    ``islands_per_task`` per task; each task receives the blocks of the image and maps that
    cover its islands' boxes grown by the ``Peak_to_ring`` annulus (rows of
    :func:`vlassdask.catalog.islands.find_islands`)."""
    pad = int(np.ceil(config.ring_arcsec[1] / beam[3])) + 2
    nx, ny = image.shape
    boxes = pd.DataFrame({
        "island": islands["island"], "x0": np.maximum(islands["x0"] - pad, 0),
        "x1": np.minimum(islands["x1"] + pad, nx), "y0": np.maximum(islands["y0"] - pad, 0),
        "y1": np.minimum(islands["y1"] + pad, ny), "x_peak": islands["x_peak"],
        "y_peak": islands["y_peak"],
        "chunk": (islands["x_peak"] // config.chunk_pixels) * (ny // config.chunk_pixels + 1)
        + islands["y_peak"] // config.chunk_pixels,
    })  # fmt: skip
    grid = BlockGrid.of(image, mean, rms)  # whole blocks: see vlassdask.catalog.blocks
    tasks = []
    for _, group in boxes.groupby("chunk", sort=True):
        for start in range(0, len(group), config.islands_per_task):
            part = group.iloc[start:start + config.islands_per_task]
            blocks, origin = grid.covering(int(part["x0"].min()), int(part["x1"].max()),
                                           int(part["y0"].min()), int(part["y1"].max()))
            rows = part.drop(columns="chunk").to_numpy(dtype=np.int64)
            tasks.append(dask.delayed(_fit_region)(blocks, origin, rows, beam, config))
    return tasks


def _to_catalog(rows: list[dict[str, Any]], ds: xr.Dataset, beam: tuple[float, ...],
                image_name: str, tile: str) -> pd.DataFrame:  # fmt: skip
    """Pixel-unit rows -> schema columns (mJy, arcsec, degrees, sky positions)."""
    t = pd.DataFrame(rows).sort_values(["island", "x"]).reset_index(drop=True)
    bmaj, bmin, bpa, cell = beam
    wcs = celestial_wcs(ds)
    ra, dec = wcs.wcs_pix2world(t["x"].to_numpy(), t["y"].to_numpy(), 0)
    ra_max, dec_max = wcs.wcs_pix2world(t["x_max"].to_numpy(), t["y_max"].to_numpy(), 0)
    dc_maj, dc_min, dc_pa = deconvolve(t["maj"].to_numpy(), t["min"].to_numpy(),
                                       t["theta"].to_numpy(), (bmaj, bmin, bpa))
    flux = t["flux"]
    ratio_maj = np.where(dc_maj > 0, t["maj"] / np.where(dc_maj > 0, dc_maj, 1.0), 1.0)
    ratio_min = np.where(dc_min > 0, t["min"] / np.where(dc_min > 0, dc_min, 1.0), 1.0)
    ring = t["ring_max"].to_numpy()
    peak_to_ring = np.where(ring > 0, t["peak"] / np.where(ring > 0, ring, 1.0), np.inf)
    ra = np.mod(ra, 360.0)
    table = pd.DataFrame({
        "Component_name": component_names(ra, dec), "Source_id": np.arange(len(t)),
        "Isl_id": t["island"], "Image": image_name, "Tile": tile,
        "RA": ra, "E_RA": t["e_x"] * cell, "DEC": dec, "E_DEC": t["e_y"] * cell,
        "Total_flux": flux * MJY, "E_Total_flux": flux * t["e_flux_frac"] * MJY,
        "Peak_flux": t["peak"] * MJY, "E_Peak_flux": t["e_peak"] * MJY,
        "RA_max": np.mod(ra_max, 360.0), "DEC_max": dec_max,
        "Xposn": t["x"], "E_Xposn": t["e_x"], "Yposn": t["y"], "E_Yposn": t["e_y"],
        "Maj": t["maj"] * cell, "E_Maj": t["e_maj"] * cell,
        "Min": t["min"] * cell, "E_Min": t["e_min"] * cell,
        "PA": np.degrees(t["theta"]), "E_PA": np.degrees(t["e_theta"]),
        "DC_Maj": dc_maj * cell, "E_DC_Maj": t["e_maj"] * cell * ratio_maj,
        "DC_Min": dc_min * cell, "E_DC_Min": t["e_min"] * cell * ratio_min,
        "DC_PA": np.degrees(dc_pa), "E_DC_PA": np.degrees(t["e_theta"]),
        "Isl_Total_flux": t["isl_flux"] * MJY, "E_Isl_Total_flux": t["e_isl_flux"] * MJY,
        "Isl_rms": t["isl_rms"] * MJY, "Isl_mean": t["isl_mean"] * MJY,
        "Resid_Isl_rms": t["resid_rms"] * MJY, "Resid_Isl_mean": t["resid_mean"] * MJY,
        "S_Code": t["s_code"], "N_Gaussians": t["n_gaussians"],
        "Peak_to_ring": peak_to_ring,
    })  # fmt: skip
    return make_catalog(table)


def find_sources(ds: xr.Dataset, config: CatalogConfig | None = None, *,
                 variable: str | None = None, image_name: str = "", tile: str = "",
                 scheduler: str | None = None) -> pd.DataFrame:  # fmt: skip
    """Find and measure the components of an image.

    Parameters
    ----------
    ds
        Image Dataset (schema of :mod:`vlassdask.io.image_schema`); its first plane is searched.
    config
        Finder parameters (default: the VLASS values).
    variable
        Image variable to search (default ``SKY_PBCOR`` if present, else ``SKY``).
    image_name, tile
        Written into the ``Image`` and ``Tile`` columns.
    scheduler
        dask scheduler of the computations (default: the current one); a batch task running
        on a worker passes ``"synchronous"``.

    Returns
    -------
    pandas.DataFrame
        The component catalog (required schema columns), one row per component.

    Raises
    ------
    InputError
        No restoring beam, or no finite pixel in the image.
    """
    config = config or CatalogConfig()
    beam = beam_pixels(ds)
    _, plane = image_plane(ds, variable)
    # float64 working copy per chunk: also a task of its own, so that the many small cut-outs
    # below slice computed chunks instead of each re-reading its file section
    image = plane.rechunk(config.chunk_pixels).astype(np.float64)
    beam_area = 1.1331 * beam[0] * beam[1]
    background = background_maps(image, config, beam_area_pixels=beam_area, scheduler=scheduler)
    snr = signal_to_noise(image, background.mean, background.rms)
    islands = find_islands(snr, thresh_isl=config.thresh_isl, thresh_pix=config.thresh_pix,
                           min_pixels=min_island_pixels(config, beam_area),
                           scheduler=scheduler)
    if islands.empty:
        return make_catalog(pd.DataFrame(columns=[]))
    tasks = fit_tasks(image, background.mean, background.rms, islands, beam, config)
    rows = [row for part in compute_in_batches(tasks, scheduler) for row in part]
    if not rows:
        return make_catalog(pd.DataFrame(columns=[]))
    return _to_catalog(rows, ds, beam, image_name, tile)
