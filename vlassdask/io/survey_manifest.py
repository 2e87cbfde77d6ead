"""A survey directory on disk: its manifest (JSON lines), settings and the runner's lock.

``<survey>/survey.json`` holds the plan's settings (product, its configuration document and
preset, the configuration hash); ``<survey>/manifest.jsonl`` one row per phase centre (see
:data:`ROW_KEYS`). Every update rewrites the manifest to a temporary file in the same directory,
fsyncs it and renames it over the old one (``os.replace``), then fsyncs the directory: a reader,
or a runner killed at any instant, sees the old manifest or the new one, never a mixture.

``<survey>/.lock`` is held (``flock``) by the one runner allowed at a time and says who it is
(host, pid, start time); the operating system releases it when that runner ends, so the file
of a killed runner is simply taken over.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from vlassdask.errors import InputError
from vlassdask.io.atomic import remove_stale_temporaries

MANIFEST = "manifest.jsonl"
SETTINGS = "survey.json"
LOCK = ".lock"
#: States of a product.
STATES = ("pending", "running", "done", "failed")
#: The keys of a manifest row.
ROW_KEYS = ("name", "tile", "product", "ms", "config_hash", "state", "decision", "reason",
            "attempts", "runs", "started", "finished", "seconds", "cores", "out", "marker",
            "preview")


def new_row(name: str, tile: str, product: str, ms: str, config_hash: str) -> dict[str, Any]:
    """A pending manifest row."""
    row = dict.fromkeys(ROW_KEYS)
    row.update(name=name, tile=tile, product=product, ms=ms, config_hash=config_hash,
               state="pending", attempts=0, runs=0, out=f"products/{name}")
    return row


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomically(path: Path, text: str) -> None:
    """Replace ``path`` by ``text``: temporary file, fsync, rename, fsync of the directory."""
    tmp = path.parent / f".{path.name}.tmp-{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)
    remove_stale_temporaries(path)  # a killed writer's temporary file


def write_manifest(survey: Path, rows: list[dict[str, Any]]) -> None:
    """Write every row (atomically, see the module docstring)."""
    write_atomically(Path(survey) / MANIFEST,
                     "".join(json.dumps(r, sort_keys=True) + "\n" for r in rows))


def read_manifest(survey: Path) -> list[dict[str, Any]]:
    """The rows of a survey's manifest.

    Raises
    ------
    InputError
        If the directory holds no survey (no manifest) or the manifest is damaged.
    """
    path = Path(survey) / MANIFEST
    if not path.is_file():
        raise InputError(f"{survey} is not a survey directory (no {MANIFEST}): make one with "
                         "vlassdask survey plan")
    rows = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, start=1):
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                raise InputError(f"{path} line {number} is not JSON: the manifest is damaged"
                                 ) from None
            if not isinstance(row, dict) or set(row) != set(ROW_KEYS) \
                    or row["state"] not in STATES:
                raise InputError(f"{path} line {number} is not a manifest row")
            rows.append(row)
    return rows


def write_settings(survey: Path, settings: dict[str, Any]) -> None:
    """Write ``survey.json`` atomically."""
    write_atomically(Path(survey) / SETTINGS, json.dumps(settings, indent=2) + "\n")


def read_settings(survey: Path) -> dict[str, Any]:
    """The plan's settings (``survey.json``)."""
    path = Path(survey) / SETTINGS
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(f"cannot read the survey settings {path}: {exc}") from None


def _holder(fd: int) -> dict[str, Any]:
    """Who the lock file says holds it (empty if nobody or unreadable)."""
    try:
        value = json.loads(os.pread(fd, 4096, 0) or b"{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


@contextlib.contextmanager
def survey_lock(survey: Path, announce=lambda _line: None) -> Iterator[None]:
    """Hold ``<survey>/.lock`` while the block runs.

    The lock is an exclusive ``flock`` on the file, which the operating system releases when its
    holder ends however it ends, so two runners can never both hold it; the file says who holds
    it (host, pid, start). A file left by a runner that was killed is taken over, and said so.

    Raises
    ------
    InputError
        If the directory holds no survey, or another runner holds the lock (its host, pid and
        start are named).
    """
    if not (Path(survey) / MANIFEST).is_file():
        raise InputError(f"{survey} is not a survey directory (no {MANIFEST}): make one with "
                         "vlassdask survey plan")
    path = Path(survey) / LOCK
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        holder = _holder(fd)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(holder.get("since", 0)))
            raise InputError(f"{survey} is being run by {holder.get('host', '?')} pid "
                             f"{holder.get('pid', '?')} since {since} (lock {path})") from None
        if holder.get("pid"):
            announce(f"taking over the lock left by pid {holder['pid']} on "
                     f"{holder.get('host', '?')} (no longer running)")
        me = {"host": socket.gethostname(), "pid": os.getpid(), "since": time.time()}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(me).encode(), 0)
        try:
            yield
        finally:
            path.unlink(missing_ok=True)
    finally:
        os.close(fd)  # releases the flock
