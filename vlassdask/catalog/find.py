"""The source finder: background maps, islands and Gaussian decomposition, chunk by chunk.

:func:`find_sources` takes an image Dataset (a Zarr image store or a FITS image opened by
:mod:`vlassdask.io`) and returns the component catalog (schema: :mod:`vlassdask.io.catalog_schema`).

1. Background (:mod:`vlassdask.catalog.background`): clipped box statistics at a grid of nodes
   and the bright pixels, computed over chunks; what the client keeps is the node grids.
2. One task per chunk (:func:`find_in_region`): it reads the chunk grown by a halo, interpolates
   the mean and rms maps of that region from the nodes, labels the islands
   (:mod:`vlassdask.catalog.islands`) and fits Gaussians (:mod:`vlassdask.catalog.gaussian_fit`)
   to, and measures (:mod:`vlassdask.catalog.measure`), the islands whose peak lies in the chunk
   and that lie wholly inside the region. The few that reach beyond it are labelled and fitted
   again, on the client, in regions grown until they hold them.

Every island is labelled and fitted on the same pixels and maps whatever the chunking, so the
catalog does not depend on ``chunk_pixels``.

Peak memory: per task about ``(chunk_pixels + 2 * halo)^2`` pixels times ~30 bytes (float64
image and signal-to-noise, float32 mean and rms, int32 labels, masks): ~40 MB for 1024-pixel
chunks; as many tasks run at once as the scheduler has threads. The background steps hold about
as much per task (:mod:`vlassdask.catalog.background`). The client holds the node grids (8 bytes
per ``step^2`` pixels), the bright pixels (16 bytes each) and the catalog rows; an island
larger than the halo is refitted on the client in a region of its own size plus twice the halo.
Nothing scales with the image size except these small arrays and the catalog.
"""

from __future__ import annotations

from typing import Any

import dask
import dask.array as da
import numpy as np
import pandas as pd
import xarray as xr

from vlassdask.catalog.background import Background, background_maps
from vlassdask.catalog.config import CatalogConfig, min_island_pixels
from vlassdask.catalog.gaussian_fit import fit_island, gaussian_model
from vlassdask.catalog.islands import region_islands, signal_to_noise
from vlassdask.catalog.measure import (
    FWHM_PER_SIGMA,
    condon_errors,
    deconvolve,
    group_gaussians,
    moments,
)
from vlassdask.catalog.names import component_names
from vlassdask.catalog.regions import RegionReader
from vlassdask.errors import InputError
from vlassdask.imaging.graph import shared
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
                   island: np.ndarray, beam: tuple[float, float, float, float],
                   config: CatalogConfig) -> list[dict[str, Any]]:  # fmt: skip
    """Fit and measure one island in a cut-out; rows in pixel units, Jy and radians.

    Parameters
    ----------
    image, mean, rms
        Cut-outs around the island (same shape).
    origin
        Image pixel of the cut-out's ``[0, 0]``.
    island
        (nx, ny) bool: the island's pixels in the cut-out.
    beam
        :func:`beam_pixels`.
    config
        Finder parameters.
    """
    image, mean, rms = (np.asarray(a, dtype=np.float64) for a in (image, mean, rms))
    data = image - mean
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


def halo_pixels(config: CatalogConfig, cell_arcsec: float) -> tuple[int, int]:
    """The pad around an island that its fit reads (the ``Peak_to_ring`` annulus) and the halo
    around a chunk, in pixels."""
    pad = int(np.ceil(config.ring_arcsec[1] / cell_arcsec)) + 2
    return pad, 2 * pad + 16


