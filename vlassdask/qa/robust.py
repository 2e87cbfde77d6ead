"""Robust location and scale (median, 1.4826 x MAD) and peaks of numpy or dask images.

numpy inputs are summarised exactly: the finite pixels are copied once and the median and the
median absolute deviation found by selection (``np.partition``, in place). dask inputs are
summarised lazily in two passes over their chunks, all inputs of one call together:

1. per chunk: the extreme values and where they are, the number of finite pixels, and a regular
   sample of every ``stride``-th pixel (about :data:`SAMPLE_PIXELS` in all). The sample's median
   ``m0`` and MAD ``s0`` place a window ``m0 +- WINDOW_MADS x s0``.
2. per chunk: a histogram of the finite pixels in :data:`HISTOGRAM_BINS` bins over that window,
   plus the counts below and above it. The median is the value of rank (n - 1) / 2 and the MAD
   the ``t`` with ``#{|x - median| <= t} = n / 2``, both read from the cumulative histogram
   with linear interpolation inside a bin.

Accuracy of the dask path: the error of the median and of the MAD is at most one bin width,
``2 x WINDOW_MADS x s0 / HISTOGRAM_BINS`` (1/1365 of the MAD), and for smooth distributions
(image noise) linear interpolation inside a bin brings it to ~1e-5 of the MAD
(``tests/qa/test_statistics.py`` checks dask against numpy to 1e-3). Peaks and counts are
exact. Should the median fall outside the window (a sample that misrepresents the image), the
window is widened 16-fold and the second pass repeated.

Peak memory: numpy, one copy of the finite pixels (4 or 8 bytes per pixel); dask, one chunk
per worker thread plus the sample (~8 MB) and the histograms (0.1 MB per chunk).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import dask
import dask.array as da
import numpy as np

#: Scale factor from the median absolute deviation to the rms of a Gaussian.
MAD_TO_RMS = 1.4826
#: Pixels in the regular sample of the first dask pass.
SAMPLE_PIXELS = 1_000_000
#: Half-width of the histogram window of the second dask pass, in sample MADs.
WINDOW_MADS = 6.0
#: Bins of the histogram of the second dask pass.
HISTOGRAM_BINS = 8192


@dataclass(frozen=True)
class RobustSummary:
    """Robust statistics of one 2-D image (NaN pixels ignored).

    Attributes
    ----------
    median
        Median of the finite pixels.
    mad
        Median absolute deviation from the median (multiply by :data:`MAD_TO_RMS` for an rms).
    maximum, maximum_xy, minimum, minimum_xy
        Largest and smallest finite value and their ``(x, y)`` indices (the first in C order).
    n_finite, n_total
        Finite and all pixels.
    method
        ``"exact"`` (numpy selection) or ``"histogram"`` (the two-pass dask path).
    """

    median: float
    mad: float
    maximum: float
    maximum_xy: tuple[int, int]
    minimum: float
    minimum_xy: tuple[int, int]
    n_finite: int
    n_total: int
    method: str

    @property
    def rms(self) -> float:
        """Robust rms, :data:`MAD_TO_RMS` x MAD."""
        return MAD_TO_RMS * self.mad

    @property
    def peak_value(self) -> float:
        """The finite pixel of largest absolute value (signed)."""
        return self.maximum if self.maximum >= -self.minimum else self.minimum

    @property
    def peak_abs(self) -> float:
        """Largest absolute value."""
        return abs(self.peak_value)

    @property
    def peak_xy(self) -> tuple[int, int]:
        """``(x, y)`` of :attr:`peak_value`."""
        return self.maximum_xy if self.maximum >= -self.minimum else self.minimum_xy


def _median_in_place(values: np.ndarray) -> float:
    """Median of a 1-D array, reordering it (one selection)."""
    k = values.size // 2
    values.partition(k)
    upper = float(values[k])
    if values.size % 2:
        return upper
    return 0.5 * (float(values[:k].max()) + upper)


def _empty(n_total: int, method: str) -> RobustSummary:
    nan = float("nan")
    return RobustSummary(nan, nan, nan, (-1, -1), nan, (-1, -1), 0, n_total, method)


def summarise_numpy(image: np.ndarray) -> RobustSummary:
    """Exact :class:`RobustSummary` of a numpy image (one copy of its finite pixels)."""
    image = np.asarray(image)
    finite = image[np.isfinite(image)]
    if finite.size == 0:
        return _empty(image.size, "exact")
    maximum, minimum = finite.max(), finite.min()
    where = [tuple(int(i) for i in np.unravel_index(int(np.argmax(image == v)), image.shape))
             for v in (maximum, minimum)]  # fmt: skip
    median = _median_in_place(finite)
    np.subtract(finite, finite.dtype.type(median), out=finite)
    np.abs(finite, out=finite)
    mad = _median_in_place(finite)
    return RobustSummary(median, mad, float(maximum), where[0], float(minimum), where[1],
                         int(finite.size), int(image.size), "exact")  # fmt: skip


# ----------------------------------------------------------------------------- dask: pass 1


@dataclass(frozen=True)
class _BlockScan:
    maximum: float
    max_xy: tuple[int, int]
    minimum: float
    min_xy: tuple[int, int]
    n_finite: int
    sample: np.ndarray


def _scan_block(block: np.ndarray, offset: tuple[int, int], stride: int) -> _BlockScan:
    start = [(-o) % stride for o in offset]
    sample = block[start[0]::stride, start[1]::stride].ravel()
    sample = sample[np.isfinite(sample)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN block
        maximum, minimum = np.nanmax(block), np.nanmin(block)
    if not np.isfinite(maximum):
        return _BlockScan(-math.inf, (-1, -1), math.inf, (-1, -1), 0, sample)
    n = int(np.count_nonzero(np.isfinite(block)))
    imax = np.unravel_index(int(np.argmax(block == maximum)), block.shape)
    imin = np.unravel_index(int(np.argmax(block == minimum)), block.shape)
    return _BlockScan(float(maximum), (imax[0] + offset[0], imax[1] + offset[1]),
                      float(minimum), (imin[0] + offset[0], imin[1] + offset[1]), n, sample)


def _merge_scans(*scans: _BlockScan) -> _BlockScan:
    top = max(scans, key=lambda s: s.maximum)
    bottom = min(scans, key=lambda s: s.minimum)
    return _BlockScan(top.maximum, top.max_xy, bottom.minimum, bottom.min_xy,
                      sum(s.n_finite for s in scans),
                      np.concatenate([s.sample for s in scans]))  # fmt: skip


def _block_offsets(image: da.Array) -> list[tuple[tuple[int, int], object]]:
    starts = [np.concatenate([[0], np.cumsum(c)[:-1]]) for c in image.chunks]
    blocks = image.to_delayed()
    return [((int(starts[0][i]), int(starts[1][j])), blocks[i, j])
            for i in range(blocks.shape[0]) for j in range(blocks.shape[1])]  # fmt: skip


def _tree(items: list, combine, split_every: int = 16):
    """Reduce delayed ``items`` with ``combine`` (variadic) in a tree."""
    while len(items) > 1:
        items = [dask.delayed(combine)(*items[i:i + split_every])
                 for i in range(0, len(items), split_every)]  # fmt: skip
    return items[0]


def _scan(image: da.Array):
    stride = max(1, int(math.sqrt(image.shape[0] * image.shape[1] / SAMPLE_PIXELS)))
    scans = [dask.delayed(_scan_block)(block, offset, stride)
             for offset, block in _block_offsets(image)]  # fmt: skip
    return _tree(scans, _merge_scans)


# ----------------------------------------------------------------------------- dask: pass 2


def _histogram_block(block: np.ndarray, lo: float, width: float, nbins: int) -> np.ndarray:
    """Counts below, in each of ``nbins`` bins from ``lo`` and above; NaN is not counted.

    The bin index is computed in the block's precision: for float32 an error of ~1e-3 of a bin
    width at the window's far end, well inside the stated accuracy."""
    position = (block - block.dtype.type(lo)) * block.dtype.type(1.0 / width)
    position = position[np.isfinite(position)]
    np.clip(position, -1, nbins, out=position)
    return np.bincount(np.floor(position).astype(np.int64) + 1, minlength=nbins + 2)


