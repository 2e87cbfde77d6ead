"""Islands of emission over dask chunks, including islands that cross chunk borders.

A pixel belongs to an island when it lies ``thresh_isl`` sigma above the background mean; islands
are 8-connected groups of such pixels that hold at least one pixel above ``thresh_pix`` sigma.

Chunk-aware labelling (the idea of dask-image's ``ndmeasure.label``, written so that each chunk
of the signal-to-noise map is computed once): one task per chunk labels it with
:func:`scipy.ndimage.label` and returns, per local label, the bounding box and brightest pixel,
plus the labels on its four edges. On the client, labels that touch across a chunk face or corner
(8-connectivity) are joined with a connected-components pass over the edge pairs, and the rows of
each joined island are combined. Nothing image-sized is held at once: per task one chunk and its
maps (the chunks are labelled a few at a time, :func:`vlassdask.imaging.graph.compute_in_batches`);
the client holds the edge labels (four chunk sides per chunk) and the island table.

The table holds only bounding boxes, so the fitting step re-finds an island's pixels in a cut-out
of its bounding box (the island is the connected part of the cut-out that holds its brightest
pixel, exactly the global island, since no other island can touch it).
"""

from __future__ import annotations

from dataclasses import dataclass

import dask
import dask.array as da
import numpy as np
import pandas as pd
from scipy import ndimage
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from vlassdask.imaging.graph import compute_in_batches
from vlassdask.kernels.label_stats import label_stats

ISLAND_COLUMNS = ("island", "x0", "x1", "y0", "y1", "peak_snr", "x_peak", "y_peak", "npix")
#: 8-connectivity (PyBDSF's island connectivity).
CONNECTIVITY = np.ones((3, 3), dtype=bool)


@dataclass(frozen=True)
class ChunkIslands:
    """Islands of one chunk: ``rows`` (n, 9) as :data:`ISLAND_COLUMNS` (local labels 1..n,
    image pixel coordinates) and the local labels on the chunk's edges (0: no island)."""

    rows: np.ndarray
    first_x: np.ndarray
    last_x: np.ndarray
    first_y: np.ndarray
    last_y: np.ndarray


def label_chunk(snr: np.ndarray, offset: tuple[int, int], thresh_isl: float) -> ChunkIslands:
    """Label one chunk of the signal-to-noise map (NaN is below any threshold)."""
    labels, n = ndimage.label(snr > thresh_isl, structure=CONNECTIVITY)
    edges = (labels[0, :].copy(), labels[-1, :].copy(), labels[:, 0].copy(),
             labels[:, -1].copy())  # fmt: skip
    if n == 0:
        return ChunkIslands(np.empty((0, len(ISLAND_COLUMNS))), *edges)
    boxes, npix, peaks, where = label_stats(labels, np.asarray(snr, dtype=np.float64), n)
    shift = np.array([offset[0], offset[0], offset[1], offset[1]])
    rows = np.column_stack([np.arange(1, n + 1), boxes + shift, peaks, where + offset, npix])
    return ChunkIslands(rows.astype(np.float64), *edges)


def _face_pairs(a: np.ndarray, b: np.ndarray, base_a: int, base_b: int) -> list[np.ndarray]:
    """Global label pairs of touching pixels across a face (8-connected: offsets -1, 0, 1)."""
    pairs = []
    n = a.size
    for shift in (-1, 0, 1):
        left = a[max(0, -shift): n - max(0, shift)]
        right = b[max(0, shift): n - max(0, -shift)]
        both = (left > 0) & (right > 0)
        if both.any():
            pairs.append(np.column_stack([left[both] - 1 + base_a, right[both] - 1 + base_b]))
    return pairs


def _corner_pair(a: int, b: int, base_a: int, base_b: int) -> list[np.ndarray]:
    return [np.array([[a - 1 + base_a, b - 1 + base_b]])] if a > 0 and b > 0 else []


