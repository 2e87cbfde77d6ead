"""CLI commands (placeholder until this module's owner fills it in)."""

import typer


def register(app: typer.Typer) -> None:
    """Add this module's commands to app."""