def find_in_region(reader: RegionReader, region: tuple[int, int, int, int],
                   core: tuple[int, int, int, int], background: Background,
                   beam: tuple[float, float, float, float], config: CatalogConfig
                   ) -> tuple[list[dict[str, Any]], np.ndarray, np.ndarray]:  # fmt: skip
    """Label one region, fit the complete islands it owns (module docstring).

    Parameters
    ----------
    reader
        Reads the image.
    region
        ``x0, x1, y0, y1``: the image pixels read.
    core
        ``x0, x1, y0, y1``: the image pixels whose islands the region owns.
    background
        :func:`vlassdask.catalog.background.background_maps` of the image.
    beam
        :func:`beam_pixels`.
    config
        Finder parameters.

    Returns
    -------
    rows
        Measured components (pixel units) of the complete islands, with their island's peak
        pixel ``x_peak``, ``y_peak``.
    peaks
        (n, 2) peak pixels of the complete islands (also those without components).
    incomplete
        (m, 6) ``x0, x1, y0, y1, x_peak, y_peak``: bounding boxes (as far as the region shows
        them) and peaks of the owned islands that reach beyond the region.
    """
    image = reader.read(*region)
    x0, _, y0, _ = region
    image_shape = reader.shape
    mean, rms = background.maps(*region)
    snr = signal_to_noise(image, mean, rms)
    pad, _ = halo_pixels(config, beam[3])
    found = region_islands(snr, (x0, y0), core, image_shape, pad, thresh_isl=config.thresh_isl,
                           thresh_pix=config.thresh_pix,
                           minpix=min_island_pixels(config, 1.1331 * beam[0] * beam[1]))
    rows = []
    for label, box, peak in zip(found.label[found.complete], found.boxes[found.complete],
                                found.peaks[found.complete], strict=True):  # fmt: skip
        cx0, cy0 = max(box[0] - pad, 0), max(box[2] - pad, 0)
        cut = (slice(cx0 - x0, min(box[1] + pad, image_shape[0]) - x0),
               slice(cy0 - y0, min(box[3] + pad, image_shape[1]) - y0))
        for row in measure_island(image[cut], mean[cut], rms[cut], (cx0, cy0),
                                  found.labels[cut] == label, beam, config):
            rows.append({**row, "x_peak": int(peak[0]), "y_peak": int(peak[1])})
    incomplete = np.column_stack([found.boxes, found.peaks])[~found.complete]
    return rows, found.peaks[found.complete], incomplete


def _grown(box: np.ndarray, by: int, shape: tuple[int, int]) -> tuple[int, int, int, int]:
    return (max(int(box[0]) - by, 0), min(int(box[1]) + by, shape[0]),
            max(int(box[2]) - by, 0), min(int(box[3]) + by, shape[1]))  # fmt: skip


def _finish_incomplete(reader: RegionReader, boxes: np.ndarray, background: Background,
                       beam: tuple[float, float, float, float], config: CatalogConfig
                       ) -> tuple[list[dict[str, Any]], list[np.ndarray]]:  # fmt: skip
    """Fit islands that reached beyond their chunk's region (rows of ``incomplete`` of
    :func:`find_in_region`): each is labelled again in a region around its box grown by twice the
    halo, doubling until the island lies inside. The region owns only the island's peak pixel:
    an island whose true peak lay beyond its first region is not owned there (the chunk of its
    true peak fits it)."""
    _, halo = halo_pixels(config, beam[3])
    rows, peaks = [], []
    shape = reader.shape
    for box in boxes:
        grow = 2 * halo
        core = (int(box[4]), int(box[4]) + 1, int(box[5]), int(box[5]) + 1)
        while True:
            got, got_peaks, still = find_in_region(reader, _grown(box, grow, shape), core,
                                                   background, beam, config)  # fmt: skip
            if still.size == 0:
                break
            box, grow = still[0], 2 * grow
        rows += got
        peaks.append(got_peaks)
    return rows, peaks
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
    reader = RegionReader(plane)
    background = background_maps(reader, config, beam_area_pixels=1.1331 * beam[0] * beam[1],
                                 scheduler=scheduler)
    _, halo = halo_pixels(config, beam[3])
    shared_reader, shared_background = shared(reader), shared(background)
    tasks = []
    nx, ny = plane.shape
    size = config.chunk_pixels
    for cx in range(0, nx, size):
        for cy in range(0, ny, size):
            core = (cx, min(cx + size, nx), cy, min(cy + size, ny))
            region = _grown(np.array(core), halo, plane.shape)
            tasks.append(dask.delayed(find_in_region)(shared_reader, region, core,
                                                      shared_background, beam, config))
    done = dask.compute(*tasks, scheduler=scheduler)
    rows = [row for part in done for row in part[0]]
    peaks = [part[1] for part in done]
    incomplete = np.concatenate([part[2] for part in done]).reshape(-1, 6)
    more_rows, more_peaks = _finish_incomplete(reader, incomplete, background, beam, config)
    rows += more_rows
    if not rows:
        return make_catalog(pd.DataFrame(columns=[]))
    # island numbers: the islands (also those without components) in row-major order of peaks
    peaks = np.concatenate(peaks + more_peaks)
    order = np.lexsort((peaks[:, 1], peaks[:, 0]))
    number = {(int(x), int(y)): k for k, (x, y) in enumerate(peaks[order])}
    for row in rows:
        row["island"] = number[(row.pop("x_peak"), row.pop("y_peak"))]
    return _to_catalog(rows, ds, beam, image_name, tile)
