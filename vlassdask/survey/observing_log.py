"""The packaged VLASS tile observing log (tile bounds, epoch, observation date, QL status).

``vlassdask/data/vlass_tiles_observing_log.txt`` is a copy of NRAO's VLASS survey status table
(its first line names the source). It gives one row per tile and half-epoch with the UT date of
the observation, not its start and stop times, so it tells *when* but not at which hour angle a
tile was observed: :mod:`vlassdask.survey.planning` needs a schedule table for that.
"""

from __future__ import annotations

import functools
import re
from importlib import resources

import pandas as pd

LOG_RESOURCE = "vlass_tiles_observing_log.txt"
_ROW = re.compile(
    r"^(?P<tile>T\d{2}t\d{2})\s+(?P<dec_min>\S+)\s+(?P<dec_max>\S+)\s+(?P<ra_min_h>\S+)\s+"
    r"(?P<ra_max_h>\S+)\s+(?P<epoch>VLASS\d\.\d)\s*(?P<date>\d{4}-\d{2}-\d{2})?\s*(?P<status>.*?)\s*$"
)


def _text() -> str:
    return (resources.files("vlassdask") / "data" / LOG_RESOURCE).read_text()


def observing_log_source() -> str:
    """The header line of the packaged log that names its source."""
    return _text().splitlines()[0].lstrip("# ").strip()


@functools.cache
def _load() -> pd.DataFrame:
    text = _text()
    rows = [m.groupdict() for m in map(_ROW.match, text.splitlines()) if m]
    df = pd.DataFrame(rows)
    for col in ("dec_min", "dec_max", "ra_min_h", "ra_max_h"):
        df[col] = df[col].astype(float)
    df["date"] = pd.to_datetime(df["date"], format="%Y-%m-%d")
    df["status"] = df["status"].fillna("")
    return df.sort_values(["tile", "epoch"], kind="stable").reset_index(drop=True)


def read_observing_log() -> pd.DataFrame:
    """The observing log as a table.

    Returns
    -------
    pandas.DataFrame
        One row per (tile, half-epoch): ``tile``, ``dec_min``, ``dec_max`` (deg), ``ra_min_h``,
        ``ra_max_h`` (hours, rounded to 0.01 h as published), ``epoch`` (``VLASS1.1`` ...),
        ``date`` (UT date of the observation; NaT where not yet observed) and ``status`` (Quick
        Look status text, e.g. ``100% imaged`` or ``Scheduled``).
    """
    return _load().copy()
