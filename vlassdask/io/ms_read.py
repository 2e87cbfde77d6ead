"""Open a Measurement Set with dask-ms and attach what imaging needs from its subtables.

The main table is read with ``daskms.xds_from_ms`` grouped by DATA_DESC_ID (one dataset per
spectral window) and chunked by row, as dask-ms returns it, with FIELD_ID as a per-row column.
Each dataset gets the channel frequencies as a ``chan`` coordinate (``chan_freq``) and attrs
``field_phase_centers_rad`` (PHASE_DIR of every FIELD row, radians), ``field_ids`` (the fields
selected), ``corr_types`` (POLARIZATION CORR_TYPE codes) and ``spw_id``. Nothing is loaded until
computed except the (small) subtables.

DESIGN.md suggests grouping by FIELD_ID as well. VLASS on-the-fly data have a FIELD row every two
integrations (thousands per image), which would make thousands of tiny datasets and a graph
dominated by overhead; rows are therefore grouped by spectral window only and re-phased per field
inside each chunk.
"""

from __future__ import annotations

import functools
import os
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import xarray as xr

from vlassdask.errors import InputError

REQUIRED_SUBTABLES = ("SPECTRAL_WINDOW", "FIELD", "DATA_DESCRIPTION", "POLARIZATION", "ANTENNA")
REQUIRED_COLUMNS = ("UVW", "FLAG", "ANTENNA1", "ANTENNA2", "TIME", "FIELD_ID", "DATA_DESC_ID")


@dataclass(frozen=True)
class MeasurementSet:
    """Lazily opened visibilities of one MS.

    Attributes
    ----------
    path
        Location of the MS.
    datasets
        One xarray Dataset per DATA_DESC_ID, dims (row, chan, corr, uvw), FIELD_ID per row.
    data_column
        The visibility column read (DATA, CORRECTED_DATA, MODEL_DATA).
    weight_column
        WEIGHT_SPECTRUM if present, else WEIGHT.
    """

    path: Path
    datasets: list[xr.Dataset]
    data_column: str
    weight_column: str


def _table_columns(path: Path) -> tuple[list[str], list[str]]:
    from casacore.tables import table

    try:
        with table(str(path), ack=False) as tab:
            return list(tab.colnames()), list(tab.getkeywords())
    except RuntimeError as exc:
        raise InputError(f"{path} is not a readable Measurement Set ({exc})") from exc


def _subtable_cells(path: Path, name: str, column: str) -> list[np.ndarray]:
    """Every row of one subtable column (rows may differ in shape, e.g. CHAN_FREQ)."""
    from casacore.tables import table

    try:
        with table(f"{path}::{name}", ack=False) as tab:
            if column not in tab.colnames():
                raise InputError(f"the {name} subtable of {path} has no {column} column")
            return [np.asarray(tab.getcell(column, r)) for r in range(tab.nrows())]
    except RuntimeError as exc:
        raise InputError(f"cannot read the {name} subtable of {path}: {exc}") from exc


def _probe_columns(path: Path, columns: list[str]) -> None:
    """Read the first and last row of every column, so that damaged storage is found now.

    A truncated or deleted storage-manager file (``table.fN``, ``table.fN_TSM0``) otherwise
    surfaces as a casacore error in the middle of the computation. Truncation always cuts the
    end of a file, so the last row is the one that finds it; the first row finds a missing file.
    Reads two rows per column: negligible time and memory.
    """
    from casacore.tables import table

    try:
        tab = table(str(path), ack=False)
    except RuntimeError as exc:
        raise InputError(f"{path} is not a readable Measurement Set ({exc})") from exc
    with tab:
        last = tab.nrows() - 1
        for column in columns:
            try:
                for row in sorted({0, max(last, 0)}):
                    if last >= 0 and tab.iscelldefined(column, row):
                        tab.getcell(column, row)
            except RuntimeError as exc:
                reason = " ".join(str(exc).split())
                raise InputError(f"the {column} column of {path} is unreadable (damaged or "
                                 f"missing storage file: {reason})") from exc


#: casacore tables opened by several threads of one process at once (two plane tasks, two
#: survey products on the same MS) can fail in the table lock ("should be locked when using
#: UserLocking"): opening and the subtable reads are serialised per process. Reading the
#: visibilities afterwards goes through dask-ms's own table proxies.
_OPEN_LOCK = threading.RLock()


def _serialised(func):
    """``func`` run under :data:`_OPEN_LOCK`."""
    @functools.wraps(func)
    def locked(*args, **kwargs):
        with _OPEN_LOCK:
            return func(*args, **kwargs)
    return locked


