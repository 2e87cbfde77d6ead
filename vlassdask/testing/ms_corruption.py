"""Corrupt a Measurement Set's visibilities in place, for artifact tests (via dask-ms).

* :func:`corrupt_baseline` adds a constant complex offset to every visibility of one baseline:
  a "bad baseline", which images as stripes at that baseline's (u, v);
* :func:`add_noise_burst` adds Gaussian noise to every baseline during a time range: a burst
  of RFI, which raises the noise of the fields observed then;
* :func:`damage_column_storage` truncates or deletes the storage file of one main-table column,
  as a full disk, an interrupted copy or a careless ``rm`` leave it.

Both read and write the column with ``daskms.xds_from_ms`` / ``daskms.xds_to_table``, one row
chunk at a time (peak memory: one chunk per worker thread).
"""

from __future__ import annotations

import os
from pathlib import Path

import dask
import dask.array as da
import numpy as np
from casacore.tables import table
from daskms import xds_from_ms, xds_to_table

ROW_CHUNKS = 20_000


def _rewrite(ms: str | os.PathLike, column: str, change) -> int:
    """Apply ``change(ds, data) -> (new_data, rows_changed)`` to every dataset and write back."""
    datasets = xds_from_ms(str(ms), columns=[column, "ANTENNA1", "ANTENNA2", "TIME"],
                           group_cols=["DATA_DESC_ID"], chunks={"row": ROW_CHUNKS})  # fmt: skip
    changed, counts = [], []
    for index, ds in enumerate(datasets):
        data, count = change(ds, ds[column].data, index)
        changed.append(ds.assign(**{column: (ds[column].dims, data)}))
        counts.append(count)
    writes = xds_to_table(changed, str(ms), columns=[column])
    _, totals = dask.compute(writes, counts)
    return int(sum(totals))


def corrupt_baseline(ms: str | os.PathLike, antenna1: int, antenna2: int, *,
                     offset_jy: complex, column: str = "DATA") -> int:  # fmt: skip
    """Add ``offset_jy`` to all correlations and channels of baseline (antenna1, antenna2).

    Returns
    -------
    int
        Rows changed (over all spectral windows).
    """
    a, b = sorted((int(antenna1), int(antenna2)))

    def change(ds, data, _):
        rows = (ds.ANTENNA1.data == a) & (ds.ANTENNA2.data == b)
        offset = np.asarray(offset_jy, dtype=data.dtype)
        return da.where(rows[:, None, None], data + offset, data), rows.sum()

    return _rewrite(ms, column, change)


def add_noise_burst(ms: str | os.PathLike, *, start_s: float, end_s: float, sigma_jy: float,
                    seed: int = 0, column: str = "DATA") -> int:  # fmt: skip
    """Add complex Gaussian noise (``sigma_jy`` per real and imaginary part) to all rows whose
    TIME lies ``start_s`` to ``end_s`` seconds after the first integration.

    Returns
    -------
    int
        Rows changed (over all spectral windows).
    """
    first = min(float(ds.TIME.min().compute()) for ds in
                xds_from_ms(str(ms), columns=["TIME"], group_cols=["DATA_DESC_ID"]))

    def change(ds, data, index):
        t = ds.TIME.data - first
        rows = (t >= start_s) & (t <= end_s)
        state = da.random.RandomState(seed + index)
        noise = state.normal(0.0, sigma_jy, data.shape, chunks=data.chunks) \
            + 1j * state.normal(0.0, sigma_jy, data.shape, chunks=data.chunks)
        return da.where(rows[:, None, None], data + noise.astype(data.dtype), data), rows.sum()

    return _rewrite(ms, column, change)


def damage_column_storage(ms: str | os.PathLike, column: str, *, mode: str = "truncate") -> Path:
    """Damage the file the storage manager of ``column`` keeps its data in.

    Parameters
    ----------
    ms
        Measurement Set (changed in place: use a copy).
    column
        Main-table column (e.g. ``"UVW"``, ``"DATA"``).
    mode
        ``"truncate"``: cut the file to half its length (a tiled column's ``table.fN_TSM0``
        file, else ``table.fN``); ``"empty"``: cut it to zero bytes; ``"delete"``: remove it.

    Returns
    -------
    pathlib.Path
        The file damaged.
    """
    with table(str(ms), ack=False) as tab:
        managers = tab.getdminfo().values()
    seqnr = next(int(m["SEQNR"]) for m in managers if column in m["COLUMNS"])
    plain = Path(ms) / f"table.f{seqnr}"
    target = plain.with_name(plain.name + "_TSM0")
    target = target if target.exists() else plain
    if mode == "delete":
        target.unlink()
    elif mode in ("truncate", "empty"):
        size = target.stat().st_size // 2 if mode == "truncate" else 0
        with open(target, "r+b") as handle:
            handle.truncate(size)
    else:
        raise ValueError(f"unknown mode {mode!r}")
    return target
