"""Sky coordinates as VLASS writes them: sexagesimal input, ``Jhhmmss+ddmmss`` names, SIN offsets.

All angles are degrees unless a name says otherwise; RA/Dec are ICRS/J2000 as in the image headers.
"""

from __future__ import annotations

import re

import numpy as np
from numpy.typing import ArrayLike

from vlassdask.errors import InputError

_SEXAGESIMAL = re.compile(
    r"^\s*(?P<sign>[+-]?)\s*(?P<a>\d{1,3})\s*[:hd\u00b0 ]\s*(?P<b>\d{1,2})\s*[:m'\u2032 ]\s*"
    r"(?P<c>\d{1,2}(?:\.\d*)?)\s*[s\"\u2033]?\s*$"
)
_DECIMAL = re.compile(r"^\s*[+-]?(\d+(\.\d*)?|\.\d+)\s*(deg|d)?\s*$")
_JNAME = re.compile(r"^J(\d{2})(\d{2})(\d{2})([+-])(\d{2})(\d{2})(\d{2})$")


def _parse_angle(text: str, what: str, *, hours: bool) -> float:
    text = text.replace("\u2212", "-")
    match = _SEXAGESIMAL.match(text)
    if match:
        a, b, c = int(match["a"]), int(match["b"]), float(match["c"])
        if b >= 60 or c >= 60:
            raise InputError(f"malformed {what} {text!r}: minutes and seconds must be below 60")
        value = (a + b / 60.0 + c / 3600.0) * (15.0 if hours else 1.0)
        return -value if match["sign"] == "-" else value
    if _DECIMAL.match(text):
        return float(text.strip().removesuffix("deg").removesuffix("d"))
    form = "hh:mm:ss[.s] (hours)" if hours else "[+-]dd:mm:ss[.s]"
    raise InputError(f"malformed {what} {text!r}: expected {form} or decimal degrees")


def parse_ra(text: str) -> float:
    """RA in degrees from ``hh:mm:ss.s`` / ``hh mm ss`` / ``15h26m14s`` (hours) or decimal degrees.

    Raises
    ------
    InputError
        If the text is malformed or the RA is outside [0, 360) deg.
    """
    ra = _parse_angle(text, "RA", hours=True)
    if not 0.0 <= ra < 360.0:
        raise InputError(f"RA {text!r} is outside 0h..24h (0..360 deg)")
    return ra


def parse_dec(text: str) -> float:
    """Dec in degrees from ``[+-]dd:mm:ss.s`` / ``-16d30m00s`` or decimal degrees.

    Raises
    ------
    InputError
        If the text is malformed or the Dec is outside -40..+90 deg (the survey).
    """
    dec = _parse_angle(text, "Dec", hours=False)
    if not -40.0 <= dec <= 90.0:
        raise InputError(f"Dec {text!r} is outside the survey (VLASS covers Dec -40 to +90 deg)")
    return dec


def jname(ra_deg: ArrayLike, dec_deg: ArrayLike) -> np.ndarray:
    """VLASS phase-centre names ``Jhhmmss+ddmmss``, vectorised.

    Each field is truncated, after rounding the position to milliseconds of time (RA) and of arc
    (Dec): RA 15h26m14.508s, Dec -16d30m00s gives ``J152614-163000``.

    Parameters
    ----------
    ra_deg, dec_deg
        Positions in degrees (broadcast together).

    Returns
    -------
    numpy.ndarray
        Names (``<U14``) with the broadcast shape.
    """
    ra, dec = np.broadcast_arrays(np.asarray(ra_deg, float), np.asarray(dec_deg, float))
    ra_ms = np.rint(np.mod(ra, 360.0) / 15.0 * 3.6e6).astype(np.int64) % 86_400_000
    dec_mas = np.rint(np.abs(dec) * 3.6e6).astype(np.int64)
    hh, rem = np.divmod(ra_ms, 3_600_000)
    mm, rem = np.divmod(rem, 60_000)
    ss = rem // 1000
    dd, rem = np.divmod(dec_mas, 3_600_000)
    am, rem = np.divmod(rem, 60_000)
    asec = rem // 1000
    sign = np.where((dec < 0) & (dec_mas > 0), "-", "+")

    def two(x: np.ndarray) -> np.ndarray:
        return np.char.zfill(x.astype(str), 2)

    parts = ["J", two(hh), two(mm), two(ss), sign, two(dd), two(am), two(asec)]
    out = parts[0]
    for part in parts[1:]:
        out = np.char.add(out, part)
    return np.asarray(out, dtype="<U14")


def parse_jname(name: str) -> tuple[float, float]:
    """RA, Dec (deg) of the truncated fields of a ``Jhhmmss+ddmmss`` name.

    Raises
    ------
    InputError
        If the name is malformed.
    """
    match = _JNAME.match(name)
    if not match:
        raise InputError(f"malformed phase-centre name {name!r}: expected Jhhmmss+ddmmss")
    h, m, s, sign, d, am, asec = match.groups()
    if int(h) >= 24 or int(m) >= 60 or int(s) >= 60 or int(am) >= 60 or int(asec) >= 60:
        raise InputError(f"malformed phase-centre name {name!r}: field out of range")
    ra = (int(h) + int(m) / 60 + int(s) / 3600) * 15.0
    dec = int(d) + int(am) / 60 + int(asec) / 3600
    return ra, -dec if sign == "-" else dec


def sin_offsets(
    ra_deg: ArrayLike, dec_deg: ArrayLike, ra0_deg: ArrayLike, dec0_deg: ArrayLike
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Direction cosines of positions about a phase centre (SIN projection), vectorised.

    Returns
    -------
    l, m : numpy.ndarray
        Offsets in radians, ``l`` towards east (increasing RA), ``m`` towards north.
    front : numpy.ndarray of bool
        True where the position is in the hemisphere about the phase centre (``n > 0``).
    """
    ra, dec = np.radians(ra_deg), np.radians(dec_deg)
    ra0, dec0 = np.radians(ra0_deg), np.radians(dec0_deg)
    dra = ra - ra0
    l_ = np.cos(dec) * np.sin(dra)
    m_ = np.sin(dec) * np.cos(dec0) - np.cos(dec) * np.sin(dec0) * np.cos(dra)
    n_ = np.sin(dec) * np.sin(dec0) + np.cos(dec) * np.cos(dec0) * np.cos(dra)
    return l_, m_, n_ > 0
