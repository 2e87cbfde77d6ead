"""Coarse-cube plane rejection (SPEC.md "Coarse cubes"; VLASS paper section 3.4).

A plane is one spectral window of a phase centre's cube (with its I, Q and U images). Before
imaging, a plane is *not imaged* when more than ``max_flagged_fields`` of the image's fields
have more than ``field_flag_fraction`` of their data in that spectral window flagged, or when
the spectral window is fully flagged. After imaging, a plane is *rejected* when the flagged
fraction of all its visibilities is at least ``spw_flag_fraction``, or when its restoring
beam's major or minor axis differs by more than ``beam_tolerance`` from the median beam over
the imaged planes scaled to the plane's frequency (axes proportional to 1 / frequency).

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
from vlassdask.imaging.graph import tree_reduce
from vlassdask.imaging.visibilities import stokes_recipes

#: Plane statuses, as stored (``PLANE_STATUS``) and reported.
IMAGED, NOT_IMAGED, REJECTED = "imaged", "rejected before imaging", "rejected after imaging"
STATUS_CODES = {IMAGED: 0, NOT_IMAGED: 1, REJECTED: 2}


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
        After imaging: relative difference of a beam axis from the frequency-scaled median
        beam above which the plane is rejected (0.2).
    """

    field_flag_fraction: float = 0.9
    max_flagged_fields: int = 12
    spw_flag_fraction: float = 0.8
    beam_tolerance: float = 0.2

    def __post_init__(self) -> None:
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


def _add(*parts: np.ndarray) -> np.ndarray:
    return np.sum(parts, axis=0)


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
    return da.from_delayed(tree_reduce(parts, _add), (n_fields, 2), dtype=np.int64)


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


def scaled_median_beam(beams: Sequence[tuple[float, float] | None],
                       frequencies_hz: Sequence[float]) -> tuple[float, float, float]:
    """``(reference frequency, major, minor)``: the median over the imaged planes of each beam
    axis scaled to the reference frequency (the median of theirs; axes ~ 1 / frequency). A
    plane at ``nu`` is expected to have ``axis x reference / nu``. Zeros without planes."""
    freqs = np.asarray(frequencies_hz, dtype=np.float64)
    imaged = [k for k, b in enumerate(beams) if b is not None]
    if not imaged:
        return 0.0, 0.0, 0.0
    reference = float(np.median(freqs[imaged]))
    major, minor = (float(np.median([beams[k][a] * freqs[k] / reference for k in imaged]))
                    for a in (0, 1))
    return reference, major, minor


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
    freqs = np.asarray(frequencies_hz, dtype=np.float64)
    reference, *median = scaled_median_beam(beams, freqs)
    out: list[list[str]] = []
    for k, beam in enumerate(beams):
        reasons: list[str] = []
        if beam is not None:
            if summaries[k].flagged_fraction >= config.spw_flag_fraction:
                reasons.append(f"{summaries[k].flagged_fraction:.1%} of the spectral window is "
                               f"flagged (limit {config.spw_flag_fraction:.0%})")
            for a, axis in enumerate(("major", "minor")):
                expected = median[a] * reference / freqs[k]
                off = beam[a] / expected - 1.0
                if abs(off) > config.beam_tolerance:
                    reasons.append(f"beam {axis} axis {beam[a]:.2f}\" is {off:+.0%} from the "
                                   f"median beam scaled to this frequency ({expected:.2f}\"; "
                                   f"limit {config.beam_tolerance:.0%})")
        out.append(reasons)
    return out