def _add(*counts: np.ndarray) -> np.ndarray:
    return np.sum(counts, axis=0)


def _histogram(image: da.Array, lo: float, width: float):
    counts = [dask.delayed(_histogram_block)(block, lo, width, HISTOGRAM_BINS)
              for _, block in _block_offsets(image)]  # fmt: skip
    return _tree(counts, _add)


def _value_at_rank(counts: np.ndarray, lo: float, width: float, rank: float) -> float | None:
    """Value of 0-based ``rank`` from a histogram with under/overflow bins (None outside)."""
    cumulative = np.cumsum(counts)
    b = int(np.searchsorted(cumulative, rank, side="right"))
    if b == 0 or b == counts.size - 1:
        return None
    before = cumulative[b - 1]
    return lo + (b - 1 + (rank - before + 0.5) / counts[b]) * width


def _cdf(counts: np.ndarray, lo: float, width: float, value: np.ndarray) -> np.ndarray:
    """Number of pixels below ``value`` (piecewise linear inside the window)."""
    cumulative = np.concatenate([[0.0], np.cumsum(counts[1:-1], dtype=np.float64)]) + counts[0]
    position = np.clip((value - lo) / width, 0.0, counts.size - 2)
    return np.interp(position, np.arange(counts.size - 1), cumulative)


