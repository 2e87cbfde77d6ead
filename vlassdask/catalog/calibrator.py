"""The resolved-calibrator test (VLASS Memo 19, section 2; SPEC.md "Calibration-side checks").

A point source at the phase centre has the same visibility amplitude on every baseline. The
calibrator's Stokes I amplitudes are averaged in bins of uv distance (kilo-wavelengths); the
fractional deviation of each bin from the point-source amplitude (the weighted median amplitude
of all visibilities) is flagged when it exceeds +/-3%. Deviations between 35 and 90 klambda mean
the calibrator needs a spatial model; deviations only outside that range can be avoided with a
uv-range cut.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from vlassdask.errors import InputError

TOLERANCE = 0.03
MODEL_RANGE_KLAMBDA = (35.0, 90.0)
DEFAULT_BINS = 30
#: Bins with fewer visibilities than this are not judged.
MIN_PER_BIN = 10

VERDICTS = {"point": "consistent with a point source (within +/-3% at all uv distances)",
            "uvrange": "resolved outside 35-90 klambda only: a uv-range cut suffices",
            "model": "resolved between 35 and 90 klambda: needs a spatial model"}  # fmt: skip


@dataclass(frozen=True)
class CalibratorCheck:
    """Result of :func:`check_calibrator`.

    Attributes
    ----------
    field
        Calibrator field name.
    bins
        One row per uv-distance bin: ``uv_lo``, ``uv_hi``, ``uv_mid`` (klambda), ``amplitude``
        (weighted mean, Jy), ``n``, ``deviation`` (fractional, vs the point source),
        ``in_model_range``, ``flagged``.
    point_amplitude
        The point-source amplitude (Jy).
    verdict
        ``"point"``, ``"uvrange"`` or ``"model"`` (:data:`VERDICTS`).
    """

    field: str
    bins: pd.DataFrame
    point_amplitude: float
    verdict: str

    def summary(self) -> dict:
        """JSON-friendly summary."""
        flagged = self.bins[self.bins["flagged"]]
        worst = self.bins.loc[self.bins["deviation"].abs().idxmax()] if len(self.bins) else None
        return {"field": self.field, "verdict": self.verdict,
                "meaning": VERDICTS[self.verdict], "point_amplitude_jy": self.point_amplitude,
                "tolerance": TOLERANCE, "model_range_klambda": list(MODEL_RANGE_KLAMBDA),
                "flagged_bins_klambda": [[float(r.uv_lo), float(r.uv_hi)]
                                         for r in flagged.itertuples()],
                "max_abs_deviation": None if worst is None else float(abs(worst.deviation))}


def _weighted_median(values: np.ndarray, weights: np.ndarray) -> float:
    order = np.argsort(values)
    cumulative = np.cumsum(weights[order])
    return float(values[order][np.searchsorted(cumulative, 0.5 * cumulative[-1])])


def check_calibrator(uv_klambda: np.ndarray, amplitude: np.ndarray, weight: np.ndarray, *,
                     field: str, bins: int = DEFAULT_BINS, tolerance: float = TOLERANCE,
                     model_range: tuple[float, float] = MODEL_RANGE_KLAMBDA
                     ) -> CalibratorCheck:  # fmt: skip
    """Judge a calibrator from its visibility amplitudes.

    Parameters
    ----------
    uv_klambda, amplitude, weight
        Unflagged visibilities: uv distance (klambda), Stokes I amplitude (Jy), weight.
    field
        Calibrator name (for the report).
    bins
        Number of uv-distance bins (equal width from 0 to the longest baseline).
    tolerance, model_range
        Flag limit and the uv range where a deviation needs a model.

    Raises
    ------
    InputError
        If there are no usable visibilities.
    """
    good = np.isfinite(uv_klambda) & np.isfinite(amplitude) & (weight > 0)
    uv, amp, w = uv_klambda[good], amplitude[good], weight[good]
    if uv.size == 0:
        raise InputError(f"field {field} has no unflagged visibilities with positive weight")
    point = _weighted_median(amp, w)
    if not point > 0:
        raise InputError(f"field {field} has zero amplitude: not a calibrator")
    edges = np.linspace(0.0, float(uv.max()) * (1 + 1e-9), bins + 1)
    which = np.clip(np.digitize(uv, edges) - 1, 0, bins - 1)
    n = np.bincount(which, minlength=bins)
    sum_w = np.bincount(which, weights=w, minlength=bins)
    sum_wa = np.bincount(which, weights=w * amp, minlength=bins)
    table = pd.DataFrame({"uv_lo": edges[:-1], "uv_hi": edges[1:],
                          "uv_mid": 0.5 * (edges[:-1] + edges[1:]), "n": n})
    table["amplitude"] = np.where(sum_w > 0, sum_wa / np.where(sum_w > 0, sum_w, 1), np.nan)
    table = table[table["n"] >= MIN_PER_BIN].reset_index(drop=True)
    table["deviation"] = table["amplitude"] / point - 1.0
    table["in_model_range"] = (table["uv_hi"] > model_range[0]) & (table["uv_lo"] < model_range[1])
    table["flagged"] = table["deviation"].abs() > tolerance
    if (table["flagged"] & table["in_model_range"]).any():
        verdict = "model"
    elif table["flagged"].any():
        verdict = "uvrange"
    else:
        verdict = "point"
    return CalibratorCheck(field, table, point, verdict)
