"""Read a schedule of tile observations (tile, UTC start, UTC stop) for survey planning.

The table format is documented in :mod:`vlassdask.survey.planning`. CSV (``.csv``, ``#`` starts
a comment line), Parquet (``.parquet``/``.pq``) and whitespace-separated text (``.txt``/``.dat``,
``#`` comments, a header line naming the columns) are read.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from vlassdask.errors import InputError


def read_schedule(path: str | os.PathLike) -> pd.DataFrame:
    """Read a schedule table (columns are checked by :func:`vlassdask.survey.check_schedule`).

    Raises
    ------
    InputError
        If the file is missing, of an unknown type or unreadable.
    """
    p = Path(path)
    if not p.is_file():
        raise InputError(f"schedule table {p} does not exist")
    suffix = p.suffix.lower()
    try:
        if suffix == ".csv":
            df = pd.read_csv(p, comment="#", skipinitialspace=True, dtype={"tile": str})
        elif suffix in (".parquet", ".pq"):
            df = pd.read_parquet(p)
        elif suffix in (".txt", ".dat"):
            df = pd.read_csv(p, comment="#", sep=r"\s+", dtype={"tile": str})
        else:
            raise InputError(
                f"schedule table {p}: unknown file type {suffix!r} (use .csv, .parquet or .txt)"
            )
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise InputError(f"cannot read schedule table {p}: {exc}") from None
    df.columns = [str(c).strip().lower() for c in df.columns]
    return df
