"""Deconvolution problems: left-over flux and spikes around the brightest sources.

Poor deconvolution shows as structure around bright sources that flagging cannot remove: an
under-cleaned core and spikes (the dirty beam's sidelobes) in the residual (VLASS paper section
4.1). The image-wide cleaning statistic (peak |residual| / robust rms < 20 and < 6, relaxed
after retries) is :class:`~vlassdask.qa.statistics.ImageStatistics` and the decision engine's
business; this detector looks at the sources themselves:

1. the ``n_sources`` brightest sources, at least ``min_source_snr`` residual rms bright, in the
   flat-noise image (sky x normalised PB when a PB is given, so that the mosaic edges' amplified
   noise is not mistaken for sources), at least twice ``ring_inner_beams`` apart;
2. for each, in the residual: the local noise = robust rms in a ring ``ring_inner_beams`` to
   ``ring_outer_beams`` beam FWHMs from the source; the **core peak** = largest |residual|
   within ``core_radius_beams`` over that noise; the **spikiness** = rms of the ring over its
   robust rms (1 for noise of any level: RFI or stripes raise both);
3. a source's score is the larger of core peak / ``peak_threshold`` and spikiness /
   ``spike_threshold``; the detector's **score** is the largest over the sources and the
   **threshold** 1.

Peak memory: one tile-maximum pass over the image (a transposed copy of one chunk, or of the
image for numpy planes) and one residual cut-out per source.
"""

from __future__ import annotations

import math
import warnings

import dask
import dask.array as da
import numpy as np

from vlassdask.qa.detectors.common import radius_map, robust_rms
from vlassdask.qa.detectors.config import DetectorConfig
from vlassdask.qa.planes import beam_pixels, cutout, plane_data
from vlassdask.qa.robust import sample_rms
from vlassdask.qa.types import DetectorResult, Location, QAImages

NAME = "deconvolution"
#: Candidate tiles kept per image block when searching for the brightest sources.
CANDIDATES_PER_BLOCK = 64