@_serialised
def open_measurement_set(
    path: str | os.PathLike,
    *,
    data_column: str = "DATA",
    row_chunks: int = 20000,
    fields: list[int] | None = None,
    spws: list[int] | None = None,
) -> MeasurementSet:
    """Open ``path`` for imaging, checking that everything needed is there.

    Parameters
    ----------
    path
        Measurement Set directory.
    data_column
        Visibility column to read.
    row_chunks
        Rows per dask chunk.
    fields, spws
        Restrict to these FIELD_IDs / spectral-window ids (default: all).

    Raises
    ------
    InputError
        Missing path, not a table, missing columns or subtables, or nothing selected.
    """
    from daskms import xds_from_ms

    ms = Path(path)
    if not ms.exists():
        raise InputError(f"Measurement Set {ms} does not exist")
    if not (ms / "table.dat").is_file():
        raise InputError(f"{ms} is not a Measurement Set (no casacore table.dat inside)")
    columns, keywords = _table_columns(ms)
    missing = [c for c in (*REQUIRED_COLUMNS, data_column) if c not in columns]
    if missing:
        raise InputError(f"{ms} has no {', '.join(missing)} column(s); columns present: "
                         f"{', '.join(columns)}")
    absent = [s for s in REQUIRED_SUBTABLES if s not in keywords]
    if absent:
        raise InputError(f"{ms} lacks the subtable(s) {', '.join(absent)}")
    weight_column = "WEIGHT_SPECTRUM" if "WEIGHT_SPECTRUM" in columns else "WEIGHT"
    if weight_column not in columns:
        raise InputError(f"{ms} has neither a WEIGHT_SPECTRUM nor a WEIGHT column")
    chan_freq = _subtable_cells(ms, "SPECTRAL_WINDOW", "CHAN_FREQ")
    phase_dirs = _subtable_cells(ms, "FIELD", "PHASE_DIR")
    field_names = _subtable_cells(ms, "FIELD", "NAME")
    dd_spw = _subtable_cells(ms, "DATA_DESCRIPTION", "SPECTRAL_WINDOW_ID")
    dd_pol = _subtable_cells(ms, "DATA_DESCRIPTION", "POLARIZATION_ID")
    corr_types = _subtable_cells(ms, "POLARIZATION", "CORR_TYPE")
    read = ["UVW", "FLAG", "TIME", "FIELD_ID", data_column, weight_column]
    if "FLAG_ROW" in columns:
        read.append("FLAG_ROW")
    centers = [[float(v) for v in np.asarray(d, dtype=np.float64).reshape(-1, 2)[0]]
               for d in phase_dirs]
    field_ids = list(range(len(centers))) if fields is None else sorted(set(fields))
    unknown = [f for f in field_ids if not 0 <= f < len(centers)]
    if unknown:
        raise InputError(f"{ms} has no FIELD row(s) {unknown} (it has {len(centers)})")
    _probe_columns(ms, [*read, "ANTENNA1", "ANTENNA2", "DATA_DESC_ID"])
    where = "" if fields is None else f"FIELD_ID IN [{', '.join(map(str, field_ids))}]"
    try:
        groups = xds_from_ms(str(ms), columns=read, group_cols=["DATA_DESC_ID"],
                             index_cols=["TIME"], chunks={"row": int(row_chunks)},
                             taql_where=where)
    except RuntimeError as exc:
        reason = " ".join(str(exc).split())
        raise InputError(f"cannot read the main table of {ms} (damaged storage?): "
                         f"{reason[-200:]}") from exc
    datasets = []
    for ds in groups:
        ddid = int(ds.attrs["DATA_DESC_ID"])
        spw_id = int(dd_spw[ddid])
        if ds.sizes.get("row", 0) == 0 or (spws is not None and spw_id not in spws):
            continue
        ds = ds.assign_coords(chan_freq=("chan", np.asarray(chan_freq[spw_id], dtype=np.float64)))
        ds.attrs.update(
            field_phase_centers_rad=centers,
            field_ids=field_ids,
            field_names=[str(n) for n in field_names],
            corr_types=[int(c) for c in corr_types[int(dd_pol[ddid])].ravel()],
            spw_id=spw_id,
        )
        datasets.append(ds)
    if not datasets:
        raise InputError(f"no data in {ms} match the selection (fields={fields}, spws={spws})")
    return MeasurementSet(ms, datasets, data_column, weight_column)


@_serialised
def observation_mjd(path: str | os.PathLike) -> float:
    """Middle of the observation (UTC MJD), from the OBSERVATION subtable's TIME_RANGE.

    Raises
    ------
    InputError
        If the MS or its OBSERVATION subtable is missing or unreadable, or has no time range.
    """
    ms = Path(path)
    if not (ms / "table.dat").is_file():
        raise InputError(f"{ms} is not a Measurement Set (no casacore table.dat inside)")
    ranges = [np.asarray(r, dtype=np.float64).ravel() for r in
              _subtable_cells(ms, "OBSERVATION", "TIME_RANGE")]
    ranges = [r for r in ranges if r.size == 2 and np.isfinite(r).all() and r[1] >= r[0] > 0]
    if not ranges:
        raise InputError(f"the OBSERVATION subtable of {ms} has no valid TIME_RANGE")
    start = min(r[0] for r in ranges)
    end = max(r[1] for r in ranges)
    return 0.5 * (start + end) / 86400.0
