"""RFI: patches of raised noise about one primary beam across in the rms image.

VLASS observes on the fly: a burst of RFI at one time reaches the image through the pointings of
that moment and raises the noise over a region roughly the size of the field of view (VLASS
paper section 4.1; SPEC: ~15' at 3 GHz). The detector

1. reads a regular sample of the rms image (about 1 M pixels: the rms image is itself a
   60"-box statistic, smooth on arcminute scales); with a PB it multiplies by the normalised PB
   (``flatten_with_pb``), which removes the 1 / PB rise of a PB-corrected image's noise towards
   the mosaic edges and PB holes, and ignores pixels with PB below ``pb_limit``;
2. takes medians over blocks of ``scale / blocks_per_scale`` (robust to bright-source bumps in
   the rms image) and averages them over windows of ``blocks_per_scale^2`` blocks, the patch
   scale (``scale_arcmin`` x 3 GHz / frequency);
3. **score** = the largest window average whose centre lies in the sub-image, over the median of
   the block medians of the sub-image;
4. each connected group of windows at or above ``ratio_threshold`` is a patch (located at its
   highest window, radius half the patch scale). RFI raises Gaussian noise. Under-cleaned
   sources and PB holes raise the rms with spikes (heavy tails), stripes with a sinusoid
   (light tails). Within half the patch scale the residual's rms over its robust rms (1 for
   Gaussian noise; a patch of strong RFI, a mixture of noise levels, reaches ~1.3) must not
   exceed ``max_spikiness``, within one patch scale its largest deviation must not exceed
   ``max_peak_sigma`` robust rms (an under-cleaned source nearby), and within half the scale
   the rms / robust rms of the residual divided by the
   local noise (rms image x normalised PB, which takes out the smooth rise of RFI noise) must
   not fall below ``min_spikiness`` (noise plus a 1.3-sigma sinusoid gives 0.95, at 2 sigma
   0.88). A patch within one patch scale of a PB hole (a PB-masked region not touching the
   image border) is the hole's noise, not RFI; a patch whose rms excess stays above half its
   peak over more than ``max_extent_scales`` patch sizes is a time range of many scan rows (a
   bad baseline, a calibration problem), not a burst. Vetoed patches are listed under
   ``vetoed_patches``; their windows and those next to them do not count for the score.

Peak memory: the samples (~4 MB per plane) and one residual cut-out of the patch size per
patch.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage

from vlassdask.qa.detectors.common import interior_regions, radius_map, robust_rms, skipped
from vlassdask.qa.detectors.config import DetectorConfig
from vlassdask.qa.planes import cutout, plane_data, sampled, stride_for
from vlassdask.qa.types import DetectorResult, Location, QAImages

NAME = "rfi"
RMS_SAMPLE_PIXELS = 1024 * 1024
#: Frequency at which ``scale_arcmin`` is given (SPEC: ~15' at 3 GHz).
SCALE_FREQUENCY_HZ = 3.0e9


def _block_medians(values: np.ndarray, block: int) -> np.ndarray:
    """Median of each ``block x block`` tile (NaN where fewer than half its pixels are finite);
    the last partial tiles along each axis are dropped."""
    nx, ny = values.shape[0] // block, values.shape[1] // block
    tiles = values[:nx * block, :ny * block].reshape(nx, block, ny, block)
    tiles = tiles.transpose(0, 2, 1, 3).reshape(nx, ny, block * block)
    enough = np.isfinite(tiles).sum(axis=2) >= (block * block) / 2
    out = np.full((nx, ny), np.nan)
    if enough.any():
        out[enough] = np.nanmedian(tiles[enough], axis=1)
    return out


def _window_mean(blocks: np.ndarray, size: int) -> np.ndarray:
    """Mean of the finite blocks in each ``size x size`` window; NaN where fewer than half of
    the window's blocks are finite (blocks beyond the image count as not finite)."""
    finite = np.isfinite(blocks)
    total = ndimage.uniform_filter(np.where(finite, blocks, 0.0), size, mode="constant")
    count = ndimage.uniform_filter(finite.astype(np.float64), size, mode="constant")
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count >= 0.5 - 1e-9, total / count, np.nan)


def _tails(values: np.ndarray) -> tuple[float, float]:
    """rms over robust rms (1.4826 MAD) of the finite ``values`` (1 for Gaussian noise) and
    their largest deviation from the median in robust rms."""
    values = values[np.isfinite(values)]
    spread = robust_rms(values)
    if values.size < 20 or not spread > 0:
        return math.nan, math.nan
    deviation = np.abs(values - np.median(values))
    return float(np.sqrt(np.mean(deviation**2))) / spread, float(deviation.max()) / spread


def _spikiness(images: QAImages, x: float, y: float, radius: float) -> tuple[float, ...]:
    """Tail statistics of the residual around (x, y): rms / robust rms within ``radius / 2``
    of the residual as it is (heavy tails: artifacts) and of the residual divided by the local
    noise, rms image x normalised PB (light tails: a sinusoid); and the largest deviation from
    the median, in robust rms, within ``radius`` (a bright under-cleaned source nearby)."""
    box, (bx, by) = cutout(plane_data(images.residual), x, y, radius)
    distance = radius_map(box.shape, (x - bx, y - by))
    inner = distance <= radius / 2
    scale, _ = cutout(plane_data(images.rms), x, y, radius)
    scale = scale.astype(np.float64)
    if images.pb is not None:
        scale = scale * cutout(plane_data(images.pb), x, y, radius)[0]
    with np.errstate(invalid="ignore", divide="ignore"):
        normalised = box / scale
    heavy = _tails(box[inner].astype(np.float64))[0]
    peak = _tails(box[distance <= radius].astype(np.float64))[1]
    return heavy, peak, _tails(normalised[inner])[0]


