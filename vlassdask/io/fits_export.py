"""FITS export of image products, laid out as CASA and WSClean write them.

Each exported variable becomes one FITS file whose primary HDU holds the data as
``[stokes, frequency, y, x]`` (FITS ``NAXIS1`` is x, the ``l`` index) under a 4-axis header
``RA---SIN``, ``DEC--SIN``, ``FREQ``, ``STOKES`` with ``CDELT1 < 0`` (RA increases to the left)
and ``CRPIX1/2`` at the phase centre. The header comes from
:func:`vlassdask.io.image_schema.wcs_header`, so a position correction recorded in
``attrs["fits_header"]`` (CRVAL1/2) and the ``attrs["history"]`` lines (as HISTORY cards) reach
the file. Planes are streamed one at a time: peak memory is one ``nx x ny`` plane.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import xarray as xr
from astropy.io import fits

from vlassdask.errors import InputError
from vlassdask.io.atomic import atomic_output, check_can_write
from vlassdask.io.image_schema import IMAGE_DIMS, VARIABLES, wcs_header
from vlassdask.io.image_store import open_image_store


def fits_paths(out: str | os.PathLike, variables: Sequence[str]) -> list[Path]:
    """Output file of each variable: ``out`` itself for one variable, else ``<stem>.<var>.fits``.

    ``<stem>`` is ``out`` without a ``.fits`` suffix and ``<var>`` the variable name in lower case
    (``img.fits`` with SKY and RMS gives ``img.sky.fits`` and ``img.rms.fits``).
    """
    out = Path(out)
    if len(variables) == 1:
        return [out]
    stem = out.name[: -len(".fits")] if out.name.lower().endswith(".fits") else out.name
    return [out.with_name(f"{stem}.{name.lower()}.fits") for name in variables]


def _variable_header(ds: xr.Dataset, name: str, data_dtype: np.dtype) -> fits.Header:
    wcs = wcs_header(ds)
    header = fits.Header()
    header["SIMPLE"] = True
    header["BITPIX"] = {"float32": -32, "float64": -64, "uint8": 8}[data_dtype.name]
    header["NAXIS"] = 4
    for axis, dim in enumerate(("l", "m", "frequency", "polarization"), start=1):
        header[f"NAXIS{axis}"] = ds.sizes[dim]
    header["EXTEND"] = True
    header.extend(wcs.cards)
    header["BUNIT"] = VARIABLES[name].units
    if VARIABLES[name].units.startswith("Jy"):
        header["BTYPE"] = "Intensity"
    else:
        header.remove("BTYPE", ignore_missing=True)
    beam = ds.attrs.get("restoring_beam")
    if _has_beam_table(ds, name):
        header["CASAMBM"] = (True, "one restoring beam per plane (BEAMS table)")
    if beam:
        header["BMAJ"] = beam["major_arcsec"] / 3600.0
        header["BMIN"] = beam["minor_arcsec"] / 3600.0
        header["BPA"] = beam["pa_deg"]
    header["DATE"] = datetime.now(timezone.utc).isoformat(timespec="seconds")[:19]
    header["COMMENT"] = f"vlassdask {ds.attrs.get('product_kind', '')} product, variable {name}"
    for line in ds.attrs.get("history") or []:
        header.add_history(str(line))
    return header


def _write_variable(ds: xr.Dataset, name: str, path: Path) -> None:
    var = ds[name].isel(time=0)
    dtype = np.dtype(np.uint8) if var.dtype == bool else var.dtype
    stream = fits.StreamingHDU(path, _variable_header(ds, name, dtype))
    try:
        for ipol in range(ds.sizes["polarization"]):
            for ifreq in range(ds.sizes["frequency"]):
                plane = var.isel(polarization=ipol, frequency=ifreq).transpose("m", "l")
                stream.write(np.ascontiguousarray(plane.values, dtype=dtype))
    finally:
        stream.close()
    if _has_beam_table(ds, name):
        with fits.open(path, mode="append") as hdul:
            hdul.append(_beams_table(ds))


def _has_beam_table(ds: xr.Dataset, name: str) -> bool:
    """True for a Jy/beam variable of a product with a beam per plane and several planes."""
    return ("BEAM" in ds.data_vars and VARIABLES[name].units == "Jy/beam"
            and ds.sizes["frequency"] * ds.sizes["polarization"] > 1)


def _beams_table(ds: xr.Dataset) -> fits.BinTableHDU:
    """CASA's per-plane beam table (EXTNAME BEAMS; BMAJ/BMIN arcsec, BPA deg, CHAN, POL)."""
    beam = ds["BEAM"].isel(time=0).transpose("polarization", "frequency", "beam_param").values
    npol, nchan = beam.shape[:2]
    pol, chan = np.meshgrid(np.arange(npol), np.arange(nchan), indexing="ij")
    hdu = fits.BinTableHDU.from_columns([
        fits.Column("BMAJ", "E", unit="arcsec", array=beam[..., 0].ravel()),
        fits.Column("BMIN", "E", unit="arcsec", array=beam[..., 1].ravel()),
        fits.Column("BPA", "E", unit="deg", array=beam[..., 2].ravel()),
        fits.Column("CHAN", "J", array=chan.ravel()),
        fits.Column("POL", "J", array=pol.ravel()),
    ], name="BEAMS")
    hdu.header["NCHAN"] = nchan
    hdu.header["NPOL"] = npol
    return hdu


def export_fits(
    source: xr.Dataset | str | os.PathLike,
    out: str | os.PathLike,
    *,
    variables: Sequence[str] = ("SKY",),
    overwrite: bool = False,
) -> list[Path]:
    """Write image variables of a product as FITS files.

    Parameters
    ----------
    source
        An image Dataset or the path of an image store.
    out
        Output FITS path; with several variables, the files are named as :func:`fits_paths` says.
    variables
        Image variables to export (dims ``(time, frequency, polarization, l, m)``); default SKY.
    overwrite
        Replace existing files. Without it nothing is written if any output exists.

    Returns
    -------
    list of pathlib.Path
        The files written, in the order of ``variables``.

    Raises
    ------
    InputError
        Unknown or non-image variables, more than one time, or polarizations that cannot form
        one FITS Stokes axis.
    ProductExistsError
        If an output exists and ``overwrite`` is false.
    """
    ds = source if isinstance(source, xr.Dataset) else open_image_store(source)
    names = list(variables)
    if not names:
        raise InputError("no variables to export")
    for name in names:
        if name not in ds.data_vars:
            raise InputError(
                f"variable {name!r} is not in the image (it has {sorted(map(str, ds.data_vars))})"
            )
        if ds[name].dims != IMAGE_DIMS:
            raise InputError(f"variable {name!r} is not an image (dims {ds[name].dims})")
    if ds.sizes["time"] != 1:
        raise InputError(f"FITS export needs one time; select one of {ds.sizes['time']}")
    wcs_header(ds)
    paths = fits_paths(out, names)
    sources = [] if isinstance(source, xr.Dataset) else [source]
    for path in paths:
        check_can_write(path, overwrite=overwrite, inputs=sources, kind="file")
    for name, path in zip(names, paths, strict=True):
        with atomic_output(path, overwrite=overwrite, directory=False) as tmp:
            _write_variable(ds, name, tmp)
    return paths
