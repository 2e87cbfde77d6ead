"""Small readers shared by the simulator tests."""

import casacore.tables as ct
import numpy as np


def read_table(path, columns, subtable=None):
    """Columns of an MS (or one of its subtables) as numpy arrays."""
    name = f"{path}/{subtable}" if subtable else str(path)
    with ct.table(name, ack=False) as table:
        return {c: table.getcol(c) for c in columns}


def independent_uvw(time_mjd_s, antenna1, antenna2, positions, ra_deg, dec_deg):
    """UVW from astropy alone: GCRS antenna positions projected on SkyCoord basis vectors."""
    import astropy.units as u
    from astropy.coordinates import EarthLocation, SkyCoord
    from astropy.time import Time

    locations = EarthLocation.from_geocentric(*positions.T, unit=u.m)
    out = np.empty((time_mjd_s.size, 3))
    for t in np.unique(time_mjd_s):
        rows = np.flatnonzero(time_mjd_s == t)
        gcrs, _ = locations.get_gcrs_posvel(Time(t / 86400.0, format="mjd", scale="utc"))
        xyz = gcrs.xyz.to_value(u.m).T
        baseline = xyz[antenna2[rows]] - xyz[antenna1[rows]]
        ra, dec = ra_deg[rows][0], dec_deg[rows][0]
        basis = [
            SkyCoord(ra + 90.0, 0.0, unit="deg").cartesian.xyz.value,  # u: east
            _north(ra, dec),  # v: north
            SkyCoord(ra, dec, unit="deg").cartesian.xyz.value,  # w: source
        ]
        out[rows] = baseline @ np.array(basis).T
    return out


def _north(ra, dec):
    """Unit vector towards the north celestial pole projected at (ra, dec), via SkyCoord."""
    from astropy.coordinates import SkyCoord

    if dec >= 0:
        return SkyCoord(ra + 180.0, 90.0 - dec, unit="deg").cartesian.xyz.value
    return SkyCoord(ra, 90.0 + dec, unit="deg").cartesian.xyz.value
