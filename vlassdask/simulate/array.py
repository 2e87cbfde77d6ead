"""The VLA: site constants (SPEC.md "Observing set-up") and the B-configuration antenna table."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import numpy as np
from astropy import units as u
from astropy.coordinates import EarthLocation
from numpy.typing import NDArray

from vlassdask.survey.site import VLA_SITE

#: VLA site (one definition: :data:`vlassdask.survey.site.VLA_SITE`), degrees and metres.
VLA_LONGITUDE_DEG = VLA_SITE.lon_deg
VLA_LATITUDE_DEG = VLA_SITE.lat_deg
VLA_HEIGHT_M = VLA_SITE.height_m
TELESCOPE_NAME = "VLA"


def vla_location() -> EarthLocation:
    """The VLA site as an astropy EarthLocation (geodetic, WGS84)."""
    return EarthLocation.from_geodetic(
        lon=VLA_LONGITUDE_DEG * u.deg, lat=VLA_LATITUDE_DEG * u.deg, height=VLA_HEIGHT_M * u.m
    )


@dataclass(frozen=True)
class AntennaArray:
    """Antenna positions and properties.

    Attributes
    ----------
    names : tuple of str
        Antenna names (``ea01``...), length (antenna,).
    stations : tuple of str
        Pad names (``W04``...), length (antenna,).
    positions_itrf_m : numpy.ndarray
        ITRF XYZ positions in metres, shape (antenna, 3).
    dish_diameter_m : numpy.ndarray
        Dish diameters in metres, shape (antenna,).
    """

    names: tuple[str, ...]
    stations: tuple[str, ...]
    positions_itrf_m: NDArray[np.float64]
    dish_diameter_m: NDArray[np.float64]

    @property
    def n_antennas(self) -> int:
        """Number of antennas."""
        return len(self.names)

    def baselines(self) -> tuple[NDArray[np.int32], NDArray[np.int32]]:
        """Antenna index pairs (ANTENNA1 < ANTENNA2), no auto-correlations.

        Returns
        -------
        tuple of numpy.ndarray
            ``(antenna1, antenna2)``, each shape (baseline,) with baseline = n(n-1)/2, ordered
            by antenna1 then antenna2.
        """
        a1, a2 = np.triu_indices(self.n_antennas, k=1)
        return a1.astype(np.int32), a2.astype(np.int32)


@lru_cache(maxsize=1)
def load_vla_b_configuration() -> AntennaArray:
    """Read the VLA B configuration from the package data file ``data/vla_b_config.txt``.

    Returns
    -------
    AntennaArray
        27 antennas of 25 m; names ``ea01``-``ea27`` in file order, stations from the file.
    """
    text = resources.files("vlassdask").joinpath("data/vla_b_config.txt").read_text()
    positions, diameters, stations = [], [], []
    for line in text.splitlines():
        fields = line.split()
        if not fields or fields[0].startswith("#"):
            continue
        positions.append([float(value) for value in fields[:3]])
        diameters.append(float(fields[3]))
        stations.append(fields[4])
    names = tuple(f"ea{i + 1:02d}" for i in range(len(stations)))
    return AntennaArray(
        names=names,
        stations=tuple(stations),
        positions_itrf_m=np.array(positions, dtype=np.float64),
        dish_diameter_m=np.array(diameters, dtype=np.float64),
    )


def select_antennas(array: AntennaArray, names: tuple[str, ...]) -> AntennaArray:
    """The antennas named (by name or station), in array order; all of them if ``names`` is empty.

    Raises
    ------
    ValueError
        If a name matches no antenna.
    """
    if not names:
        return array
    wanted = set(names)
    keep = [i for i in range(array.n_antennas) if {array.names[i], array.stations[i]} & wanted]
    found = {array.names[i] for i in keep} | {array.stations[i] for i in keep}
    missing = sorted(wanted - found)
    if missing:
        raise ValueError(f"unknown antenna(s): {', '.join(missing)}")
    return AntennaArray(
        names=tuple(array.names[i] for i in keep),
        stations=tuple(array.stations[i] for i in keep),
        positions_itrf_m=array.positions_itrf_m[keep],
        dish_diameter_m=array.dish_diameter_m[keep],
    )
