"""What every CLI test checks of a refused command: exit 2, one ``error:`` line, no traceback."""

from __future__ import annotations

import subprocess


def assert_one_error(proc: subprocess.CompletedProcess, says: str) -> None:
    """Exit status 2 and exactly one ``error:`` line on stderr, containing ``says``."""
    assert proc.returncode == 2, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and says in errors[0], proc.stderr
    assert "Traceback" not in proc.stderr
