"""The ``vlassdask`` command: registers every sub-command module and maps errors to exit codes.

Each sub-command module exposes ``register(app)``. A :class:`~vlassdask.errors.VlassdaskError`
raised anywhere below is printed as one line (``error: ...``) and exits with status 2.
"""

from __future__ import annotations

import sys

import typer

from vlassdask.cli import clean, combine, export, imaging, pipeline, qa, simulate, survey
from vlassdask.errors import VlassdaskError

app = typer.Typer(
    name="vlassdask",
    help="VLA Sky Survey imaging with dask: simulate, image, export and plan survey products.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
for _module in (pipeline, simulate, imaging, clean, export, survey, combine, qa):
    _module.register(app)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; return the exit status (0 success, 2 bad input or failure)."""
    try:
        app(args=argv, standalone_mode=False)
    except VlassdaskError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except typer.Exit as exc:
        return int(exc.exit_code or 0)
    except typer.Abort:
        print("error: aborted", file=sys.stderr)
        return 1
    except Exception as exc:  # click usage errors
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            return exc.exit_code
        raise
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
