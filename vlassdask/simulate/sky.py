"""Sky models for the simulator: point and Gaussian sources with spectra and polarisation.

A sky model is a table, one row per source, with the columns of :data:`SKY_COLUMNS`:

================ ======= ==========================================================================
column           unit    meaning
================ ======= ==========================================================================
ra_deg           deg     ICRS right ascension (required)
dec_deg          deg     ICRS declination (required)
flux_jy          Jy      Stokes I integrated flux density at the reference frequency, 3 GHz
                         (required)
spectral_index           alpha with S(nu) = flux_jy (nu / 3 GHz)^alpha (default 0)
major_arcsec     arcsec  Gaussian FWHM major axis (default 0: point source)
minor_arcsec     arcsec  Gaussian FWHM minor axis (default 0; must be <= major)
pa_deg           deg     position angle of the major axis, north through east (default 0)
pol_fraction             linear polarisation fraction p in [0, 1] (default 0)
pol_angle_deg    deg     polarisation angle chi_0 at wavelength 0 (default 0)
rotation_measure rad/m^2 Faraday rotation: chi = chi_0 + RM lambda^2 per channel, then Q = p I cos
                         2chi, U = p I sin 2chi (default 0)
circular_fraction        circular polarisation fraction v in [-1, 1]: V = v I (default 0);
                         p^2 + v^2 <= 1
================ ======= ==========================================================================

Stokes V is zero unless ``circular_fraction`` is given. Tables come from a pandas DataFrame or a
list of mappings; files (CSV with a header row of these names, or YAML: a list of mappings,
optionally under a top-level ``sources:`` or ``sky:`` key) are read by
:func:`vlassdask.io.config_files.load_sky_model`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from vlassdask.errors import InputError
from vlassdask.kernels.constants import SPEED_OF_LIGHT

#: Reference frequency of flux_jy and spectral_index, Hz.
SKY_REFERENCE_FREQUENCY_HZ = 3.0e9

#: Column names and their defaults (None: required).
SKY_COLUMNS: dict[str, float | None] = {
    "ra_deg": None,
    "dec_deg": None,
    "flux_jy": None,
    "spectral_index": 0.0,
    "major_arcsec": 0.0,
    "minor_arcsec": 0.0,
    "pa_deg": 0.0,
    "pol_fraction": 0.0,
    "pol_angle_deg": 0.0,
    "rotation_measure": 0.0,
    "circular_fraction": 0.0,
}


@dataclass(frozen=True)
class SkyModel:
    """A validated table of sources (see the module docstring for the columns).

    Attributes
    ----------
    table : pandas.DataFrame
        One row per source with exactly the columns of :data:`SKY_COLUMNS`, float64.
    """

    table: pd.DataFrame

    def __post_init__(self) -> None:
        object.__setattr__(self, "table", _normalise(self.table))

    def __len__(self) -> int:
        return len(self.table)

    @classmethod
    def from_records(cls, records: list[dict]) -> SkyModel:
        """Build from a list of mappings (one per source)."""
        return cls(pd.DataFrame.from_records(records, columns=_record_columns(records)))

    def column(self, name: str) -> NDArray[np.float64]:
        """One column as a float64 array, shape (source,)."""
        return self.table[name].to_numpy(dtype=np.float64)

    def stokes_per_channel(self, freqs_hz: NDArray[np.float64]) -> NDArray[np.float64]:
        """Intrinsic (not beam-weighted) Stokes I, Q, U, V per source and channel.

        Parameters
        ----------
        freqs_hz
            Channel frequencies, shape (chan,).

        Returns
        -------
        numpy.ndarray
            Flux densities in Jy, shape (source, chan, 4), Stokes order (I, Q, U, V):
            Q + iU = p I exp(2i chi) with chi = pol_angle_deg + RM lambda^2, V = v I.
        """
        ratio = np.asarray(freqs_hz, dtype=np.float64)[None, :] / SKY_REFERENCE_FREQUENCY_HZ
        stokes_i = self.column("flux_jy")[:, None] * ratio ** self.column("spectral_index")[:, None]
        wavelength2 = (SPEED_OF_LIGHT / np.asarray(freqs_hz, dtype=np.float64))[None, :] ** 2
        chi = (np.radians(self.column("pol_angle_deg"))[:, None]
               + self.column("rotation_measure")[:, None] * wavelength2)
        polarised = self.column("pol_fraction")[:, None] * stokes_i
        out = np.empty(stokes_i.shape + (4,), dtype=np.float64)
        out[..., 0] = stokes_i
        out[..., 1] = polarised * np.cos(2.0 * chi)
        out[..., 2] = polarised * np.sin(2.0 * chi)
        out[..., 3] = self.column("circular_fraction")[:, None] * stokes_i
        return out

    def gaussian_shape(self) -> NDArray[np.float64]:
        """Source shapes for the DFT kernel: (major FWHM rad, minor FWHM rad, PA rad).

        Returns
        -------
        numpy.ndarray
            Shape (source, 3).
        """
        arcsec = np.pi / (180.0 * 3600.0)
        return np.stack(
            [
                self.column("major_arcsec") * arcsec,
                self.column("minor_arcsec") * arcsec,
                np.radians(self.column("pa_deg")),
            ],
            axis=1,
        )


def _record_columns(records: list[dict]) -> list[str]:
    names = list(SKY_COLUMNS)
    for record in records:
        names.extend(k for k in record if k not in names)
    return names


def _normalise(table: pd.DataFrame) -> pd.DataFrame:
    if not isinstance(table, pd.DataFrame):
        raise InputError("a sky model must be a pandas DataFrame")
    unknown = sorted(set(map(str, table.columns)) - set(SKY_COLUMNS))
    if unknown:
        raise InputError(
            f"sky model: unknown column(s) {', '.join(unknown)}; expected {', '.join(SKY_COLUMNS)}"
        )
    out = pd.DataFrame(index=pd.RangeIndex(len(table)))
    for name, default in SKY_COLUMNS.items():
        if name in table.columns:
            values = pd.to_numeric(table[name].reset_index(drop=True), errors="coerce")
            if default is not None:
                values = values.fillna(default)
        elif default is None:
            raise InputError(f"sky model: required column {name!r} is missing")
        else:
            values = pd.Series(np.full(len(table), default))
        if values.isna().any():
            raise InputError(f"sky model: column {name!r} has missing or non-numeric values")
        out[name] = values.to_numpy(dtype=np.float64)
    _check_ranges(out)
    return out


def _check_ranges(table: pd.DataFrame) -> None:
    def bad(mask: pd.Series, message: str) -> None:
        if mask.any():
            rows = ", ".join(str(i) for i in np.flatnonzero(mask.to_numpy())[:5])
            raise InputError(f"sky model: {message} (row(s) {rows})")

    bad(~np.isfinite(table).all(axis=1), "values must be finite")
    bad((table.ra_deg < 0) | (table.ra_deg >= 360), "ra_deg must be in [0, 360)")
    bad(table.dec_deg.abs() > 90, "dec_deg must be in [-90, 90]")
    bad((table.major_arcsec < 0) | (table.minor_arcsec < 0), "axes must be >= 0")
    bad(table.minor_arcsec > table.major_arcsec, "minor_arcsec must not exceed major_arcsec")
    bad((table.pol_fraction < 0) | (table.pol_fraction > 1), "pol_fraction must be in [0, 1]")
    bad(table.circular_fraction.abs() > 1, "circular_fraction must be in [-1, 1]")
    bad(table.pol_fraction**2 + table.circular_fraction**2 > 1 + 1e-12,
        "pol_fraction^2 + circular_fraction^2 must not exceed 1")


def sky_from_records(records: object, what: str = "sky model") -> SkyModel:
    """A SkyModel from parsed YAML: a list of source mappings.

    Raises
    ------
    InputError
        If ``records`` is not a non-empty list of mappings or the table is invalid.
    """
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise InputError(f"{what} must hold a list of source mappings")
    return SkyModel.from_records(records)


def random_sky(
    n_sources: int,
    *,
    ra_deg: float,
    dec_deg: float,
    radius_deg: float = 0.25,
    min_flux_jy: float = 1e-3,
    max_flux_jy: float = 0.1,
    gaussian_fraction: float = 0.3,
    max_major_arcsec: float = 10.0,
    polarised_fraction: float = 0.2,
    seed: int = 0,
) -> SkyModel:
    """A seeded random sky, uniform on the sphere within ``radius_deg`` of a centre.

    Fluxes follow dN/dS ~ S^-2.5 (Euclidean counts) between ``min_flux_jy`` and ``max_flux_jy``;
    spectral indices N(-0.7, 0.2); a ``gaussian_fraction`` of sources are Gaussians with major
    axes up to ``max_major_arcsec``; a ``polarised_fraction`` have p in [0.01, 0.1].

    Returns
    -------
    SkyModel
        ``n_sources`` rows; identical for identical arguments.
    """
    rng = np.random.default_rng(np.random.SeedSequence([seed, 7]))
    cos_min = np.cos(np.radians(radius_deg))
    cos_r = 1.0 - rng.uniform(0.0, 1.0, n_sources) * (1.0 - cos_min)
    radius = np.arccos(cos_r)
    bearing = rng.uniform(0.0, 2.0 * np.pi, n_sources)
    dec0 = np.radians(dec_deg)
    dec = np.arcsin(np.sin(dec0) * cos_r + np.cos(dec0) * np.sin(radius) * np.cos(bearing))
    dra = np.arctan2(
        np.sin(bearing) * np.sin(radius) * np.cos(dec0), cos_r - np.sin(dec0) * np.sin(dec)
    )
    slope = -1.5
    u = rng.uniform(0.0, 1.0, n_sources)
    flux = (min_flux_jy**slope + u * (max_flux_jy**slope - min_flux_jy**slope)) ** (1.0 / slope)
    extended = rng.uniform(0.0, 1.0, n_sources) < gaussian_fraction
    major = np.where(extended, rng.uniform(1.0, max_major_arcsec, n_sources), 0.0)
    polarised = rng.uniform(0.0, 1.0, n_sources) < polarised_fraction
    table = pd.DataFrame(
        {
            "ra_deg": np.mod(ra_deg + np.degrees(dra), 360.0),
            "dec_deg": np.degrees(dec),
            "flux_jy": flux,
            "spectral_index": rng.normal(-0.7, 0.2, n_sources),
            "major_arcsec": major,
            "minor_arcsec": major * rng.uniform(0.3, 1.0, n_sources),
            "pa_deg": rng.uniform(0.0, 180.0, n_sources),
            "pol_fraction": np.where(polarised, rng.uniform(0.01, 0.1, n_sources), 0.0),
            "pol_angle_deg": rng.uniform(0.0, 180.0, n_sources),
        }
    )
    return SkyModel(table)
