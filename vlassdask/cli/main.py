"""The ``vlassdask`` command: registers every sub-command module and maps errors to exit codes.

Each sub-command module exposes ``register(app)``. Exit statuses:

* 0: done;
* 2: bad input or a usage error: one line ``error: ...`` on stderr, no traceback. A
  :class:`~vlassdask.errors.VlassdaskError` raised anywhere below, and every click usage error
  (unknown option or command, missing or malformed value, extra argument) whichever click
  raised it: the ``click`` package or the copy some typer releases bundle;
* 3: ``vlassdask clean`` diverged (its products are written);
* 4: ``vlassdask quicklook --fail-unless-accepted``: QA did not accept the image (its products
  are written);
* 130: interrupted (Ctrl-C): one line ``error: interrupted``; products being written are
  removed (they only ever exist under a temporary name).
"""

from __future__ import annotations

import contextlib
import importlib
import os
import signal
import sys
import threading
from typing import Annotated

import typer

import vlassdask
from vlassdask.cli import (
    catalog,
    clean,
    coarse_cube,
    combine,
    export,
    imaging,
    pipeline,
    qa,
    quicklook,
    simulate,
    survey,
    survey_runs,
)
from vlassdask.errors import VlassdaskError

#: Exit status of an interrupted run (128 + SIGINT), as shells report it.
INTERRUPTED_EXIT = 130

app = typer.Typer(
    name="vlassdask",
    help="VLA Sky Survey imaging with dask: simulate, image, clean, export and plan survey "
    "products.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _show_version(value: bool) -> None:
    if value:
        print(f"vlassdask {vlassdask.__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: Annotated[bool, typer.Option(
        "--version", callback=_show_version, is_eager=True,
        help="Print the vlassdask version and exit.")] = False,
) -> None:
    """VLA Sky Survey imaging with dask: simulate, image, clean, export and plan survey
    products."""


for _module in (pipeline, simulate, imaging, clean, quicklook, coarse_cube, export, survey,
                survey_runs, combine, qa, catalog):
    _module.register(app)


def _click_modules() -> list:
    """The click exception modules in use: the ``click`` package and typer's bundled copy."""
    modules = []
    for name in ("click.exceptions", "typer._click.exceptions"):
        try:
            modules.append(importlib.import_module(name))
        except ImportError:
            continue
    return modules


def _classes(attribute: str) -> tuple[type, ...]:
    return tuple(getattr(m, attribute) for m in _click_modules() if hasattr(m, attribute))


def _usage_line(exc: Exception) -> str:
    """One line for a click error, with the command to ask for help."""
    message = " ".join(exc.format_message().split())
    ctx = getattr(exc, "ctx", None)
    command = ctx.command_path if ctx is not None else "vlassdask"
    return f"error: {message} (see '{command} --help')"


#: Seconds a run may take to unwind after Ctrl-C before it is ended regardless.
INTERRUPT_GRACE_S = 30.0


class _Interrupts:
    """Ctrl-C during a run: the first raises KeyboardInterrupt, so that temporary products
    are removed as the stack unwinds. Python drops an exception raised inside a finaliser
    (``__del__``, a weakref callback), so a watchdog ends the process if the run is still going
    :data:`INTERRUPT_GRACE_S` later; a second Ctrl-C ends it at once. A temporary sibling left
    then is removed by the next run of the same output."""

    def __init__(self) -> None:
        self.watchdog: threading.Timer | None = None

    def __call__(self, signum: int, frame: object) -> None:
        if self.watchdog is not None:
            self.end()
        self.watchdog = threading.Timer(INTERRUPT_GRACE_S, self.end)
        self.watchdog.daemon = True
        self.watchdog.start()
        raise KeyboardInterrupt

    @staticmethod
    def end() -> None:
        print("error: interrupted", file=sys.stderr, flush=True)
        os._exit(INTERRUPTED_EXIT)

    @contextlib.contextmanager
    def installed(self):
        """Handle SIGINT so during the enclosed run (main thread only), then restore the handler
        and stop the watchdog."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = signal.signal(signal.SIGINT, self)
        try:
            yield
        finally:
            signal.signal(signal.SIGINT, previous)
            if self.watchdog is not None:
                self.watchdog.cancel()


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; return the exit status (see the module docstring)."""
    with _Interrupts().installed():
        return _run(argv)


def _run(argv: list[str] | None) -> int:
    """The run itself, errors mapped to exit statuses."""
    try:
        # without standalone mode, click returns (not raises) the status of an abort (Ctrl-C)
        status = app(args=argv, standalone_mode=False, prog_name="vlassdask")
    except VlassdaskError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return INTERRUPTED_EXIT
    except (typer.Exit, *_classes("Exit")) as exc:
        return int(getattr(exc, "exit_code", 0) or 0)
    except (typer.Abort, *_classes("Abort")):
        print("error: interrupted", file=sys.stderr)
        return INTERRUPTED_EXIT
    except _classes("ClickException") as exc:
        if not exc.format_message().strip():  # no arguments at all: the help was shown
            return 0
        print(_usage_line(exc), file=sys.stderr)
        return 2
    if isinstance(status, int) and not isinstance(status, bool) and status:
        if status == INTERRUPTED_EXIT:
            print("error: interrupted", file=sys.stderr)
        return status
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
