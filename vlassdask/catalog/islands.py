"""Islands of emission over dask chunks, including islands that cross chunk borders.

A pixel belongs to an island when it lies ``thresh_isl`` sigma above the background mean; islands
are 8-connected groups of such pixels that hold at least one pixel above ``thresh_pix`` sigma.
Labelling uses dask-image's chunk-aware :func:`dask_image.ndmeasure.label`: every chunk is
labelled on its own, labels that touch across a chunk face are joined (a union-find over the face
pairs) and relabelled, so an island cut by a chunk border keeps one label. Each chunk then reports
the bounding box and brightest pixel of every label in it; the per-chunk rows are combined per
label. Nothing image-sized is held at once: per task one chunk of the image, its maps and labels.

The table holds only bounding boxes, so the fitting step re-finds an island's pixels in a cut-out
of its bounding box (the island is the connected part of the cut-out that holds its brightest
pixel, exactly the global island, since no other island can touch it).
"""

from __future__ import annotations

import dask
import dask.array as da
import numpy as np
import pandas as pd
from dask_image.ndmeasure import label

ISLAND_COLUMNS = ("island", "x0", "x1", "y0", "y1", "peak_snr", "x_peak", "y_peak")
#: 8-connectivity (PyBDSF's island connectivity).
CONNECTIVITY = np.ones((3, 3), dtype=bool)


def _chunk_rows(labels: np.ndarray, snr: np.ndarray, offset: tuple[int, int]) -> np.ndarray:
    """Per label in one chunk: label, bounding box (inclusive start, exclusive end), peak."""
    xs, ys = np.nonzero(labels)
    if xs.size == 0:
        return np.empty((0, len(ISLAND_COLUMNS)))
    frame = pd.DataFrame({"island": labels[xs, ys], "x": xs + offset[0], "y": ys + offset[1],
                          "snr": snr[xs, ys]})  # fmt: skip
    grouped = frame.groupby("island", sort=False)
    bbox = grouped.agg(x0=("x", "min"), x1=("x", "max"), y0=("y", "min"), y1=("y", "max"))
    peaks = frame.loc[grouped["snr"].idxmax(), ["island", "snr", "x", "y"]].set_index("island")
    table = bbox.join(peaks)
    table["x1"] += 1
    table["y1"] += 1
    return np.column_stack([table.index.to_numpy(dtype=float), table.to_numpy(dtype=float)])


def signal_to_noise(image: da.Array, mean: da.Array, rms: da.Array) -> da.Array:
    """``(image - mean) / rms`` with NaN where the image or rms is not finite or rms <= 0."""
    valid = da.isfinite(image) & (rms > 0)
    return da.where(valid, (image - mean) / da.where(valid, rms, 1.0), np.nan)


def find_islands(snr: da.Array, *, thresh_isl: float, thresh_pix: float,
                 scheduler: str | None = None) -> pd.DataFrame:
    """Islands of a signal-to-noise image.

    Parameters
    ----------
    snr
        (nx, ny) dask array of ``(image - mean) / rms``.
    thresh_isl, thresh_pix
        Island and seed thresholds (sigma).
    scheduler
        dask scheduler of the computation (default: the current one).

    Returns
    -------
    pandas.DataFrame
        One row per island with at least one pixel at or above ``thresh_pix``: ``island``
        (label), bounding box ``x0 x1 y0 y1`` (end exclusive, pixels), ``peak_snr`` and its
        pixel ``x_peak y_peak``; sorted by ``x_peak``, ``y_peak``.
    """
    mask = snr > thresh_isl  # NaN compares False
    labels, _ = label(mask, structure=CONNECTIVITY)
    offsets = [np.cumsum((0,) + c[:-1]) for c in labels.chunks]
    label_blocks = labels.to_delayed()
    snr_blocks = snr.rechunk(labels.chunks).to_delayed()
    parts = [dask.delayed(_chunk_rows)(label_blocks[i, j], snr_blocks[i, j],
                                       (int(offsets[0][i]), int(offsets[1][j])))
             for i in range(label_blocks.shape[0]) for j in range(label_blocks.shape[1])]
    rows = np.concatenate(dask.compute(*parts, scheduler=scheduler))
    frame = pd.DataFrame(rows, columns=list(ISLAND_COLUMNS))
    if frame.empty:
        return frame.astype({c: "int64" for c in ISLAND_COLUMNS if c != "peak_snr"})
    best = frame.loc[frame.groupby("island")["peak_snr"].idxmax(),
                     ["island", "peak_snr", "x_peak", "y_peak"]].set_index("island")
    boxes = frame.groupby("island").agg(x0=("x0", "min"), x1=("x1", "max"), y0=("y0", "min"),
                                        y1=("y1", "max"))  # fmt: skip
    table = boxes.join(best).reset_index()
    table = table[table["peak_snr"] >= thresh_pix]
    ints = {c: "int64" for c in ISLAND_COLUMNS if c != "peak_snr"}
    return table.astype(ints).sort_values(["x_peak", "y_peak"]).reset_index(drop=True)[
        list(ISLAND_COLUMNS)]
