"""Atomic product output: write to a temporary sibling path, then rename into place.

A product that is being written never sits at its final path, so an interrupted run leaves no
half-written product that looks complete. Directory products (Zarr stores, Measurement Sets) also
carry a completion marker file, :data:`COMPLETION_MARKER`, written last.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path

from vlassdask.errors import InputError, ProductExistsError

COMPLETION_MARKER = ".vlassdask-complete"
#: Rename attempts before giving up on a product other processes keep replacing.
_RENAME_ATTEMPTS = 20


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def _within(inner: Path, outer: Path) -> bool:
    return inner == outer or outer in inner.parents


def check_can_write(path: str | os.PathLike, *, overwrite: bool,
                    inputs: Iterable[str | os.PathLike] = (), kind: str | None = None) -> Path:
    """Return ``path`` as a Path if a product may be written there; raise before any work if not.

    Parameters
    ----------
    path
        The output.
    overwrite
        Whether an existing output may be replaced.
    inputs
        The run's inputs: the output may not be one of them, lie inside one, or contain one
        (replacing it would delete the input), whatever ``overwrite`` says.
    kind
        ``"store"`` (a directory product: with ``overwrite`` only a directory carrying the
        completion marker is replaced) or ``"file"`` (only a plain file is replaced); None: any.

    Raises
    ------
    InputError
        The output would replace or lie inside an input, or its directory cannot be written
        (a parent is a plain file, or it is not writable).
    ProductExistsError
        If the path exists and ``overwrite`` is false, or it is not a product of ``kind``.
    """
    out = Path(path)
    resolved = out.resolve()
    for source in inputs:
        source = Path(source).resolve()
        if _within(resolved, source) or _within(source, resolved):
            how = "replace" if resolved == source else "replace or lie inside"
            raise InputError(f"output {out} would {how} the input {source}; choose another "
                             "output path")
    exists = out.exists() or out.is_symlink()
    if exists and not overwrite:
        raise ProductExistsError(f"output {out} already exists (use --overwrite to replace it)")
    if exists and kind == "store" and not (out.is_dir() and is_complete(out)):
        raise ProductExistsError(f"output {out} exists and is not a vlassdask product; "
                                 "--overwrite replaces a product of the same kind only")
    if exists and kind == "file" and not out.is_file():
        raise ProductExistsError(f"output {out} exists and is not a file; --overwrite replaces "
                                 "a file with a file only")
    parent = resolved.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise InputError(f"cannot write {out}: {parent} is not a directory")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise InputError(f"cannot write {out}: {parent} is not writable")
    return out


@contextlib.contextmanager
def atomic_output(
    path: str | os.PathLike, *, overwrite: bool = False, directory: bool = True
) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success move it to ``path``.

    Parameters
    ----------
    path
        Final location of the product.
    overwrite
        Replace an existing product. Without it an existing ``path`` raises before anything is
        written.
    directory
        If true the product is a directory and receives a completion marker file before the
        rename.

    Raises
    ------
    ProductExistsError
        If ``path`` exists and ``overwrite`` is false.
    """
    final = check_can_write(path, overwrite=overwrite,
                            kind="store" if directory else "file").absolute()
    final.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(final)
    tmp = temporary_sibling(final, "tmp")
    try:
        yield tmp
        if directory:
            (tmp / COMPLETION_MARKER).write_text("complete\n")
        _replace(tmp, final)
    finally:
        if tmp.exists() or tmp.is_symlink():
            _remove(tmp)


def temporary_sibling(final: Path, kind: str) -> Path:
    """``.<name>.<kind>-<pid>-<random>`` beside ``final`` (kind ``tmp``, ``old`` or
    ``pending``): the pid tells whose it is, so :func:`remove_stale_temporaries` can tell a
    killed run's leftovers from a live writer's."""
    return final.parent / f".{final.name}.{kind}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


def _replace(tmp: Path, final: Path) -> None:
    """Move ``tmp`` to ``final``, replacing what is there, tolerating a concurrent writer of
    the same product (the last rename wins; every displaced copy is removed)."""
    trashes = []
    try:
        for _ in range(_RENAME_ATTEMPTS):
            if final.exists() or final.is_symlink():
                trash = temporary_sibling(final, "old")
                try:
                    final.rename(trash)
                    trashes.append(trash)
                except FileNotFoundError:  # another writer moved it first
                    pass
            try:
                tmp.rename(final)
                return
            except OSError as exc:  # another writer's product arrived in between
                if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY, errno.EISDIR):
                    raise
        raise OSError(f"could not move {tmp} to {final}: other processes keep writing it")
    finally:
        for trash in trashes:
            _remove(trash)


def process_alive(pid: int) -> bool:
    """True if a process ``pid`` runs on this machine."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_temporaries(final: str | os.PathLike) -> list[Path]:
    """Remove the temporary siblings of ``final`` left by runs that were killed.

    A temporary sibling is ``.<name>.<kind>-<pid>-*`` (:func:`temporary_sibling`); it is stale when
    no process ``<pid>`` runs on this machine (a live writer's temporaries are kept).

    Returns
    -------
    list of pathlib.Path
        What was removed.
    """
    final = Path(final)
    removed = []
    for kind in ("tmp", "old", "pending"):
        for path in final.parent.glob(f".{final.name}.{kind}-*"):
            pid = path.name[len(f".{final.name}.{kind}-"):].split("-")[0]
            if pid.isdigit() and not process_alive(int(pid)):
                _remove(path)
                removed.append(path)
    return removed


def is_complete(path: str | os.PathLike) -> bool:
    """True if the directory product at ``path`` carries its completion marker."""
    return (Path(path) / COMPLETION_MARKER).is_file()
