"""Read and write catalog tables: Parquet, FITS binary tables and CSV.

Writers are atomic (a temporary sibling renamed into place, :mod:`vlassdask.io.atomic`): a
catalog being written never sits at its final path, an existing file is replaced only with
``overwrite`` and an input is never replaced. Units from the catalog schema go into the FITS
``TUNITn`` cards and the Parquet schema metadata (``vlassdask.units``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from astropy.io import fits
from astropy.table import Table

from vlassdask.errors import InputError
from vlassdask.io.atomic import atomic_output, check_can_write
from vlassdask.io.catalog_schema import SCHEMA_VERSION, catalog_units

CATALOG_FORMATS = {".parquet": "parquet", ".pq": "parquet", ".fits": "fits", ".fit": "fits",
                   ".csv": "csv"}  # fmt: skip
#: Column names accepted as right ascension / declination in external catalogs (any case).
RA_NAMES = ("ra", "ra_deg", "raj2000", "_raj2000", "ra_j2000")
DEC_NAMES = ("dec", "dec_deg", "dej2000", "_dej2000", "decj2000", "dec_j2000")


def catalog_format(path: str | os.PathLike) -> str:
    """``"parquet"``, ``"fits"`` or ``"csv"`` from the file suffix.

    Raises
    ------
    InputError
        For any other suffix.
    """
    suffix = Path(path).suffix.lower()
    if suffix not in CATALOG_FORMATS:
        raise InputError(f"{path}: unknown catalog file type {suffix!r} (use .parquet, .fits "
                         "or .csv)")
    return CATALOG_FORMATS[suffix]


def read_catalog(path: str | os.PathLike) -> pd.DataFrame:
    """Read a catalog table (Parquet, FITS binary table in the first table HDU, or CSV).

    Raises
    ------
    InputError
        Missing, unreadable or unknown file.
    """
    p = Path(path)
    kind = catalog_format(p)
    if not p.is_file():
        raise InputError(f"catalog {p} does not exist")
    try:
        if kind == "parquet":
            return pd.read_parquet(p)
        if kind == "csv":
            return pd.read_csv(p, comment="#")
        table = Table.read(p, format="fits", hdu=1)
        for name in table.colnames:
            if table[name].dtype.kind == "S":
                table[name] = np.char.decode(table[name])
        return table.to_pandas()
    except (OSError, ValueError, TypeError, pa.ArrowException) as exc:
        raise InputError(f"cannot read catalog {p}: {exc}") from None


def sky_columns(table: pd.DataFrame, source: str | os.PathLike = "catalog") -> tuple[str, str]:
    """The names of the RA and Dec columns (degrees) of a table.

    Raises
    ------
    InputError
        If the table has no recognisable RA/Dec columns (:data:`RA_NAMES`, :data:`DEC_NAMES`).
    """
    lower = {str(c).lower(): str(c) for c in table.columns}
    ra = next((lower[n] for n in RA_NAMES if n in lower), None)
    dec = next((lower[n] for n in DEC_NAMES if n in lower), None)
    if ra is None or dec is None:
        raise InputError(f"{source} has no RA/Dec columns (looked for {RA_NAMES[0]}/"
                         f"{DEC_NAMES[0]} and the like); columns: {list(table.columns)[:12]}")
    return ra, dec


def _write_one(table: pd.DataFrame, path: Path, kind: str, metadata: dict[str, str]) -> None:
    units = catalog_units()
    if kind == "parquet":
        arrow = pa.Table.from_pandas(table, preserve_index=False)
        meta = dict(arrow.schema.metadata or {})
        meta[b"vlassdask.units"] = json.dumps({c: units.get(c, "") for c in table.columns})
        meta.update({f"vlassdask.{k}".encode(): str(v) for k, v in metadata.items()})
        pq.write_table(arrow.replace_schema_metadata(meta), path)
    elif kind == "csv":
        table.to_csv(path, index=False)
    else:
        out = Table.from_pandas(table)
        for name in out.colnames:
            if units.get(name):
                out[name].unit = units[name]
        hdu = fits.BinTableHDU(out, name="CATALOG")
        for key, value in metadata.items():
            hdu.header[f"HIERARCH VLASSDASK {key.upper()}"] = str(value)[:60]
        hdu.writeto(path)


def write_catalog(table: pd.DataFrame, path: str | os.PathLike, *, overwrite: bool = False,
                  inputs: Iterable[str | os.PathLike] = (),
                  metadata: dict[str, str] | None = None) -> Path:  # fmt: skip
    """Write ``table`` atomically; the format follows the suffix (:func:`catalog_format`).

    Parameters
    ----------
    table
        The catalog.
    path
        Output file.
    overwrite
        Replace an existing file (never an input).
    inputs
        The run's inputs, which the output may not replace.
    metadata
        Extra key/values stored with the table (Parquet schema metadata, FITS header cards).

    Raises
    ------
    InputError, ProductExistsError
        See :func:`vlassdask.io.atomic.check_can_write`.
    """
    kind = catalog_format(path)
    check_can_write(path, overwrite=overwrite, inputs=inputs, kind="file")
    meta = {"catalog_schema_version": SCHEMA_VERSION, **(metadata or {})}
    with atomic_output(path, overwrite=overwrite, directory=False) as tmp:
        _write_one(table, tmp, kind, meta)
    return Path(path)


def check_outputs(paths: Iterable[str | os.PathLike | None], *, overwrite: bool,
                  inputs: Iterable[str | os.PathLike] = ()) -> None:  # fmt: skip
    """Check before any work that every output (None entries skipped) may be written and that
    no two outputs are the same file.

    Raises
    ------
    InputError, ProductExistsError
        As :func:`vlassdask.io.atomic.check_can_write`; duplicate outputs are an InputError.
    """
    given = [Path(p) for p in paths if p is not None]
    resolved = [p.resolve() for p in given]
    if len(set(resolved)) != len(resolved):
        raise InputError("two outputs name the same file")
    for p in given:
        if p.suffix.lower() in CATALOG_FORMATS:
            catalog_format(p)
        check_can_write(p, overwrite=overwrite, inputs=list(inputs))