def _mad_from_histogram(counts: np.ndarray, lo: float, width: float, median: float,
                        n: int) -> float | None:  # fmt: skip
    """``t`` with #{|x - median| <= t} = n/2, by bisection on the interpolated CDF."""
    hi = lo + width * (counts.size - 2)
    t_max = min(median - lo, hi - median)
    if t_max <= 0 or _cdf(counts, lo, width, median + t_max) - _cdf(
        counts, lo, width, median - t_max
    ) < n / 2:
        return None
    a, b = 0.0, t_max
    for _ in range(60):
        t = 0.5 * (a + b)
        inside = _cdf(counts, lo, width, median + t) - _cdf(counts, lo, width, median - t)
        a, b = (t, b) if inside < n / 2 else (a, t)
    return 0.5 * (a + b)


def _summaries_dask(images: Sequence[da.Array]) -> list[RobustSummary]:
    scans = dask.compute(*[_scan(im) for im in images])
    windows = []
    for scan in scans:
        if scan.n_finite == 0:
            windows.append(None)
            continue
        m0 = float(np.median(scan.sample)) if scan.sample.size else scan.maximum
        s0 = float(np.median(np.abs(scan.sample - m0))) if scan.sample.size else 0.0
        floor = 1e-6 * max(scan.maximum - scan.minimum, abs(m0), 1e-30)
        windows.append((m0, max(s0, floor)))
    results: list[RobustSummary | None] = [None] * len(images)
    for _ in range(4):
        todo = [i for i, w in enumerate(windows) if w is not None and results[i] is None]
        if not todo:
            break
        spans = {i: (windows[i][0] - WINDOW_MADS * windows[i][1],
                     2 * WINDOW_MADS * windows[i][1] / HISTOGRAM_BINS) for i in todo}  # fmt: skip
        hists = dask.compute(*[_histogram(images[i], *spans[i]) for i in todo])
        for i, counts in zip(todo, hists, strict=True):
            lo, width = spans[i]
            n = scans[i].n_finite
            median = _value_at_rank(counts, lo, width, (n - 1) / 2)
            mad = None if median is None else _mad_from_histogram(counts, lo, width, median, n)
            if mad is None:
                windows[i] = (windows[i][0], windows[i][1] * 16)
                continue
            results[i] = _from_scan(scans[i], median, mad, images[i].size)
    return [r if r is not None else _empty(im.size, "histogram")
            for r, im in zip(results, images, strict=True)]  # fmt: skip


def _from_scan(scan: _BlockScan, median: float, mad: float, n_total: int) -> RobustSummary:
    return RobustSummary(float(median), float(mad), scan.maximum,
                         (int(scan.max_xy[0]), int(scan.max_xy[1])), scan.minimum,
                         (int(scan.min_xy[0]), int(scan.min_xy[1])), scan.n_finite, int(n_total),
                         "histogram")  # fmt: skip


def summarise(images: Sequence[np.ndarray | da.Array]) -> list[RobustSummary]:
    """:class:`RobustSummary` of each 2-D image: numpy exactly, dask lazily (see module doc).

    Parameters
    ----------
    images
        2-D arrays (x, y); the dask ones are computed together (two passes over their chunks).

    Returns
    -------
    list of RobustSummary
        In input order; an image without finite pixels gives NaN statistics and ``n_finite``
        0 (the caller decides whether that is an error).
    """
    out: list[RobustSummary | None] = [None] * len(images)
    lazy = [i for i, im in enumerate(images) if isinstance(im, da.Array)]
    for i, im in enumerate(images):
        if i not in lazy:
            out[i] = summarise_numpy(np.asarray(im))
    for i, summary in zip(lazy, _summaries_dask([images[i] for i in lazy]), strict=True):
        out[i] = summary
    return [s for s in out if s is not None]


def sample_rms(image: np.ndarray | da.Array, *, pixels: int = 250_000) -> float:
    """Robust rms (1.4826 x MAD) of a regular sample of about ``pixels`` finite pixels.

    A fast noise estimate for detectors (relative error ~1.2 / sqrt(pixels) for Gaussian
    noise). dask inputs are sliced lazily and only the sample is materialised.
    """
    stride = max(1, int(math.sqrt(image.shape[0] * image.shape[1] / pixels)))
    sample = image[::stride, ::stride]
    sample = np.asarray(sample.compute() if isinstance(sample, da.Array) else sample).ravel()
    sample = sample[np.isfinite(sample)]
    if sample.size == 0:
        return float("nan")
    sample = sample.astype(np.float64)
    return MAD_TO_RMS * float(np.median(np.abs(sample - np.median(sample))))
