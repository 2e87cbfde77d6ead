"""Component names from positions, as the CIRADA VLASS catalogs write them."""

from __future__ import annotations

import numpy as np

PREFIX = "VLASS"


def component_names(ra_deg: np.ndarray, dec_deg: np.ndarray, prefix: str = PREFIX) -> list[str]:
    """``'<prefix> Jhhmmss.ss+ddmmss.s'`` for each position, every field truncated (not rounded).

    Parameters
    ----------
    ra_deg, dec_deg
        Positions in degrees.
    prefix
        Catalog prefix.
    """
    ra_cs = np.floor(np.mod(np.asarray(ra_deg, dtype=float), 360.0) / 15.0 * 3600.0 * 100.0
                     + 1e-6).astype(np.int64)  # fmt: skip
    dec = np.asarray(dec_deg, dtype=float)
    dec_ds = np.floor(np.abs(dec) * 3600.0 * 10.0 + 1e-6).astype(np.int64)
    names = []
    for r, d, negative in zip(ra_cs, dec_ds, dec < 0, strict=True):
        hh, rest = divmod(int(r), 360000)
        mm, ss = divmod(rest, 6000)
        dd, rest = divmod(int(d), 36000)
        am, asec = divmod(rest, 600)
        sign = "-" if negative else "+"
        names.append(f"{prefix} J{hh:02d}{mm:02d}{ss // 100:02d}.{ss % 100:02d}"
                     f"{sign}{dd:02d}{am:02d}{asec // 10:02d}.{asec % 10:d}")
    return names
