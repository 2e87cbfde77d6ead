"""Read FITS images (VLASS archive images as users download them) lazily as image Datasets.

A VLASS/CASA image is a primary HDU with 2 to 4 axes: ``RA---SIN``, ``DEC--SIN`` and, in either
order, ``STOKES`` and ``FREQ`` (CASA's ``exportfits`` writes ``STOKES`` third for VLASS images).
:func:`open_fits_image` maps it onto the image schema of :mod:`vlassdask.io.image_schema`
(dims ``(time, frequency, polarization, l, m)``, indexed ``[..., x, y]``) without reading pixels:
every variable is a dask array whose chunks each open the file and read their own section, so a
graph can be shipped to distributed workers and peak memory is one chunk per task.

Companion images (rms, primary beam, residual) become the ``RMS``, ``PRIMARY_BEAM`` and
``RESIDUAL`` variables of the same Dataset; they must lie on the same pixel grid.
:func:`vlass_companions` finds them beside a VLASS image by its file name.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import dask.array as da
import numpy as np
import xarray as xr
from astropy.io import fits
from astropy.time import Time

from vlassdask.errors import InputError
from vlassdask.io.image_schema import make_image_dataset
from vlassdask.survey.product_names import parse_product_name

DEFAULT_CHUNK_PIXELS = 2048
DEFAULT_FREQUENCY_HZ = 3.0e9
COMPANION_VARIABLES = {"rms": "RMS", "pb": "PRIMARY_BEAM", "residual": "RESIDUAL"}
# Header cards not carried over: structure, and the plane axes (re-derived from the coordinates).
_DROPPED_KEYS = re.compile(r"^(SIMPLE|BITPIX|EXTEND|WCSAXES|NAXIS\d*|PC\d*_\d*|CD\d*_\d*|"
                           r"C(TYPE|RVAL|DELT|RPIX|UNIT|ROTA)[34]|HISTORY|COMMENT|)$")
# Tolerances for "same pixel grid": reference pixel and value, relative cell size.
_GRID_ATOL_PIXELS = 1e-3
_GRID_RTOL_CELL = 1e-6


#: Keywords that make astropy scale the stored values (then only ``section`` reads slices).
_SCALING_KEYWORDS = ("BSCALE", "BZERO", "BLANK")


class FitsSection:
    """A picklable array-like over a FITS primary HDU that reads only the requested section.

    Each ``__getitem__`` opens the file (memory-mapped) and copies the slice out of the memory map
    (through astropy's ``section`` interface for scaled integer data), so dask tasks built on it
    carry only the path, never the pixels.
    """

    def __init__(self, path: str | os.PathLike, shape: tuple[int, ...], dtype: np.dtype):
        self.path = str(path)
        self.shape = tuple(shape)
        self.dtype = np.dtype(dtype)
        self.ndim = len(self.shape)

    def __getitem__(self, key: Any) -> np.ndarray:
        with fits.open(self.path, memmap=True, lazy_load_hdus=True) as hdul:
            hdu = hdul[0]
            if any(k in hdu.header for k in _SCALING_KEYWORDS):
                block = np.asarray(hdu.section[key])
            else:  # unscaled: a slice of the memory map (section reads row by row), converted
                # from the file's big-endian values in the same pass as the copy
                return np.array(hdu.data[key], dtype=self.dtype)
        return block.astype(self.dtype, copy=False)


@dataclasses.dataclass(frozen=True)
class _FitsGrid:
    """What the header says about the pixel grid and the plane axes."""

    shape_xy: tuple[int, int]
    crpix_xy: tuple[float, float]
    cell_deg: float
    crval_deg: tuple[float, float]
    frequency_hz: float
    bandwidth_hz: float | None
    stokes: str
    numpy_order: tuple[str, ...]  # axis names of the data array, slowest first


_STOKES_NAMES = {1: "I", 2: "Q", 3: "U", 4: "V", -1: "RR", -2: "LL", -3: "RL", -4: "LR",
                 -5: "XX", -6: "YY", -7: "XY", -8: "YX"}  # fmt: skip


def _read_header(path: Path) -> fits.Header:
    if not path.exists():
        raise InputError(f"FITS image {path} does not exist")
    try:
        with fits.open(path, memmap=True, lazy_load_hdus=True) as hdul:
            header = hdul[0].header.copy()
    except (OSError, ValueError, TypeError) as exc:
        raise InputError(f"cannot read FITS image {path}: {exc}") from None
    if header.get("NAXIS", 0) < 2:
        raise InputError(f"{path} holds no image in its primary HDU (NAXIS < 2)")
    if header.get("BITPIX") not in (-32, -64):
        raise InputError(
            f"{path} has BITPIX {header.get('BITPIX')}; expected floating-point pixels (-32/-64)"
        )
    return header


def _grid(path: Path, header: fits.Header) -> _FitsGrid:
    naxis = int(header["NAXIS"])
    ctypes = [str(header.get(f"CTYPE{i}", "")).upper() for i in range(1, naxis + 1)]
    if ctypes[0] != "RA---SIN" or ctypes[1] != "DEC--SIN":
        raise InputError(
            f"{path}: axes 1-2 are {ctypes[:2]}; expected RA---SIN, DEC--SIN (a VLASS/CASA image)"
        )
    for i in range(1, 3):
        for j in range(1, 3):
            pc = float(header.get(f"PC{i}_{j}", header.get(f"PC0{i}_0{j}", float(i == j))))
            if abs(pc - float(i == j)) > 1e-9 or f"CD{i}_{j}" in header:
                raise InputError(f"{path}: rotated or CD-matrix pixel grids are not supported")
    cdelt1, cdelt2 = float(header["CDELT1"]), float(header["CDELT2"])
    if not (cdelt1 < 0 < cdelt2 and abs(-cdelt1 - cdelt2) <= _GRID_RTOL_CELL * cdelt2):
        raise InputError(
            f"{path}: pixels must be square with RA increasing to the left "
            f"(CDELT1 = -CDELT2 < 0); got CDELT1={cdelt1}, CDELT2={cdelt2}"
        )
    names = ["x", "y"]
    frequency, bandwidth, stokes = DEFAULT_FREQUENCY_HZ, None, "I"
    for axis in range(3, naxis + 1):
        ctype, length = ctypes[axis - 1], int(header[f"NAXIS{axis}"])
        if ctype == "FREQ":
            names.append("frequency")
            frequency = _axis_value(header, axis)
            bandwidth = float(header.get(f"CDELT{axis}", 0.0)) or None
        elif ctype == "STOKES":
            names.append("polarization")
            code = int(round(_axis_value(header, axis)))
            if code not in _STOKES_NAMES:
                raise InputError(f"{path}: unknown Stokes code {code}")
            stokes = _STOKES_NAMES[code]
        else:
            raise InputError(f"{path}: unsupported axis {axis} of type {ctype!r}")
        if length != 1:
            raise InputError(
                f"{path}: axis {ctype} has {length} planes; only single-plane images are read "
                "(select one plane per file)"
            )
    return _FitsGrid(
        shape_xy=(int(header["NAXIS1"]), int(header["NAXIS2"])),
        crpix_xy=(float(header["CRPIX1"]), float(header["CRPIX2"])),
        cell_deg=cdelt2,
        crval_deg=(float(header["CRVAL1"]), float(header["CRVAL2"])),
        frequency_hz=frequency,
        bandwidth_hz=bandwidth,
        stokes=stokes,
        numpy_order=tuple(reversed(names)),
    )


def _axis_value(header: fits.Header, axis: int) -> float:
    """World value of the (single) pixel of a plane axis."""
    crval = float(header.get(f"CRVAL{axis}", 0.0))
    cdelt = float(header.get(f"CDELT{axis}", 1.0))
    crpix = float(header.get(f"CRPIX{axis}", 1.0))
    return crval + (1.0 - crpix) * cdelt


def _observing_mjd(header: fits.Header) -> float:
    if "MJD-OBS" in header:
        return float(header["MJD-OBS"])
    if "DATE-OBS" in header:
        try:
            return float(Time(str(header["DATE-OBS"]), scale="utc").mjd)
        except ValueError:
            pass
    return 0.0


def _lazy_plane(path: Path, header: fits.Header, grid: _FitsGrid, chunks: int) -> da.Array:
    """The image as a dask array of shape ``(nx, ny)`` indexed ``[x, y]``."""
    shape = tuple(int(header[f"NAXIS{i}"]) for i in range(int(header["NAXIS"]), 0, -1))
    dtype = np.dtype(np.float32 if header["BITPIX"] == -32 else np.float64)
    array_chunks = tuple(1 if n in ("frequency", "polarization") else chunks
                         for n in grid.numpy_order)  # fmt: skip
    array = da.from_array(
        FitsSection(path, shape, dtype),
        chunks=array_chunks,
        name=f"fits-{path.name}-{os.stat(path).st_mtime_ns}",
        meta=np.empty((0,) * len(shape), dtype=dtype),
        lock=False,
    )
    # Drop the length-1 plane axes, then go from FITS order [y, x] to the schema's [x, y].
    index = tuple(0 if n in ("frequency", "polarization") else slice(None)
                  for n in grid.numpy_order)  # fmt: skip
    return array[index].T


def _same_grid(a: _FitsGrid, b: _FitsGrid) -> bool:
    return (
        a.shape_xy == b.shape_xy
        and np.allclose(a.crpix_xy, b.crpix_xy, rtol=0, atol=_GRID_ATOL_PIXELS)
        and abs(a.cell_deg - b.cell_deg) <= _GRID_RTOL_CELL * a.cell_deg
        and np.allclose(a.crval_deg, b.crval_deg, rtol=0, atol=_GRID_ATOL_PIXELS * a.cell_deg)
    )


def _beam(header: fits.Header) -> dict[str, float] | None:
    if "BMAJ" not in header or "BMIN" not in header:
        return None
    return {
        "major_arcsec": float(header["BMAJ"]) * 3600.0,
        "minor_arcsec": float(header["BMIN"]) * 3600.0,
        "pa_deg": float(header.get("BPA", 0.0)),
    }


def open_fits_image(
    path: str | os.PathLike,
    *,
    rms: str | os.PathLike | None = None,
    pb: str | os.PathLike | None = None,
    residual: str | os.PathLike | None = None,
    chunks: int = DEFAULT_CHUNK_PIXELS,
) -> xr.Dataset:
    """Open a FITS image (and its companions) lazily as an image Dataset of kind ``"image"``.

    Parameters
    ----------
    path
        The image (``SKY``), e.g. ``VLASS2.1.ql.T08t10.J061820-113000.10.2048.v1.I.iter1.image.
        pbcor.tt0.subim.fits``: a primary HDU with axes RA---SIN, DEC--SIN and optionally
        single-plane STOKES and FREQ axes, floating-point pixels.
    rms, pb, residual
        Companion images on the same pixel grid, stored as ``RMS``, ``PRIMARY_BEAM`` and
        ``RESIDUAL``.
    chunks
        Chunk size in pixels along x and y.

    Returns
    -------
    xarray.Dataset
        Dask-backed; nothing is read but the headers. ``l``/``m`` follow the file's reference
        pixel (which need not be the centre); ``attrs["fits_header"]`` keeps the file's header
        cards (BUNIT included), ``attrs["restoring_beam"]`` its BMAJ/BMIN/BPA,
        ``attrs["source_files"]`` the file of each variable and each variable's
        ``attrs["fits_bunit"]`` the unit its file declares.

    Raises
    ------
    InputError
        A missing or unreadable file, an unsupported header (not SIN, rotated, several planes,
        integer pixels) or a companion on a different grid.
    """
    files = {"SKY": Path(path)}
    files.update({COMPANION_VARIABLES[k]: Path(v) for k, v in
                  (("rms", rms), ("pb", pb), ("residual", residual)) if v is not None})  # fmt: skip
    headers = {name: _read_header(file) for name, file in files.items()}
    grids = {name: _grid(files[name], header) for name, header in headers.items()}
    sky = grids["SKY"]
    for name, grid in grids.items():
        if not _same_grid(sky, grid):
            raise InputError(
                f"{files[name]} ({name}) is not on the pixel grid of {files['SKY']}: "
                f"shape {grid.shape_xy} vs {sky.shape_xy}, CRPIX {grid.crpix_xy} vs "
                f"{sky.crpix_xy}, CRVAL {grid.crval_deg} vs {sky.crval_deg}"
            )
    variables = {name: _lazy_plane(files[name], headers[name], grids[name], chunks)
                 for name in files}  # fmt: skip
    header = headers["SKY"]
    keep = {k: v for k, v in header.items() if not _DROPPED_KEYS.match(k)}
    if sky.bandwidth_hz is not None:
        keep["CDELT3"] = sky.bandwidth_hz
    cell_rad = np.radians(sky.cell_deg)
    ds = make_image_dataset(
        variables,
        cell_rad=cell_rad,
        phase_center_rad=(np.radians(sky.crval_deg[0]), np.radians(sky.crval_deg[1])),
        frequency_hz=[sky.frequency_hz],
        polarization=[sky.stokes],
        time_mjd=[_observing_mjd(header)],
        product_kind="image",
        attrs={
            "fits_header": _header_keys(keep),
            "restoring_beam": _beam(header),
            "history": [f"read from FITS {files['SKY'].name}"],
            "source_files": {name: str(file.absolute()) for name, file in files.items()},
        },
    )
    nx, ny = sky.shape_xy
    ds = ds.assign_coords(
        l=("l", -(np.arange(nx) - (sky.crpix_xy[0] - 1.0)) * cell_rad, ds["l"].attrs),
        m=("m", (np.arange(ny) - (sky.crpix_xy[1] - 1.0)) * cell_rad, ds["m"].attrs),
    )
    for name, hdr in headers.items():
        ds[name].attrs["fits_bunit"] = str(hdr.get("BUNIT", ""))
    return ds


def _header_keys(keys: Mapping[str, Any]) -> dict[str, Any]:
    """Header cards as JSON-compatible values (astropy's undefined values become None)."""
    out: dict[str, Any] = {}
    for key, value in keys.items():
        if isinstance(value, bool | int | float | str):
            out[key] = value
        elif value is not None and not isinstance(value, fits.card.Undefined):
            out[key] = str(value)
    return out


def vlass_companions(path: str | os.PathLike) -> dict[str, Path]:
    """The rms, primary-beam and residual images that lie beside a VLASS image.

    Names follow the VLASS archive layout (:mod:`vlassdask.survey.product_names`): for
    ``<stem>.image.pbcor.tt0.subim.fits`` they are ``<stem>.image.pbcor.tt0.rms.subim.fits``,
    ``<stem>.pb.tt0.subim.fits`` and ``<stem>.residual.tt0.subim.fits``.

    Returns
    -------
    dict
        Keys among ``"rms"``, ``"pb"``, ``"residual"``, only for files that exist; empty when
        ``path`` does not have a VLASS product name.
    """
    path = Path(path)
    try:
        name = parse_product_name(path.name)
    except InputError:
        return {}
    candidates = {
        "rms": dataclasses.replace(name, rms=True),
        "pb": dataclasses.replace(name, image_type="pb", rms=False),
        "residual": dataclasses.replace(name, image_type="residual", rms=False),
    }
    found = {}
    for key, companion in candidates.items():
        candidate = path.with_name(companion.file_name)
        if candidate != path and candidate.exists():
            found[key] = candidate
    return found

