"""Image products on disk: a Zarr store written atomically, with provenance and a completion marker.

A store is what ``xarray.open_zarr(path)`` reads: the image Dataset of
:mod:`vlassdask.io.image_schema` with every attr (FITS header, history, beam, provenance) kept as
JSON. It is written to a hidden sibling directory, receives the completion marker
(:data:`vlassdask.io.atomic.COMPLETION_MARKER`) and is then renamed into place, so a path either
holds a complete product or nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import dask
import dask.array as da
import xarray as xr
from dask.delayed import Delayed

import vlassdask
from vlassdask.errors import InputError
from vlassdask.io.atomic import (
    atomic_output,
    check_can_write,
    is_complete,
    remove_stale_temporaries,
    temporary_sibling,
)
from vlassdask.io.image_schema import (
    SCHEMA_VERSION,
    check_image,
    current_fits_header,
    default_encoding,
)

HASHED_FILE_BYTES = 1 << 20


def describe_inputs(paths: Iterable[str | os.PathLike]) -> list[dict[str, Any]]:
    """Provenance records of input files or directories (Measurement Sets, configs).

    A file up to 1 MiB is identified by its sha256; a larger file by size and mtime; a
    directory by its number of files, total size and latest mtime (walking it, never reading it).
    """
    records = []
    for raw in paths:
        path = Path(raw)
        record: dict[str, Any] = {"path": str(path.absolute())}
        if path.is_file() and path.stat().st_size <= HASHED_FILE_BYTES:
            record["sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
        elif path.is_file():
            stat = path.stat()
            record.update(size=stat.st_size, mtime=stat.st_mtime)
        elif path.is_dir():
            stats = [p.stat() for p in path.rglob("*") if p.is_file()]
            record.update(
                n_files=len(stats),
                size=sum(s.st_size for s in stats),
                mtime=max((s.st_mtime for s in stats), default=path.stat().st_mtime),
            )
        else:
            record["missing"] = True
        records.append(record)
    return records


def provenance_record(
    *,
    config: Mapping[str, Any] | None = None,
    inputs: Iterable[str | os.PathLike] = (),
    command: str | None = None,
) -> dict[str, Any]:
    """The ``provenance`` attr of a product: pass it as ``attrs={"provenance": ...}``.

    :func:`write_image_store` adds ``vlassdask_version`` and ``created`` when it writes.
    """
    return {"command": command, "config": dict(config or {}), "inputs": describe_inputs(inputs)}


# Zarr v3 stores here are written with consolidated metadata (what xarray.open_zarr reads
# fastest); zarr warns that consolidation is not part of the v3 specification. The filter is
# process-wide on purpose: warnings.catch_warnings is not thread-safe, and stores are written
# and read from several threads at once.
warnings.filterwarnings("ignore", message="Consolidated metadata is currently not part",
                        category=UserWarning)

#: Coordinates of names, stored as variable-length strings (Zarr v3 has no fixed-length type).
_STRING_COORDS = ("polarization", "beam_param")


def _prepared(ds: xr.Dataset) -> tuple[xr.Dataset, dict[str, dict]]:
    """The Dataset as written (provenance, schema attrs, aligned dask chunks) and its encoding."""
    encoding = default_encoding(ds)
    out = ds.copy()
    for name, enc in encoding.items():
        var = out[name]
        if isinstance(var.data, da.Array):
            out[name] = var.chunk(dict(zip(var.dims, enc["chunks"], strict=True)))
    provenance = dict(ds.attrs.get("provenance") or {})
    provenance.setdefault("command", None)
    provenance.setdefault("config", {})
    provenance.setdefault("inputs", [])
    provenance["vlassdask_version"] = vlassdask.__version__
    provenance["created"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    out.attrs = {
        **ds.attrs,
        "fits_header": current_fits_header(ds),
        "provenance": provenance,
        "schema_version": SCHEMA_VERSION,
    }
    try:
        out.attrs = json.loads(json.dumps(out.attrs, allow_nan=True))
    except TypeError as exc:
        raise InputError(f"image attrs are not JSON-compatible: {exc}") from None
    out = out.assign_coords({name: out[name].values.astype(object) for name in _STRING_COORDS
                             if name in out.coords})
    return out, encoding


def _to_zarr(ds: xr.Dataset, path: Path, encoding: dict, *, compute: bool) -> Any:
    return ds.to_zarr(path, mode="w-", encoding=encoding, consolidated=True, compute=compute)


def _finalise(_written: Any, staging: Path, final: Path, overwrite: bool) -> Path:
    with atomic_output(final, overwrite=overwrite) as tmp:
        staging.rename(tmp)
    return final


def write_image_store(
    ds: xr.Dataset, path: str | os.PathLike, *, overwrite: bool = False, compute: bool = True
) -> Path | Delayed:
    """Validate an image product and write it as a Zarr store, atomically.

    Parameters
    ----------
    ds
        Image Dataset (see :func:`vlassdask.io.image_schema.make_image_dataset`). Dask-backed
        variables are written chunk by chunk (rechunked to the store chunks of
        :func:`~vlassdask.io.image_schema.default_encoding`), so peak memory is about one store
        chunk (``2048**2`` pixels) per worker thread plus the input graph's own chunks.
    path
        Store directory to create.
    overwrite
        Replace an existing product; the old one stays untouched until the new one is complete.
    compute
        If false, write the metadata now and return a :class:`dask.delayed.Delayed` that writes
        the chunks, marks the store complete and renames it into place (returning the path). If
        that computation fails, a hidden ``.<name>.pending-*`` sibling is left behind, never a
        product at ``path``.

    Returns
    -------
    pathlib.Path or dask.delayed.Delayed
        The store path (or the delayed write).

    Raises
    ------
    InputError
        If the Dataset fails :func:`~vlassdask.io.image_schema.check_image` or its attrs are
        not JSON-compatible.
    ProductExistsError
        If ``path`` exists and ``overwrite`` is false (before anything is written).
    """
    check_image(ds)
    out, encoding = _prepared(ds)
    if compute:
        with atomic_output(path, overwrite=overwrite) as tmp:
            _to_zarr(out, tmp, encoding, compute=True)
        return Path(path)
    final = check_can_write(path, overwrite=overwrite).absolute()
    final.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(final)
    staging = temporary_sibling(final, "pending")
    written = _to_zarr(out, staging, encoding, compute=False)
    return dask.delayed(_finalise)(written, staging, final, overwrite)


def open_image_store(path: str | os.PathLike, *, require_complete: bool = True) -> xr.Dataset:
    """Open an image store lazily (dask-backed) and check it against the schema.

    Parameters
    ----------
    path
        Store directory written by :func:`write_image_store`.
    require_complete
        Refuse a store without the completion marker.

    Returns
    -------
    xarray.Dataset
        As ``xarray.open_zarr(path)`` gives it, with the polarization names as ``str``.

    Raises
    ------
    InputError
        If the path is missing, is not a Zarr store or not an image product, or (with
        ``require_complete``) lacks the completion marker.
    """
    store = Path(path)
    if not store.exists():
        raise InputError(f"image store {store} does not exist")
    if not store.is_dir() or not any((store / n).is_file() for n in ("zarr.json", ".zgroup")):
        raise InputError(f"{store} is not a Zarr image store")
    if require_complete and not is_complete(store):
        raise InputError(f"{store} is an incomplete product (no completion marker)")
    try:
        ds = xr.open_zarr(store)
    except (OSError, ValueError, KeyError) as exc:
        raise InputError(f"cannot open image store {store}: {exc}") from None
    if "schema_version" not in ds.attrs:
        raise InputError(f"{store} is a Zarr store but not a vlassdask image product")
    ds = ds.assign_coords({name: [str(p) for p in ds[name].values] for name in _STRING_COORDS
                           if name in ds.coords})
    check_image(ds)
    return ds
