"""Coarse-cube plane rejection (SPEC.md "Coarse cubes"; VLASS paper section 3.4).

A plane is one spectral window of a phase centre's cube (with its I, Q and U images). Before
imaging, a plane is *not imaged* when more than ``max_flagged_fields`` of the image's fields
have more than ``field_flag_fraction`` of their data in that spectral window flagged, or when
the spectral window is fully flagged. After imaging, a plane is *rejected* when the flagged
fraction of all its visibilities is at least ``spw_flag_fraction``, or when its restoring
beam's major or minor axis differs by more than ``beam_tolerance`` from the median beam over
the imaged planes scaled to the plane's frequency (axes proportional to 1 / frequency; by
default the scaling allows for the uv taper's constant width: :func:`fit_beam_model`).

:func:`flag_counts` is a lazy dask computation over the Measurement Set's flags (one small
task per row chunk and a tree sum): building it reads nothing.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import dask
import dask.array as da
import numpy as np
import xarray as xr

from vlassdask.errors import ConfigError, reject_unknown_keys
from vlassdask.imaging.graph import sum_arrays, tree_reduce
from vlassdask.imaging.visibilities import stokes_recipes

#: Plane statuses, as stored (``PLANE_STATUS``) and reported.
IMAGED, NOT_IMAGED, REJECTED = "imaged", "rejected before imaging", "rejected after imaging"
STATUS_CODES = {IMAGED: 0, NOT_IMAGED: 1, REJECTED: 2}
BEAM_MODELS = ("taper", "inverse-frequency")


@dataclass(frozen=True)
class PlaneRejectionConfig:
    """Thresholds of plane rejection (defaults: SPEC.md / the VLASS paper's starting values).

    Attributes
    ----------
    field_flag_fraction
        A field counts as flagged in a spectral window above this flagged fraction (0.9).
    max_flagged_fields
        More such fields than this: the plane is not imaged (12).
    spw_flag_fraction
        After imaging: a plane whose visibilities are at least this fraction flagged is
        rejected (0.8).
    beam_tolerance
        After imaging: relative difference of a beam axis from the beam expected at the
        plane's frequency above which the plane is rejected (0.2).
    beam_model
        How the expected beam follows frequency (:func:`fit_beam_model`): ``taper`` (default:
        ``axis^2 = A / nu^2 + C`` fitted robustly over the planes, which allows for the uv
        taper) or ``inverse-frequency`` (SPEC's median beam scaled as 1 / frequency, which
        with the 2" taper rejects healthy planes at the band edges: docs/coarse-cubes.md).
    """

    field_flag_fraction: float = 0.9
    max_flagged_fields: int = 12
    spw_flag_fraction: float = 0.8
    beam_tolerance: float = 0.2
    beam_model: str = "taper"

    def __post_init__(self) -> None:
        if self.beam_model not in BEAM_MODELS:
            raise ConfigError(f"rejection.beam_model must be one of {', '.join(BEAM_MODELS)}, "
                              f"got {self.beam_model!r}")
        for name in ("field_flag_fraction", "spw_flag_fraction", "beam_tolerance"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) \
                    or not math.isfinite(value) or not 0 < value <= 1:
                raise ConfigError(f"rejection.{name} must be a number in (0, 1], got "
                                  f"{value!r}")
        value = self.max_flagged_fields
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ConfigError(f"rejection.max_flagged_fields must be a whole number >= 0, got "
                              f"{value!r}")

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Any] | None) -> PlaneRejectionConfig:
        """Build from a YAML mapping, rejecting unknown keys."""
        mapping = dict(mapping or {})
        reject_unknown_keys(mapping, [f.name for f in dataclasses.fields(cls)],
                            "unknown rejection option(s):")
        return cls(**mapping)


def _chunk_counts(flag, flag_row, field_id, corr: list[int], n_fields: int) -> np.ndarray:
    """[flagged, total] (row, channel) samples per FIELD_ID of one row chunk; a sample is
    flagged where any of ``corr`` is (what imaging those Stokes parameters drops)."""
    flagged = np.logical_or.reduce([flag[..., c] for c in corr])
    if flag_row is not None:
        flagged |= flag_row[:, None]
    field_id = np.asarray(field_id, dtype=np.int64)
    out = np.zeros((n_fields, 2), dtype=np.int64)
    out[:, 0] = np.bincount(field_id, weights=flagged.sum(axis=1), minlength=n_fields)
    out[:, 1] = np.bincount(field_id, minlength=n_fields) * flag.shape[1]
    return out


def flag_counts(ds: xr.Dataset, stokes: str) -> da.Array:
    """Flagged and total samples per FIELD_ID of one spectral window's dataset, lazily.

    Parameters
    ----------
    ds
        A dask-ms dataset (one spectral window) with ``field_phase_centers_rad`` and
        ``corr_types`` attrs.
    stokes
        The Stokes parameters the cube images: a sample is flagged where any correlation they
        need is flagged (or its row is).

    Returns
    -------
    dask.array.Array
        int64 (n_fields, 2): [flagged, total] per FIELD row of the MS. Peak memory: one row
        chunk's FLAG per task.
    """
    n_fields = len(ds.attrs["field_phase_centers_rad"])
    corr = sorted({c for _, pair in stokes_recipes(stokes, ds.attrs["corr_types"])
                   for c in pair})
    flag = ds.FLAG.data.rechunk({1: -1, 2: -1}).to_delayed().reshape(-1)
    field_id = ds.FIELD_ID.data.to_delayed().reshape(-1)
    flag_row = ds.FLAG_ROW.data.to_delayed().reshape(-1) if "FLAG_ROW" in ds else \
        [None] * len(flag)
    parts = [dask.delayed(_chunk_counts)(f, r, i, corr, n_fields)
             for f, r, i in zip(flag, flag_row, field_id, strict=True)]
    return da.from_delayed(tree_reduce(parts, sum_arrays), (n_fields, 2), dtype=np.int64)


@dataclass(frozen=True)
class FlagSummary:
    """Flag statistics of one spectral window over the image's fields."""

    flagged_fraction: float  # of all samples of the fields
    flagged_fields: int  # fields above the field threshold (fields without data count)
    n_fields: int

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return dataclasses.asdict(self)


def summarise_flags(counts: np.ndarray, fields: Sequence[int],
                    config: PlaneRejectionConfig) -> FlagSummary:  # fmt: skip
    """The :class:`FlagSummary` of ``counts`` (from :func:`flag_counts`) over ``fields``."""
    sub = np.asarray(counts, dtype=np.float64)[list(fields)]
    flagged, total = sub[:, 0], sub[:, 1]
    fraction = np.divide(flagged, total, out=np.ones_like(total), where=total > 0)
    overall = float(flagged.sum() / total.sum()) if total.sum() > 0 else 1.0
    return FlagSummary(overall, int((fraction > config.field_flag_fraction).sum()), len(sub))


def reasons_before_imaging(summary: FlagSummary, config: PlaneRejectionConfig) -> list[str]:
    """Why a plane is not imaged (empty: image it)."""
    if summary.flagged_fraction >= 1.0:
        return ["the spectral window is fully flagged"]
    if summary.flagged_fields > config.max_flagged_fields:
        return [f"{summary.flagged_fields} of {summary.n_fields} fields are more than "
                f"{config.field_flag_fraction:.0%} flagged (limit {config.max_flagged_fields})"]
    return []


@dataclass(frozen=True)
class BeamModel:
    """Expected restoring-beam axes against frequency: ``axis(nu)^2 = A / nu^2 + C`` per axis.

    ``C = 0`` is SPEC's "median beam scaled to the plane's frequency (proportional to
    1 / frequency)"; a uv taper adds a frequency-independent width in quadrature (``C > 0``),
    which a pure 1 / frequency scaling mistakes for distortion at the band edges.
    """

    slope: tuple[float, float]  # A of (major, minor), arcsec^2 Hz^2
    offset: tuple[float, float]  # C of (major, minor), arcsec^2

    def expected(self, freq_hz) -> tuple[np.ndarray, np.ndarray]:
        """(major, minor) arcsec expected at ``freq_hz``."""
        x = 1.0 / np.asarray(freq_hz, dtype=np.float64) ** 2
        return tuple(np.sqrt(np.maximum(a * x + c, 0.0))  # type: ignore[return-value]
                     for a, c in zip(self.slope, self.offset, strict=True))


def _theil_sen(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Robust line ``y = a x + c``: the median of the pairwise slopes, then of the offsets."""
    i, j = np.triu_indices(x.size, k=1)
    keep = x[j] != x[i]
    slope = float(np.median((y[j] - y[i])[keep] / (x[j] - x[i])[keep])) if keep.any() else 0.0
    return slope, float(np.median(y - slope * x))


def fit_beam_model(beams: Sequence[tuple[float, float] | None],
                   frequencies_hz: Sequence[float], kind: str) -> BeamModel | None:  # fmt: skip
    """The :class:`BeamModel` of the imaged planes (``beams`` None where not imaged).

    ``kind`` ``inverse-frequency``: SPEC's rule, ``C = 0`` and ``A`` from the median of
    ``axis x nu`` (the median beam scaled as 1 / frequency); ``taper``: ``A`` and ``C`` fitted
    robustly (Theil-Sen on ``axis^2`` against ``1 / nu^2``, tolerating a minority of distorted
    planes), which is the 1 / frequency rule when no taper widens the beams. None without
    imaged planes.
    """
    freqs = np.asarray(frequencies_hz, dtype=np.float64)
    imaged = [k for k, b in enumerate(beams) if b is not None]
    if not imaged:
        return None
    slope, offset = [], []
    for a in (0, 1):
        axis = np.array([beams[k][a] for k in imaged])
        if kind == "inverse-frequency" or len(imaged) < 3:
            slope.append(float(np.median(axis * freqs[imaged])) ** 2)
            offset.append(0.0)
        else:
            s, c = _theil_sen(1.0 / freqs[imaged] ** 2, axis**2)
            slope.append(s)
            offset.append(c)
    return BeamModel(tuple(slope), tuple(offset))  # type: ignore[arg-type]


def reasons_after_imaging(
    summaries: Sequence[FlagSummary],
    beams: Sequence[tuple[float, float] | None],
    frequencies_hz: Sequence[float],
    config: PlaneRejectionConfig,
) -> list[list[str]]:
    """Why each imaged plane is rejected (``beams`` None for planes not imaged: no reasons).

    Parameters
    ----------
    summaries
        Flag statistics of every plane.
    beams
        (major, minor) restoring-beam axes (arcsec) of every plane, None where not imaged.
    frequencies_hz
        Reference frequency of every plane.
    config
        Thresholds.

    Returns
    -------
    list of list of str
        One list of reasons per plane.
    """
    model = fit_beam_model(beams, frequencies_hz, config.beam_model)
    out: list[list[str]] = []
    for k, beam in enumerate(beams):
        reasons: list[str] = []
        if beam is not None:
            if summaries[k].flagged_fraction >= config.spw_flag_fraction:
                reasons.append(f"{summaries[k].flagged_fraction:.1%} of the spectral window is "
                               f"flagged (limit {config.spw_flag_fraction:.0%})")
            expected = model.expected(frequencies_hz[k])
            for a, axis in enumerate(("major", "minor")):
                off = beam[a] / float(expected[a]) - 1.0
                if abs(off) > config.beam_tolerance:
                    reasons.append(f"beam {axis} axis {beam[a]:.2f}\" is {off:+.0%} from the "
                                   f"beam expected at this frequency ({float(expected[a]):.2f}"
                                   f"\" from the planes' {config.beam_model} model; limit "
                                   f"{config.beam_tolerance:.0%})")
        out.append(reasons)
    return out
