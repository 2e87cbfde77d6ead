"""Progress display for long dask computations (rich-free: dask's own progress bars)."""

from __future__ import annotations

from typing import Any

import dask
from dask.diagnostics import ProgressBar


def _current_client() -> Any | None:
    try:
        from distributed import get_client

        return get_client()
    except (ImportError, ValueError):
        return None


def persist_with_progress(*collections: Any, show: bool = True) -> tuple[Any, ...]:
    """Persist dask collections, showing a progress bar, and wait until they are in memory.

    On a distributed client the bar is ``distributed.progress`` (one line per task group); with
    the local schedulers it is ``dask.diagnostics.ProgressBar``.
    """
    client = _current_client()
    if client is not None:
        from distributed import progress, wait

        out = client.persist(list(collections))
        if show:
            progress(out, notebook=False)
        wait(out)
        return tuple(out)
    if show:
        with ProgressBar(dt=1.0):
            return dask.persist(*collections)
    return dask.persist(*collections)
