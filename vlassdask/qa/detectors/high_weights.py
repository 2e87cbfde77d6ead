"""High weights: a falsely high-weighted region normalises the mosaic PB down elsewhere.

VLASS paper section 4.1: the PB image is normalised to 1 at its maximum; a region with falsely
high weights takes that maximum and the rest of the mosaic drops well below 1. Otto flags images
whose PB median (normalised to maximum 1) over the sub-image is below 0.8.

The PB is smooth on arcminute scales, so the detector reads a regular sample of about 1 M
pixels: the median of the sample differs from the full median by well under 1e-3. **score** =
1 - median, **threshold** = 1 - ``min_median``; the location is the PB maximum, with the radius
of the connected region above ``peak_fraction`` of it. Peak memory: the sample (~4 MB).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage

from vlassdask.qa.detectors.common import skipped
from vlassdask.qa.detectors.config import DetectorConfig
from vlassdask.qa.planes import plane_data, sampled, stride_for
from vlassdask.qa.types import DetectorResult, Location, QAImages

NAME = "high_weights"
PB_SAMPLE_PIXELS = 1024 * 1024


def detect_high_weights(images: QAImages, config: DetectorConfig) -> DetectorResult:
    """Flag a mosaic PB whose normalised median over the sub-image is below ``min_median``.

    Parameters
    ----------
    images
        Needs ``pb``.
    config
        ``config.high_weights`` is used.

    Returns
    -------
    DetectorResult
        score 1 - median; details: the median, the PB maximum and where it is.
    """
    cfg = config.high_weights
    threshold = 1.0 - cfg.min_median
    if images.pb is None:
        return skipped(NAME, threshold, "no PB image")
    pb = plane_data(images.pb)
    stride = stride_for(pb.shape, PB_SAMPLE_PIXELS)
    sample = sampled(pb, stride)
    finite = np.isfinite(sample)
    peak = float(sample[finite].max()) if finite.any() else math.nan
    x0, x1, y0, y1 = images.subimage
    sub = sample[-(-x0 // stride):-(-x1 // stride), -(-y0 // stride):-(-y1 // stride)]
    sub = sub[np.isfinite(sub)]
    if not (sub.size and peak > 0):
        return skipped(NAME, threshold, "no finite PB values in the sub-image")
    median = float(np.median(sub)) / peak
    score = 1.0 - median
    detected = median < cfg.min_median
    px, py = np.unravel_index(int(np.argmax(np.where(finite, sample, -np.inf))), sample.shape)
    locations: tuple[Location, ...] = ()
    if detected:
        labels, _ = ndimage.label(np.where(finite, sample, 0.0) >= cfg.peak_fraction * peak)
        area = int((labels == labels[px, py]).sum()) * stride**2
        locations = (Location(float(px * stride), float(py * stride), math.sqrt(area / math.pi),
                              f"PB maximum; median {median:.2f} of it"),)  # fmt: skip
    return DetectorResult(
        name=NAME, score=score, threshold=threshold, detected=bool(detected),
        locations=locations,
        details={"pb_median": median, "pb_max": peak, "pb_max_xy": [int(px * stride),
                                                                    int(py * stride)],
                 "min_median": cfg.min_median, "pb_stride": stride},
    )  # fmt: skip
