"""Progress display for long dask computations, suited to where the user is looking.

* **terminal** (stderr is a terminal): dask's own redrawn bars (``distributed.progress`` on a
  client, ``dask.diagnostics.ProgressBar`` on the local schedulers);
* **notebook** (a Jupyter kernel): ``distributed.progress(notebook=True)``, a widget, when a
  client is active and ipywidgets is installed (dask's text bar on the local schedulers, which
  a notebook redraws in place); otherwise the plain lines below;
* **plain** (a log file, a pipe, a batch job's output): one line per tenth of the tasks done,
  ``progress: 40% (120/300 tasks, 12 s)``, so that a log keeps one readable line each instead
  of thousands of carriage-return redraws run together.
"""

from __future__ import annotations

import importlib.util
import sys
import time
from typing import Any

import dask
from dask.callbacks import Callback
from dask.diagnostics import ProgressBar

MODES = ("terminal", "notebook", "plain")


def _current_client() -> Any | None:
    try:
        from distributed import get_client

        return get_client()
    except (ImportError, ValueError):
        return None


def progress_mode() -> str:
    """``"notebook"`` in a Jupyter kernel, ``"terminal"`` when the process's stderr is a
    terminal, else ``"plain"``."""
    if "ipykernel" in sys.modules:
        from IPython import get_ipython

        shell = get_ipython()
        if shell is not None and type(shell).__name__ == "ZMQInteractiveShell":
            return "notebook"
    stream = sys.__stderr__
    return "terminal" if stream is not None and stream.isatty() else "plain"


class _Lines:
    """Prints ``progress: P% (done/total tasks, T s)`` each time P crosses a tenth."""

    def __init__(self) -> None:
        self._start = time.monotonic()
        self._last = -1

    def update(self, done: int, total: int) -> None:
        percent = 100 if total <= 0 else 10 * (10 * done // total)
        if percent != self._last:
            self._last = percent
            print(f"progress: {percent:3d}% ({done}/{total} tasks, "
                  f"{time.monotonic() - self._start:.0f} s)", file=sys.stderr, flush=True)


class _LocalLines(Callback):
    """Plain progress lines for dask's local schedulers."""

    def _start(self, dsk) -> None:
        self._lines = _Lines()

    def _posttask(self, key, result, dsk, state, worker_id) -> None:
        done = len(state["finished"])
        total = done + sum(len(state[k]) for k in ("ready", "waiting", "running"))
        self._lines.update(done, total)


def _distributed_lines(collections: list) -> None:
    """Plain progress lines for persisted collections on a distributed client, from its
    scheduler's task counts (all the tasks they depend on)."""
    from distributed import futures_of
    from distributed.diagnostics.progressbar import TextProgressBar

    class Bar(TextProgressBar):
        def _draw_bar(self, remaining: int, all: int, **kwargs: Any) -> None:  # noqa: A002
            lines.update(all - remaining, all)

        def _draw_stop(self, **kwargs: Any) -> None:
            return None

    lines = _Lines()
    Bar(futures_of(collections), interval="1s", complete=True)


def persist_with_progress(*collections: Any, show: bool = True,
                          mode: str | None = None) -> tuple[Any, ...]:  # fmt: skip
    """Persist dask collections, showing their progress, and wait until they are in memory.

    Parameters
    ----------
    *collections
        dask collections.
    show
        Show progress at all.
    mode
        One of :data:`MODES`; default :func:`progress_mode`.
    """
    mode = mode or progress_mode()
    client = _current_client()
    if client is not None:
        from distributed import progress, wait

        out = client.persist(list(collections))
        if show and mode == "notebook" and importlib.util.find_spec("ipywidgets"):
            from IPython.display import display

            display(progress(out, notebook=True))  # a widget: returned, not shown, by dask
        elif show and mode == "terminal":
            progress(out, notebook=False)
        elif show:
            _distributed_lines(out)
        wait(out)
        return tuple(out)
    if not show:
        return dask.persist(*collections)
    with ProgressBar(dt=1.0) if mode in ("terminal", "notebook") else _LocalLines():
        return dask.persist(*collections)
