"""Small FITS images laid out as the VLASS archive serves them, for tests and benchmarks.

CASA's ``exportfits`` writes VLASS images with four axes ``RA---SIN, DEC--SIN, STOKES, FREQ``
(Stokes third), BMAJ/BMIN/BPA in degrees, ``BUNIT = 'Jy/beam'`` and ``RADESYS = 'FK5'``.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.time import Time


def write_vlass_fits(
    path: str | os.PathLike,
    image: np.ndarray,
    *,
    cell_arcsec: float = 1.0,
    center_deg: tuple[float, float] = (150.0, 30.0),
    crpix: tuple[float, float] | None = None,
    beam_arcsec: tuple[float, float, float] | None = (2.5, 2.2, 30.0),
    bunit: str = "Jy/beam",
    frequency_hz: float = 3.0e9,
    bandwidth_hz: float = 2.048e9,
    date_obs: str = "2019-05-01T03:04:05.000",
    stokes_third: bool = True,
) -> Path:
    """Write ``image`` (indexed ``[x, y]``) as a VLASS-style 4-axis FITS image.

    Parameters
    ----------
    path
        Output file (overwritten).
    image
        2-D pixel values, ``image[x, y]`` (stored as FITS ``data[0, 0, y, x]``).
    cell_arcsec, center_deg, crpix
        Square pixel size, the reference position (CRVAL1/2) and its 1-based reference pixel
        (default the pixel ``(nx//2, ny//2)``, i.e. ``CRPIX = n//2 + 1``).
    beam_arcsec
        ``(BMAJ, BMIN, BPA)`` in arcsec, arcsec and degrees; None writes no beam.
    bunit, frequency_hz, bandwidth_hz, date_obs
        Header values.
    stokes_third
        Axis 3 is STOKES and axis 4 FREQ (as VLASS files); False swaps them.
    """
    image = np.asarray(image)
    nx, ny = image.shape
    header = fits.Header()
    ref = crpix if crpix is not None else (nx // 2 + 1.0, ny // 2 + 1.0)
    axes = [("RA---SIN", center_deg[0], -cell_arcsec / 3600.0, ref[0], "deg"),
            ("DEC--SIN", center_deg[1], cell_arcsec / 3600.0, ref[1], "deg")]  # fmt: skip
    planes = [("STOKES", 1.0, 1.0, 1.0, ""), ("FREQ", frequency_hz, bandwidth_hz, 1.0, "Hz")]
    axes += planes if stokes_third else planes[::-1]
    for i, (ctype, crval, cdelt, crpix_i, cunit) in enumerate(axes, start=1):
        header[f"CTYPE{i}"] = ctype
        header[f"CRVAL{i}"] = crval
        header[f"CDELT{i}"] = cdelt
        header[f"CRPIX{i}"] = crpix_i
        header[f"CUNIT{i}"] = cunit
    header.update(RADESYS="FK5", EQUINOX=2000.0, BUNIT=bunit, DATE_OBS=date_obs,
                  TELESCOP="VLA", OBJECT="synthetic")  # fmt: skip
    header.rename_keyword("DATE_OBS", "DATE-OBS")
    header["MJD-OBS"] = Time(date_obs, scale="utc").mjd
    if beam_arcsec is not None:
        header.update(BMAJ=beam_arcsec[0] / 3600.0, BMIN=beam_arcsec[1] / 3600.0,
                      BPA=beam_arcsec[2])  # fmt: skip
    data = np.ascontiguousarray(image.T)[None, None]
    fits.PrimaryHDU(data=data, header=header).writeto(path, overwrite=True)
    return Path(path)
