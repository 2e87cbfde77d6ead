"""Atomic product output: write to a temporary sibling path, then rename into place.

A product that is being written never sits at its final path, so an interrupted run leaves no
half-written product that looks complete. Directory products (Zarr stores, Measurement Sets) also
carry a completion marker file, :data:`COMPLETION_MARKER`, written last.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

from vlassdask.errors import ProductExistsError

COMPLETION_MARKER = ".vlassdask-complete"


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def check_can_write(path: str | os.PathLike, *, overwrite: bool) -> Path:
    """Return ``path`` as a Path, raising if it exists and ``overwrite`` is false.

    Raises
    ------
    ProductExistsError
        If the path exists and ``overwrite`` is false.
    """
    out = Path(path)
    if (out.exists() or out.is_symlink()) and not overwrite:
        raise ProductExistsError(f"output {out} already exists (use --overwrite to replace it)")
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
    final = check_can_write(path, overwrite=overwrite).absolute()
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.parent / f".{final.name}.tmp-{uuid.uuid4().hex[:8]}"
    try:
        yield tmp
        if directory:
            (tmp / COMPLETION_MARKER).write_text("complete\n")
        if final.exists() or final.is_symlink():
            trash = final.parent / f".{final.name}.old-{uuid.uuid4().hex[:8]}"
            final.rename(trash)
            tmp.rename(final)
            _remove(trash)
        else:
            tmp.rename(final)
    finally:
        if tmp.exists() or tmp.is_symlink():
            _remove(tmp)


def is_complete(path: str | os.PathLike) -> bool:
    """True if the directory product at ``path`` carries its completion marker."""
    return (Path(path) / COMPLETION_MARKER).is_file()