def join_chunks(chunks: list[list[ChunkIslands]]) -> pd.DataFrame:
    """Join per-chunk islands (a grid of :class:`ChunkIslands`) into global islands."""
    nbx, nby = len(chunks), len(chunks[0])
    counts = np.array([[c.rows.shape[0] for c in row] for row in chunks])
    base = np.cumsum(np.concatenate([[0], counts.ravel()]))[:-1].reshape(nbx, nby)
    pairs: list[np.ndarray] = []
    for i in range(nbx):
        for j in range(nby):
            here = chunks[i][j]
            if i + 1 < nbx:
                pairs += _face_pairs(here.last_x, chunks[i + 1][j].first_x, base[i, j],
                                     base[i + 1, j])
            if j + 1 < nby:
                pairs += _face_pairs(here.last_y, chunks[i][j + 1].first_y, base[i, j],
                                     base[i, j + 1])
            if i + 1 < nbx and j + 1 < nby:
                pairs += _corner_pair(here.last_x[-1], chunks[i + 1][j + 1].first_x[0],
                                      base[i, j], base[i + 1, j + 1])
            if i + 1 < nbx and j > 0:
                pairs += _corner_pair(here.last_x[0], chunks[i + 1][j - 1].first_x[-1],
                                      base[i, j], base[i + 1, j - 1])
    rows = np.concatenate([c.rows for row in chunks for c in row])
    total = rows.shape[0]
    frame = pd.DataFrame(rows, columns=list(ISLAND_COLUMNS))
    if total == 0:
        return frame
    edges = np.concatenate(pairs) if pairs else np.empty((0, 2), dtype=np.int64)
    graph = coo_matrix((np.ones(len(edges)), (edges[:, 0], edges[:, 1])), shape=(total, total))
    frame["island"] = connected_components(graph, directed=False)[1]
    best = frame.loc[frame.groupby("island")["peak_snr"].idxmax(),
                     ["island", "peak_snr", "x_peak", "y_peak"]].set_index("island")
    boxes = frame.groupby("island").agg(x0=("x0", "min"), x1=("x1", "max"), y0=("y0", "min"),
                                        y1=("y1", "max"), npix=("npix", "sum"))  # fmt: skip
    return boxes.join(best).reset_index()


def signal_to_noise(image: da.Array, mean: da.Array, rms: da.Array) -> da.Array:
    """``(image - mean) / rms`` with NaN where the image or rms is not finite or rms <= 0."""
    valid = da.isfinite(image) & (rms > 0)
    return da.where(valid, (image - mean) / da.where(valid, rms, 1.0), np.nan)


def find_islands(snr: da.Array, *, thresh_isl: float, thresh_pix: float, min_pixels: int = 1,
                 scheduler: str | None = None) -> pd.DataFrame:  # fmt: skip
    """Islands of a signal-to-noise image.

    Parameters
    ----------
    snr
        (nx, ny) dask array of ``(image - mean) / rms``.
    thresh_isl, thresh_pix
        Island and seed thresholds (sigma).
    min_pixels
        Fewest pixels an island may have.
    scheduler
        dask scheduler of the computation (default: the current one).

    Returns
    -------
    pandas.DataFrame
        One row per island of at least ``min_pixels`` pixels with at least one pixel at or
        above ``thresh_pix``: ``island`` (number), bounding box ``x0 x1 y0 y1`` (end exclusive,
        pixels), ``peak_snr`` and its pixel ``x_peak y_peak``, ``npix``; sorted by ``x_peak``,
        ``y_peak``.
    """
    offsets = [np.cumsum((0,) + c[:-1]) for c in snr.chunks]
    blocks = snr.to_delayed()
    nbx, nby = blocks.shape
    tasks = [dask.delayed(label_chunk)(blocks[i, j], (int(offsets[0][i]), int(offsets[1][j])),
                                       thresh_isl)
             for i in range(nbx) for j in range(nby)]
    done = compute_in_batches(tasks, scheduler)
    chunks = [done[i * nby:(i + 1) * nby] for i in range(nbx)]
    table = join_chunks(chunks)
    ints = {c: "int64" for c in ISLAND_COLUMNS if c != "peak_snr"}
    if table.empty:
        return table.astype(ints)
    table = table[(table["peak_snr"] >= thresh_pix) & (table["npix"] >= min_pixels)]
    table = table.astype(ints)
    table = table.sort_values(["x_peak", "y_peak"]).reset_index(drop=True)
    table["island"] = np.arange(len(table))
    return table[list(ISLAND_COLUMNS)]
