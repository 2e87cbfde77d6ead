"""The w-term position correction of 2-D (mosaic) gridded VLASS images.

Seeds eqs. 4-7: neglecting w shifts a source by ``l' - l = -(eps^2/2) tan(zeta) sin(chi)``,
``m' - m = -(eps^2/2) tan(zeta) cos(chi)`` with ``eps ~ 5.4'`` (``eps^2/2 = 0.2545"``). The
pipeline (VLASS Memo #14) uses an amplitude of 0.25 arcsec at 3 GHz scaled by ``(3 GHz / nu)^2``:

    shift = 0.25" tan(zeta) (3 GHz / nu)^2
    RA'  = RA  - shift sin(chi) / cos(Dec)
    Dec' = Dec - shift cos(chi)

with zeta and chi the zenith distance and parallactic angle of the phase centre at the mean
observing time (:mod:`vlassdask.survey.site`). The corrected centre replaces CRVAL1/CRVAL2; the
uncorrected one and the shift are recorded (HISTORY cards / ``attrs``) as the pipeline does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr
from astropy.io import fits
from astropy.time import Time
from numpy.typing import ArrayLike

from vlassdask.errors import ConfigError, InputError
from vlassdask.survey.site import VLA_SITE, Site, parallactic_angle, zenith_distance

DEFAULT_AMPLITUDE_ARCSEC = 0.25
"""Correction amplitude at the reference frequency and zeta = 45 deg (VLASS Memo #14)."""
REFERENCE_FREQUENCY_HZ = 3.0e9
"""Frequency at which the amplitude applies (the VLASS reference frequency)."""


def correction_magnitude(
    zenith_distance_deg: ArrayLike,
    freq_hz: ArrayLike = REFERENCE_FREQUENCY_HZ,
    *,
    amplitude_arcsec: float = DEFAULT_AMPLITUDE_ARCSEC,
) -> np.ndarray:
    """Size of the shift in arcsec: ``amplitude * tan(zeta) * (3 GHz / nu)^2``, vectorised.

    Raises
    ------
    ConfigError
        If a frequency is not positive or a zenith distance is not below 90 deg.
    """
    zd = np.asarray(zenith_distance_deg, dtype=float)
    freq = np.asarray(freq_hz, dtype=float)
    if np.any(~(freq > 0)):
        raise ConfigError("frequency must be positive (Hz)")
    if np.any(~(zd < 90.0)):
        raise ConfigError("the position correction needs a source above the horizon (zeta < 90)")
    return amplitude_arcsec * np.tan(np.radians(zd)) * (REFERENCE_FREQUENCY_HZ / freq) ** 2


@dataclass(frozen=True)
class PositionCorrection:
    """A w-term position correction (arrays broadcast over the inputs).

    Attributes
    ----------
    ra, dec
        Uncorrected position (deg).
    ra_corrected, dec_corrected
        Corrected position (deg).
    shift_arcsec
        Size of the shift (arcsec).
    east_arcsec, north_arcsec
        Shift on the sky towards east (``-shift sin(chi)``) and north (``-shift cos(chi)``).
    zenith_distance, parallactic_angle
        Geometry at the observing time (deg).
    mjd, freq_hz
        Observing time (UTC MJD) and frequency.
    """

    ra: np.ndarray
    dec: np.ndarray
    ra_corrected: np.ndarray
    dec_corrected: np.ndarray
    shift_arcsec: np.ndarray
    east_arcsec: np.ndarray
    north_arcsec: np.ndarray
    zenith_distance: np.ndarray
    parallactic_angle: np.ndarray
    mjd: np.ndarray
    freq_hz: np.ndarray

    def to_dict(self) -> dict[str, float | list[float]]:
        """JSON-compatible dict (floats for scalars, nested lists for arrays)."""
        return {k: np.asarray(v).tolist() for k, v in self.__dict__.items()}


def position_correction(
    ra_deg: ArrayLike,
    dec_deg: ArrayLike,
    mjd: ArrayLike,
    *,
    freq_hz: ArrayLike = REFERENCE_FREQUENCY_HZ,
    site: Site = VLA_SITE,
    lon_deg: ArrayLike | None = None,
    lat_deg: ArrayLike | None = None,
    amplitude_arcsec: float = DEFAULT_AMPLITUDE_ARCSEC,
    sidereal: str = "mean",
) -> PositionCorrection:
    """The w-term position correction of images centred at RA/Dec observed at ``mjd``.

    Parameters
    ----------
    ra_deg, dec_deg
        Uncorrected phase centres (deg; ICRS/J2000 with ``sidereal="mean"``).
    mjd
        Mean observing time, UTC MJD.
    freq_hz
        Image (plane) frequency; an array gives one correction per frequency (cube planes).
    site, lon_deg, lat_deg
        Observatory (VLA by default); ``lon_deg``/``lat_deg`` override the site's.
    amplitude_arcsec
        Shift at zeta = 45 deg and 3 GHz.
    sidereal
        ``"mean"`` or ``"apparent"`` sidereal time (see :mod:`vlassdask.survey.site`).

    Returns
    -------
    PositionCorrection
        Arrays with the broadcast shape of ``ra_deg, dec_deg, mjd, freq_hz``.
    """
    ra, dec, t, freq = np.broadcast_arrays(
        *(np.asarray(x, dtype=float) for x in (ra_deg, dec_deg, mjd, freq_hz))
    )
    kw = {"site": site, "lon_deg": lon_deg, "lat_deg": lat_deg, "sidereal": sidereal}
    zd = zenith_distance(ra, dec, t, **kw)
    chi = parallactic_angle(ra, dec, t, **kw)
    shift = correction_magnitude(zd, freq, amplitude_arcsec=amplitude_arcsec)
    east = -shift * np.sin(np.radians(chi))
    north = -shift * np.cos(np.radians(chi))
    ra_new = np.mod(ra + east / 3600.0 / np.cos(np.radians(dec)), 360.0)
    dec_new = dec + north / 3600.0
    return PositionCorrection(
        ra=ra,
        dec=dec,
        ra_corrected=ra_new,
        dec_corrected=dec_new,
        shift_arcsec=shift,
        east_arcsec=east,
        north_arcsec=north,
        zenith_distance=zd,
        parallactic_angle=chi,
        mjd=t,
        freq_hz=freq,
    )


def _header_mjd(header: Mapping[str, Any]) -> float:
    """Mean observing time from DATE-OBS and DATE-END (their midpoint)."""
    start, end = header.get("DATE-OBS"), header.get("DATE-END")
    if not start or not end:
        raise InputError(
            "the mean observing time is needed: pass mjd (the header lacks DATE-OBS/DATE-END)"
        )
    scale = str(header.get("TIMESYS", "UTC")).strip().lower()
    try:
        times = Time([str(start), str(end)], format="isot", scale=scale)
    except ValueError as exc:
        raise InputError(f"unreadable DATE-OBS/DATE-END in the header: {exc}") from None
    return float(np.mean(times.utc.mjd))


def _header_frequency(header: Mapping[str, Any]) -> float:
    """CRVAL3 when axis 3 is frequency, else the reference frequency."""
    if str(header.get("CTYPE3", "")).strip().upper().startswith("FREQ") and "CRVAL3" in header:
        return float(header["CRVAL3"])
    return REFERENCE_FREQUENCY_HZ


def _correct_header_values(
    header: Mapping[str, Any], mjd: float | None, freq_hz: float | None, options: dict[str, Any]
) -> tuple[PositionCorrection, list[str]]:
    for key in ("CRVAL1", "CRVAL2"):
        if key not in header:
            raise InputError(f"the image header has no {key}: cannot apply a position correction")
    t = _header_mjd(header) if mjd is None else float(mjd)
    freq = _header_frequency(header) if freq_hz is None else float(freq_hz)
    corr = position_correction(
        float(header["CRVAL1"]), float(header["CRVAL2"]), t, freq_hz=freq, **options
    )
    chi = np.radians(float(corr.parallactic_angle))
    shift = float(corr.shift_arcsec)
    history = [
        f"Uncorrected CRVAL1 = {float(corr.ra):.12E} deg",
        f"Uncorrected CRVAL2 = {float(corr.dec):.12E} deg",
        "ZD parameter represents the zenith distance of telescope pointing at TELMJD.",
        "TELMJD parameter represents the time of zenith distance and hour angle.",
        f"Position correction ({-shift * np.sin(chi):.3E}/cos(CRVAL2), "
        f"{-shift * np.cos(chi):.3E}) arcsec applied",
    ]
    return corr, history


def apply_position_correction_to_header(
    header: fits.Header,
    mjd: float | None = None,
    *,
    freq_hz: float | None = None,
    site: Site = VLA_SITE,
    amplitude_arcsec: float = DEFAULT_AMPLITUDE_ARCSEC,
    sidereal: str = "mean",
) -> fits.Header:
    """A copy of a FITS header with the position correction applied (as the NRAO pipeline does).

    CRVAL1/CRVAL2 get the corrected centre; ZD (deg) and TELMJD are set; HISTORY cards record the
    uncorrected CRVAL1/CRVAL2 and the shift (``Position correction (east/cos(CRVAL2), north)
    arcsec applied``).

    Parameters
    ----------
    header
        Image header with a celestial WCS (CRVAL1/CRVAL2 in deg).
    mjd
        Mean observing time (UTC MJD); default: midpoint of DATE-OBS and DATE-END.
    freq_hz
        Frequency; default CRVAL3 when axis 3 is FREQ, else 3 GHz.
    site, amplitude_arcsec, sidereal
        As :func:`position_correction`.

    Raises
    ------
    InputError
        If the header was corrected already, lacks CRVAL1/CRVAL2, or no time is known.
    """
    if any(str(h).startswith("Position correction ") for h in header.get("HISTORY", [])):
        raise InputError("the header already has a position correction applied")
    options = {"site": site, "amplitude_arcsec": amplitude_arcsec, "sidereal": sidereal}
    corr, history = _correct_header_values(header, mjd, freq_hz, options)
    out = header.copy()
    out["CRVAL1"] = float(corr.ra_corrected)
    out["CRVAL2"] = float(corr.dec_corrected)
    out["CUNIT1"] = "deg"
    out["CUNIT2"] = "deg"
    out["ZD"] = (float(corr.zenith_distance), "[deg] zenith distance at TELMJD")
    out["TELMJD"] = (float(corr.mjd), "[d] UTC MJD of ZD (mean observing time)")
    for line in history:
        out.add_history(line)
    return out


def apply_position_correction(
    ds: xr.Dataset,
    mjd: float | None = None,
    *,
    freq_hz: float | None = None,
    site: Site = VLA_SITE,
    amplitude_arcsec: float = DEFAULT_AMPLITUDE_ARCSEC,
    sidereal: str = "mean",
) -> xr.Dataset:
    """A new image Dataset with the position correction applied to its WCS.

    ``attrs["fits_header"]`` gets the corrected CRVAL1/CRVAL2 and ZD/TELMJD;
    ``attrs["position_correction"]`` records ``ra_uncorrected``, ``dec_uncorrected``,
    ``shift_arcsec``, ``east_arcsec``, ``north_arcsec``, ``zenith_distance_deg``,
    ``parallactic_angle_deg``, ``mjd``, ``freq_hz``; ``attrs["history"]`` gets the pipeline's
    history lines. The data variables are shared, not copied. Arguments as
    :func:`apply_position_correction_to_header`; a cube is corrected plane by plane by calling
    this on each frequency plane with that plane's ``freq_hz``.

    Raises
    ------
    InputError
        If the image was corrected already or its header lacks CRVAL1/CRVAL2, or no time is known.
    """
    if "position_correction" in ds.attrs:
        raise InputError("the image already has a position correction applied")
    header = ds.attrs.get("fits_header")
    if not isinstance(header, Mapping):
        raise InputError("the image has no fits_header attr: cannot apply a position correction")
    options = {"site": site, "amplitude_arcsec": amplitude_arcsec, "sidereal": sidereal}
    corr, history = _correct_header_values(header, mjd, freq_hz, options)
    new_header = dict(header)
    new_header.update(
        CRVAL1=float(corr.ra_corrected),
        CRVAL2=float(corr.dec_corrected),
        ZD=float(corr.zenith_distance),
        TELMJD=float(corr.mjd),
    )
    out = ds.copy(deep=False)
    out.attrs = dict(ds.attrs)
    out.attrs["fits_header"] = new_header
    out.attrs["history"] = [*ds.attrs.get("history", []), *history]
    out.attrs["position_correction"] = {
        "ra_uncorrected": float(corr.ra),
        "dec_uncorrected": float(corr.dec),
        "shift_arcsec": float(corr.shift_arcsec),
        "east_arcsec": float(corr.east_arcsec),
        "north_arcsec": float(corr.north_arcsec),
        "zenith_distance_deg": float(corr.zenith_distance),
        "parallactic_angle_deg": float(corr.parallactic_angle),
        "mjd": float(corr.mjd),
        "freq_hz": float(corr.freq_hz),
    }
    return out
