"""Helpers shared by the detectors: skipped results and pixel statistics in rings."""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage

from vlassdask.qa.robust import MAD_TO_RMS
from vlassdask.qa.types import DetectorResult


def skipped(name: str, threshold: float, reason: str) -> DetectorResult:
    """The result of a detector that could not run (its input plane is missing)."""
    return DetectorResult(name=name, score=math.nan, threshold=float(threshold), detected=False,
                          details={"skipped": reason})  # fmt: skip


def robust_rms(values: np.ndarray) -> float:
    """1.4826 x MAD of the finite ``values`` (NaN when there are none)."""
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return math.nan
    return MAD_TO_RMS * float(np.median(np.abs(values - np.median(values))))


def radius_map(shape: tuple[int, int], center: tuple[float, float]) -> np.ndarray:
    """Distance in pixels of every pixel of an array of ``shape`` from ``center`` (x, y)."""
    x = np.arange(shape[0], dtype=np.float64)[:, None] - center[0]
    y = np.arange(shape[1], dtype=np.float64)[None, :] - center[1]
    return np.hypot(x, y)


def finite_fraction_ok(values: np.ndarray, minimum: int = 20) -> bool:
    """True when ``values`` holds at least ``minimum`` finite numbers."""
    return int(np.isfinite(values).sum()) >= minimum


def interior_regions(low: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Connected regions of the boolean mask ``low`` and the labels of those that do not touch
    the array's border (holes, as opposed to the mosaic's outer edge)."""
    labels, _ = ndimage.label(low)
    edge = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    inside = np.setdiff1d(np.unique(labels), np.concatenate([[0], edge]))
    return labels, inside