def _tile_candidates(block: np.ndarray, offset: tuple[int, int], tile: int, keep: int
                     ) -> np.ndarray:  # fmt: skip
    """(value, x, y) rows of the brightest pixel of the ``keep`` brightest ``tile``-tiles."""
    nx, ny = -(-block.shape[0] // tile), -(-block.shape[1] // tile)
    padded = np.full((nx * tile, ny * tile), np.nan, dtype=np.float32)
    padded[:block.shape[0], :block.shape[1]] = block
    tiles = padded.reshape(nx, tile, ny, tile)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN tiles
        maxima = np.fmax.reduce(np.fmax.reduce(tiles, axis=3), axis=1)
    maxima = np.where(np.isfinite(maxima), maxima, -np.inf)
    count = min(keep, maxima.size)
    order = np.argpartition(maxima.ravel(), maxima.size - count)[maxima.size - count:]
    rows = []
    for tx, ty in zip(*np.unravel_index(order, maxima.shape), strict=True):
        if not np.isfinite(maxima[tx, ty]):
            continue
        values = np.nan_to_num(tiles[tx, :, ty, :], nan=-np.inf)
        wx, wy = np.unravel_index(int(np.argmax(values)), values.shape)
        rows.append((float(maxima[tx, ty]), tx * tile + wx + offset[0],
                     ty * tile + wy + offset[1]))  # fmt: skip
    return np.asarray(rows, dtype=np.float64).reshape(-1, 3)


def brightest_sources(image: np.ndarray | da.Array, *, count: int, separation: float,
                      minimum: float) -> list[tuple[float, int, int]]:  # fmt: skip
    """The ``count`` brightest local maxima of ``image`` above ``minimum``, at least
    ``separation`` pixels apart, as ``(value, x, y)`` (brightest first)."""
    tile = max(4, int(separation // 4))
    if isinstance(image, da.Array):
        starts = [np.concatenate([[0], np.cumsum(c)[:-1]]) for c in image.chunks]
        blocks = image.to_delayed()
        parts = [dask.delayed(_tile_candidates)(blocks[i, j], (int(starts[0][i]),
                                                               int(starts[1][j])),
                                                tile, CANDIDATES_PER_BLOCK)
                 for i in range(blocks.shape[0]) for j in range(blocks.shape[1])]  # fmt: skip
        candidates = np.concatenate(dask.compute(*parts))
    else:
        candidates = _tile_candidates(np.asarray(image), (0, 0), tile, CANDIDATES_PER_BLOCK)
    candidates = candidates[np.argsort(-candidates[:, 0])]
    chosen: list[tuple[float, int, int]] = []
    for value, x, y in candidates:
        if not value >= minimum or len(chosen) == count:
            break
        if all(math.hypot(x - cx, y - cy) >= separation for _, cx, cy in chosen):
            chosen.append((float(value), int(x), int(y)))
    return chosen


def _flat_sky(images: QAImages) -> np.ndarray | da.Array:
    """Sky x PB / max(PB) (the flat-noise image) when a PB is given, else the sky."""
    sky = plane_data(images.sky)
    if images.pb is None:
        return sky
    pb = plane_data(images.pb)
    if isinstance(sky, da.Array) or isinstance(pb, da.Array):
        sky, pb = da.asarray(sky), da.asarray(pb)
        return sky * (pb / da.nanmax(pb))
    return sky * (pb / np.nanmax(pb))


def detect_deconvolution_problems(images: QAImages, config: DetectorConfig) -> DetectorResult:
    """Find under-cleaned bright sources and spikes around them (see the module docstring).

    Parameters
    ----------
    images
        Uses ``sky`` (and ``pb``) to find sources, ``residual`` (``sky`` without one) to
        measure them.
    config
        ``config.deconvolution`` is used.

    Returns
    -------
    DetectorResult
        score: largest per-source score (1 = threshold); locations: the sources that reach it;
        details: per-source core peak and spikiness.
    """
    cfg = config.deconvolution
    residual = plane_data(images.residual if images.residual is not None else images.sky)
    noise = sample_rms(residual)
    beam = max(beam_pixels(images))
    outer, inner = cfg.ring_outer_beams * beam, cfg.ring_inner_beams * beam
    sources = brightest_sources(_flat_sky(images), count=cfg.n_sources, separation=2 * inner,
                                minimum=cfg.min_source_snr * noise)  # fmt: skip
    measured, locations = [], []
    for value, x, y in sources:
        box, (bx, by) = cutout(residual, x, y, outer)
        r = radius_map(box.shape, (x - bx, y - by))
        ring = box[(r >= inner) & (r <= outer)].astype(np.float64)
        ring = ring[np.isfinite(ring)]
        core = box[r <= cfg.core_radius_beams * beam]
        local = robust_rms(ring)
        if ring.size < 20 or not local > 0:
            continue
        peak = float(np.nanmax(np.abs(core))) / local if np.isfinite(core).any() else 0.0
        spikiness = float(np.sqrt(np.mean((ring - np.median(ring)) ** 2))) / local
        score = max(peak / cfg.peak_threshold, spikiness / cfg.spike_threshold)
        measured.append({"x": x, "y": y, "flat_sky_jy": value, "core_peak_sigma": peak,
                         "spikiness": spikiness, "local_rms": local, "score": score})  # fmt: skip
        if score >= 1.0:
            locations.append(Location(float(x), float(y), outer,
                                      f"residual core {peak:.1f} sigma, spikes rms "
                                      f"x{spikiness:.2f}"))  # fmt: skip
    score = max((m["score"] for m in measured), default=0.0)
    return DetectorResult(
        name=NAME, score=score, threshold=1.0, detected=score >= 1.0, locations=tuple(locations),
        details={"sources": measured, "residual_rms": noise,
                 "peak_threshold": cfg.peak_threshold, "spike_threshold": cfg.spike_threshold},
    )  # fmt: skip
