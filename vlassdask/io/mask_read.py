"""Clean masks from FITS images (as CASA exports them) or image stores, with their pixel grid.

A mask is true where its pixel is non-zero. A FITS mask is the primary HDU of a RA---SIN /
DEC--SIN image of any numeric type, with at most single-plane FREQ/STOKES axes; an image store
gives its ``MASK`` variable, or else its ``SKY`` (first plane). :meth:`MaskFile.check_grid`
refuses a mask that is not on the image's pixel grid.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from astropy.io import fits

from vlassdask.errors import InputError
from vlassdask.io.image_store import open_image_store

#: Largest difference in cell size (relative) and phase centre (cells) still on the same grid.
_CELL_RTOL = 1e-6
_CENTER_CELLS = 1e-3


@dataclass(frozen=True)
class MaskFile:
    """A clean mask and the pixel grid it was drawn on.

    Attributes
    ----------
    path
        Where it was read from.
    mask : bool (nx, ny)
        Indexed [x, y] like image variables.
    cell_arcsec
        Pixel size.
    center_deg
        (RA, Dec) of the reference pixel.
    reference_pixel
        0-based (x, y) of the reference pixel.
    """

    path: Path
    mask: np.ndarray
    cell_arcsec: float
    center_deg: tuple[float, float]
    reference_pixel: tuple[float, float]

    def check_grid(self, shape: tuple[int, int], cell_arcsec: float,
                   center_deg: tuple[float, float]) -> np.ndarray:
        """The mask, if it lies on the grid of an image of ``shape`` (reference pixel
        ``(nx//2, ny//2)`` at ``center_deg``, cells of ``cell_arcsec``).

        Raises
        ------
        InputError
            Naming the first difference (size, cell, reference pixel or centre).
        """
        what = f"the mask {self.path}"
        if self.mask.shape != tuple(shape):
            raise InputError(f"{what} is {self.mask.shape[0]} x {self.mask.shape[1]} pixels; "
                             f"the image is {shape[0]} x {shape[1]}")
        if abs(self.cell_arcsec - cell_arcsec) > _CELL_RTOL * cell_arcsec:
            raise InputError(f"{what} has {self.cell_arcsec:.6g} arcsec cells; the image has "
                             f"{cell_arcsec:.6g} arcsec")
        if any(abs(p - n // 2) > _CENTER_CELLS for p, n in zip(self.reference_pixel, shape,
                                                                 strict=True)):
            raise InputError(f"{what} has its reference pixel at {self.reference_pixel} "
                             f"(0-based); the image has it at {(shape[0] // 2, shape[1] // 2)}")
        ra0, dec0 = (math.radians(v) for v in center_deg)
        ra1, dec1 = (math.radians(v) for v in self.center_deg)
        cos_sep = (math.sin(dec0) * math.sin(dec1)
                   + math.cos(dec0) * math.cos(dec1) * math.cos(ra1 - ra0))
        separation_arcsec = math.degrees(math.acos(min(1.0, cos_sep))) * 3600.0
        if separation_arcsec > _CENTER_CELLS * cell_arcsec:
            raise InputError(f"{what} is centred at RA {self.center_deg[0]:.6f}, Dec "
                             f"{self.center_deg[1]:.6f} deg, {separation_arcsec:.3g} arcsec from "
                             f"the image centre RA {center_deg[0]:.6f}, Dec "
                             f"{center_deg[1]:.6f} deg")
        return self.mask


def _fits_mask(path: Path) -> MaskFile:
    try:
        with fits.open(path) as hdul:
            header = hdul[0].header
            data = hdul[0].data
            data = None if data is None else np.array(data)
    except (OSError, ValueError, TypeError) as exc:
        raise InputError(f"cannot read the mask {path}: {exc}") from None
    if data is None or data.ndim < 2:
        raise InputError(f"the mask {path} holds no image in its primary HDU")
    if (header.get("CTYPE1"), header.get("CTYPE2")) != ("RA---SIN", "DEC--SIN"):
        raise InputError(f"the mask {path} has axes {header.get('CTYPE1')}, "
                         f"{header.get('CTYPE2')}; expected RA---SIN, DEC--SIN")
    if int(np.prod(data.shape[:-2])) != 1:
        raise InputError(f"the mask {path} has {int(np.prod(data.shape[:-2]))} planes; "
                         "give a single-plane mask")
    plane = data.reshape(data.shape[-2:]).T  # FITS [y, x] -> [x, y]
    try:
        cdelt1, cdelt2 = float(header["CDELT1"]), float(header["CDELT2"])
        crpix = (float(header["CRPIX1"]) - 1.0, float(header["CRPIX2"]) - 1.0)
        center = (float(header["CRVAL1"]) % 360.0, float(header["CRVAL2"]))
    except (KeyError, ValueError) as exc:
        raise InputError(f"the mask {path} lacks a usable WCS ({exc})") from None
    if not (cdelt1 < 0 < cdelt2 and abs(cdelt1 + cdelt2) <= _CELL_RTOL * cdelt2):
        raise InputError(f"the mask {path} must have square pixels with RA increasing to the "
                         f"left (CDELT1 = -CDELT2 < 0); got {cdelt1}, {cdelt2}")
    return MaskFile(path, _nonzero(plane, path), cdelt2 * 3600.0, center, crpix)


def _store_mask(path: Path) -> MaskFile:
    ds = open_image_store(path)
    name = "MASK" if "MASK" in ds.data_vars else "SKY"
    if name not in ds.data_vars:
        raise InputError(f"the image store {path} has neither a MASK nor a SKY variable")
    plane = np.asarray(ds[name].isel(time=0, frequency=0, polarization=0).values)
    l_rad, m_rad = ds["l"].values, ds["m"].values
    cell = float(m_rad[1] - m_rad[0])
    reference = (float(l_rad[0] / cell), float(-m_rad[0] / cell))
    ra, dec = (float(v) for v in ds.attrs["phase_center_deg"])
    return MaskFile(path, _nonzero(plane, path), math.degrees(cell) * 3600.0, (ra % 360.0, dec),
                    reference)


def _nonzero(plane: np.ndarray, path: Path) -> np.ndarray:
    if plane.dtype == bool:
        return np.ascontiguousarray(plane)
    if not np.issubdtype(plane.dtype, np.number):
        raise InputError(f"the mask {path} has non-numeric pixels ({plane.dtype})")
    if not np.isfinite(plane).all():
        raise InputError(f"the mask {path} has NaN or infinite pixels")
    return np.ascontiguousarray(plane != 0)


def read_mask(path: str | os.PathLike) -> MaskFile:
    """Read a clean mask from a FITS file or an image store (see the module docstring).

    Raises
    ------
    InputError
        A missing or unreadable file, no usable WCS, several planes, or NaN pixels.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"the mask {path} does not exist")
    return _store_mask(path) if path.is_dir() else _fits_mask(path)
