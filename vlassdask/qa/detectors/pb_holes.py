"""Primary-beam holes: PB-masked regions inside the sub-image with spikes around them.

In VLASS Quick Look images a bright source scanned in on-the-fly mode is down-weighted by the
calibration pipeline's ``statwt``; the mosaic PB drops below the 0.2 mask there and the source,
inside the mask, cannot be cleaned: its sidelobes come out of the hole as spikes (VLASS paper
section 4.1). The detector

1. samples the PB plane on a regular grid (about 1 M pixels: the PB is smooth on arcminute
   scales), normalises it to its maximum and labels the connected regions below ``pb_limit``
   (``scipy.ndimage.label``);
2. keeps the regions that do not touch the image border (those belong to the mosaic's outer
   edge), reach into the sub-image and cover at least ``min_area_arcmin2``;
3. measures the residual in a ring ``ring_width_arcmin`` wide around each hole (distance
   transform of the hole): **score** = rms of the ring's residual pixels / robust rms of the
   whole residual (1 for pure noise; spikes and raised noise make it larger).

Detected: a hole whose score reaches ``noise_ratio_threshold`` (or any hole when
``require_artifacts`` is False). Peak memory: the PB sample (~4 MB) plus one residual cut-out
per hole (the hole's box widened by the ring).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage

from vlassdask.qa.detectors.common import interior_regions, skipped
from vlassdask.qa.detectors.config import DetectorConfig
from vlassdask.qa.planes import materialise, plane_data, sampled, stride_for
from vlassdask.qa.robust import sample_rms
from vlassdask.qa.types import DetectorResult, Location, QAImages

NAME = "pb_holes"
#: PB samples (pixels) used to find holes.
PB_SAMPLE_PIXELS = 1024 * 1024
#: At most this many holes (the largest) are measured.
MAX_HOLES = 10


def _ring_ratio(residual, labels: np.ndarray, label: int, box: tuple[slice, slice],
                low: np.ndarray, stride: int, ring_px: float, noise: float) -> float:  # fmt: skip
    """rms of the residual in the ring around hole ``label`` over ``noise`` (NaN if the ring has
    too few pixels). The ring is built on the PB sample grid and read at full resolution."""
    pad = int(math.ceil(ring_px / stride)) + 1
    sx = slice(max(0, box[0].start - pad), min(labels.shape[0], box[0].stop + pad))
    sy = slice(max(0, box[1].start - pad), min(labels.shape[1], box[1].stop + pad))
    distance = ndimage.distance_transform_edt(labels[sx, sy] != label) * stride
    ring = (distance > 0) & (distance <= ring_px) & ~low[sx, sy]
    px = np.arange(sx.start * stride, min(residual.shape[0], sx.stop * stride))
    py = np.arange(sy.start * stride, min(residual.shape[1], sy.stop * stride))
    values = materialise(residual[px[0]:px[-1] + 1, py[0]:py[-1] + 1])
    ix = np.minimum(np.rint(px / stride).astype(np.int64) - sx.start, ring.shape[0] - 1)
    iy = np.minimum(np.rint(py / stride).astype(np.int64) - sy.start, ring.shape[1] - 1)
    selected = ring[np.ix_(ix, iy)] & np.isfinite(values)
    if selected.sum() < 20:
        return math.nan
    values = values[selected].astype(np.float64)
    return float(np.sqrt(np.mean((values - np.median(values)) ** 2)) / noise)


def detect_pb_holes(images: QAImages, config: DetectorConfig) -> DetectorResult:
    """Find primary-beam holes with spikes (see the module docstring).

    Parameters
    ----------
    images
        Needs ``pb``; the ring statistic uses ``residual`` (``sky`` without one).
    config
        ``config.pb_holes`` is used.

    Returns
    -------
    DetectorResult
        score: the largest ring ratio of the holes (0 without holes); locations: the holes
        (centroid, equivalent radius); details: every hole's area, ratio
        and position.
    """
    cfg = config.pb_holes
    if images.pb is None:
        return skipped(NAME, cfg.noise_ratio_threshold, "no PB image")
    pb = plane_data(images.pb)
    stride = stride_for(pb.shape, PB_SAMPLE_PIXELS)
    sample = sampled(pb, stride)
    peak = float(np.nanmax(sample)) if np.isfinite(sample).any() else math.nan
    low = ~(sample >= cfg.pb_limit * peak)
    x0, x1, y0, y1 = images.subimage
    sub = (slice(-(-x0 // stride), -(-x1 // stride)), slice(-(-y0 // stride), -(-y1 // stride)))
    labels, interior = interior_regions(low)
    candidates = [int(v) for v in np.intersect1d(interior, np.unique(labels[sub]))]
    pixel_arcmin2 = (stride * images.cell_arcsec / 60.0) ** 2
    areas = ndimage.sum_labels(np.ones_like(labels), labels, candidates) if candidates else []
    holes = [(label, float(a) * pixel_arcmin2) for label, a in zip(candidates, areas,
                                                                    strict=True)]  # fmt: skip
    holes = sorted((h for h in holes if h[1] >= cfg.min_area_arcmin2), key=lambda h: -h[1])
    residual = images.residual if images.residual is not None else images.sky
    residual_data = plane_data(residual)
    noise = sample_rms(residual_data)
    ring_px = cfg.ring_width_arcmin * 60.0 / images.cell_arcsec
    objects = ndimage.find_objects(labels)
    found, locations = [], []
    for label, area in holes[:MAX_HOLES]:
        box = objects[label - 1]
        ratio = _ring_ratio(residual_data, labels, label, box, low, stride, ring_px, noise)
        com = ndimage.center_of_mass(labels[box] == label)
        cx, cy = (box[0].start + com[0]) * stride, (box[1].start + com[1]) * stride
        radius = math.sqrt(area / math.pi) * 60.0 / images.cell_arcsec
        found.append({"x": cx, "y": cy, "area_arcmin2": area, "radius_pixels": radius,
                      "noise_ratio": ratio})  # fmt: skip
        if ratio >= cfg.noise_ratio_threshold or not cfg.require_artifacts:
            locations.append(Location(cx, cy, radius, f"PB hole {area:.2g} arcmin^2, ring rms "
                                                      f"x{ratio:.2f}"))  # fmt: skip
    ratios = [h["noise_ratio"] for h in found if math.isfinite(h["noise_ratio"])]
    score = max(ratios) if ratios else 0.0
    return DetectorResult(
        name=NAME, score=score, threshold=cfg.noise_ratio_threshold,
        detected=bool(locations), locations=tuple(locations),
        details={"holes": found, "residual_rms": noise, "pb_max": peak, "pb_stride": stride},
    )  # fmt: skip