def detect_rfi(images: QAImages, config: DetectorConfig) -> DetectorResult:
    """Find patches of raised rms about one primary beam across (see the module docstring).

    Parameters
    ----------
    images
        Needs ``rms``; uses ``pb`` when given.
    config
        ``config.rfi`` is used.

    Returns
    -------
    DetectorResult
        score: largest patch rms over the median rms of the sub-image; locations: the patches.
    """
    cfg = config.rfi
    if images.rms is None:
        return skipped(NAME, cfg.ratio_threshold, "no rms image")
    rms = plane_data(images.rms)
    stride = stride_for(rms.shape, RMS_SAMPLE_PIXELS)
    level = sampled(rms, stride).astype(np.float64)
    hole_distance = None
    if images.pb is not None:
        pb = sampled(plane_data(images.pb), stride).astype(np.float64)
        peak = np.nanmax(pb) if np.isfinite(pb).any() else math.nan
        pb = pb / peak
        level[~(pb >= cfg.pb_limit)] = np.nan
        if cfg.flatten_with_pb:
            level *= pb
        labels, holes = interior_regions(~(pb >= cfg.pb_limit))
        if holes.size:
            hole_distance = ndimage.distance_transform_edt(~np.isin(labels, holes)) * stride
    level[~(level > 0)] = np.nan
    scale_px = cfg.scale_arcmin * 60.0 * (SCALE_FREQUENCY_HZ / images.frequency_hz) \
        / images.cell_arcsec
    block = max(1, int(round(scale_px / cfg.blocks_per_scale / stride)))
    blocks = _block_medians(level, block)
    if blocks.size == 0 or not np.isfinite(blocks).any():
        return skipped(NAME, cfg.ratio_threshold, "no finite rms values")
    size = min(cfg.blocks_per_scale, *blocks.shape)
    patch = _window_mean(blocks, size)
    step = block * stride  # pixels per block
    centres_x = (np.arange(blocks.shape[0]) + 0.5) * step
    centres_y = (np.arange(blocks.shape[1]) + 0.5) * step
    x0, x1, y0, y1 = images.subimage
    in_sub = ((centres_x >= x0) & (centres_x < x1))[:, None] & \
        ((centres_y >= y0) & (centres_y < y1))[None, :]
    if not (in_sub & np.isfinite(blocks)).any():
        in_sub = np.ones_like(in_sub)
    reference = float(np.nanmedian(np.where(in_sub, blocks, np.nan)))
    ratio = np.where(in_sub, patch / reference, np.nan)
    measured = np.nan_to_num(ratio, nan=0.0)  # kept as it is while vetoes blank ``ratio``
    hot = measured >= cfg.ratio_threshold
    labels, n = ndimage.label(hot)
    # a window is centred on its block for odd sizes, half a block lower for even ones
    offset = 0.5 if size % 2 else 0.0
    patches, vetoed = [], []
    for label in range(1, n + 1):
        where = np.where(labels == label, measured, -np.inf)
        bx, by = np.unravel_index(int(np.argmax(where)), where.shape)
        x, y = float((bx + offset) * step), float((by + offset) * step)
        heavy, peak, light = _spikiness(images, x, y, scale_px) \
            if images.residual is not None else (math.nan, math.nan, math.nan)
        near_hole = math.inf if hole_distance is None else float(hole_distance[
            min(int(x // stride), hole_distance.shape[0] - 1),
            min(int(y // stride), hole_distance.shape[1] - 1)])  # fmt: skip
        top = float(measured[bx, by])
        rows, cols = np.nonzero((labels == label) & (measured >= top - 0.5 * (top - 1.0)))
        extent = float(max(np.ptp(rows), np.ptp(cols)) + 1) * step
        entry = {"x": x, "y": y, "ratio": top, "spikiness": heavy,
                 "peak_sigma": peak, "normalised_spikiness": light,
                 "pb_hole_distance_pixels": near_hole, "extent_pixels": extent}  # fmt: skip
        if heavy > cfg.max_spikiness or peak > cfg.max_peak_sigma \
                or light < cfg.min_spikiness or near_hole < scale_px \
                or extent > cfg.max_extent_scales * scale_px:
            vetoed.append(entry)
            ratio[ndimage.binary_dilation(labels == label, iterations=size)] = np.nan
        else:
            patches.append((entry["ratio"], Location(x, y, scale_px / 2.0,
                                                     f"rms x{entry['ratio']:.2f} over "
                                                     f"~{scale_px:.0f} px")))  # fmt: skip
    locations = [loc for _, loc in sorted(patches, key=lambda p: -p[0])]
    remaining = [float(np.nanmax(ratio))] if np.isfinite(ratio).any() else [0.0]
    score = max(remaining + [r for r, _ in patches])
    return DetectorResult(
        name=NAME, score=score, threshold=cfg.ratio_threshold,
        detected=bool(patches), locations=tuple(locations),
        details={"reference_rms": reference, "scale_pixels": scale_px, "block_pixels": step,
                 "pb_flattened": images.pb is not None and cfg.flatten_with_pb,
                 "vetoed_patches": vetoed},
    )  # fmt: skip
