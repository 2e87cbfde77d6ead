"""Artifact injection into synthetic VLASS-like images, for QA tests and the QA benchmark.

The five artifact classes of the VLASS paper (section 4.1) are injected where they arise, into
the ingredients of a :class:`~vlassdask.testing.synthetic_field.SyntheticField`:

* :func:`inject_pb_hole` -- ``statwt`` down-weights the pointings that scanned over a bright
  source: the mosaic PB drops below 0.2 around it, and the source, masked, stays uncleaned: its
  PSF sidelobes come out of the hole as spikes;
* :func:`inject_high_weights` -- a few pointings get falsely high weights: the PB, normalised
  to that maximum, drops elsewhere;
* :func:`inject_rfi` -- a burst of RFI during a few consecutive pointings of one scan row
  raises the noise over about one primary beam;
* :func:`inject_stripes` -- one baseline with a constant error over part of the observation:
  a fringe at that baseline's (u, v) across the region observed then;
* :func:`inject_poor_deconvolution` -- bright sources left under-cleaned: a fraction of their
  flux stays in the residual with the PSF's spikes.

Each injector draws its parameters from the field's random generator (or takes them as
arguments), changes the field and returns the truth (a JSON-compatible dict with the pixel
position ``x``, ``y`` of the artifact). :func:`make_qa_case` makes a seeded case of any class;
the same seed gives the same sky for every class.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from vlassdask.qa.types import QAImages
from vlassdask.testing.synthetic_field import (
    OTF_STEP_ARCMIN,
    SyntheticField,
    make_synthetic_field,
    mosaic_response,
)

KINDS = ("clean", "pb_hole", "high_weights", "rfi", "stripes", "poor_deconvolution")
#: Parameter ranges of the injected artifacts (drawn uniformly, or log-uniformly for ranges
#: marked "log"). They describe artifacts a survey scientist would flag, see
#: ``benchmarks/bench_qa.py`` for detection against strength.
PB_HOLE_RADIUS_ARCMIN = (10.0, 14.0)  # pointings within this distance are down-weighted
PB_HOLE_DEPTH = 0.15  # the radius grows (1' steps) until the PB at the source is below this
PB_HOLE_WEIGHT = (1e-3, 2e-2)  # log: their weight factor
PB_HOLE_FLUX_JY = (0.3, 3.0)  # log: the bright source
HIGH_WEIGHT_GAIN = (1.4, 3.0)  # PB of the high-weighted region over its surroundings
RFI_RMS_FACTOR = (1.5, 3.0)  # noise at the burst's centre over the normal noise
RFI_POINTINGS = (2, 6)  # consecutive pointings of the burst (0.9 s each)
STRIPE_AMPLITUDE_SIGMA = (0.5, 2.0)  # fringe amplitude over the residual rms
STRIPE_ROW_FRACTION = (0.3, 1.0)  # fraction of the scan rows affected
DECONVOLUTION_LEFTOVER_SIGMA = (10.0, 300.0)  # log: left-over peak over the residual rms
DECONVOLUTION_FLUX_JY = (0.05, 1.0)  # log: the under-cleaned source
DECONVOLUTION_SOURCES = (1, 3)


def _log_uniform(rng: np.random.Generator, bounds: tuple[float, float]) -> float:
    return float(math.exp(rng.uniform(math.log(bounds[0]), math.log(bounds[1]))))


def _position_in_subimage(field: SyntheticField, margin: float = 0.0) -> tuple[float, float]:
    x0, x1, y0, y1 = field.subimage
    m = min(margin, 0.25 * (x1 - x0), 0.25 * (y1 - y0))
    return (float(field.rng.uniform(x0 + m, x1 - m)), float(field.rng.uniform(y0 + m, y1 - m)))


def _pointing_fraction(field: SyntheticField, affected: np.ndarray) -> np.ndarray:
    """Share of the mosaic weight (sum w B^2) contributed by the ``affected`` pointings."""
    total = mosaic_response(field.pointings, field.weights, field.n, field.cell_arcsec,
                            field.frequency_hz) ** 2  # fmt: skip
    part = mosaic_response(field.pointings, field.weights * affected, field.n,
                           field.cell_arcsec, field.frequency_hz) ** 2  # fmt: skip
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0.01 * total.max(), part / total, 0.0)


def inject_pb_hole(field: SyntheticField, *, x: float | None = None, y: float | None = None,
                   flux_jy: float | None = None, radius_arcmin: float | None = None,
                   weight: float | None = None) -> dict[str, Any]:  # fmt: skip
    """A bright source whose pointings were down-weighted: a PB hole with spikes.

    Parameters
    ----------
    field
        Changed in place.
    x, y
        Source pixel (default: uniform over the sub-image).
    flux_jy
        Source flux (default: :data:`PB_HOLE_FLUX_JY`, log-uniform).
    radius_arcmin, weight
        Pointings within ``radius_arcmin`` of the source get their weight multiplied by
        ``weight`` (defaults: :data:`PB_HOLE_RADIUS_ARCMIN`, :data:`PB_HOLE_WEIGHT`); the
        radius grows in 1' steps until the PB at the source is below :data:`PB_HOLE_DEPTH`.

    Returns
    -------
    dict
        ``kind``, ``x``, ``y``, ``flux_jy``, ``radius_arcmin``, ``weight``, ``pb_at_source``.
    """
    rng = field.rng
    if x is None or y is None:
        x, y = _position_in_subimage(field)
    flux_jy = _log_uniform(rng, PB_HOLE_FLUX_JY) if flux_jy is None else flux_jy
    radius_arcmin = float(rng.uniform(*PB_HOLE_RADIUS_ARCMIN)) if radius_arcmin is None \
        else radius_arcmin
    weight = _log_uniform(rng, PB_HOLE_WEIGHT) if weight is None else weight
    distance = np.hypot(field.pointings[:, 0] - x, field.pointings[:, 1] - y) \
        * field.cell_arcsec / 60.0
    original = field.weights
    ix, iy = int(round(x)), int(round(y))
    for _ in range(10):  # widen until the PB is masked at the source: a hole, by definition
        field.weights = np.where(distance < radius_arcmin, original * weight, original)
        pb = field.pb()
        if pb[ix, iy] < PB_HOLE_DEPTH:
            break
        radius_arcmin += 1.0
    field.leftover[ix, iy] += flux_jy
    field.cleaned[ix, iy] = 0.0
    return {"kind": "pb_hole", "x": float(x), "y": float(y), "flux_jy": flux_jy,
            "radius_arcmin": radius_arcmin, "weight": weight,
            "pb_at_source": float(pb[ix, iy])}  # fmt: skip


def inject_high_weights(field: SyntheticField, *, x: float | None = None,
                        y: float | None = None, gain: float | None = None,
                        n_pointings: int = 2) -> dict[str, Any]:  # fmt: skip
    """Falsely high weights on ``n_pointings`` consecutive pointings of one scan row.

    ``gain`` (default :data:`HIGH_WEIGHT_GAIN`) is the PB of the high-weighted region over its
    normal level; the weights are raised to give it.

    Returns
    -------
    dict
        ``kind``, ``x``, ``y`` (centre of the affected pointings), ``gain``, ``weight``.
    """
    rng = field.rng
    if x is None or y is None:
        x, y = _position_in_subimage(field)
    gain = float(rng.uniform(*HIGH_WEIGHT_GAIN)) if gain is None else gain
    affected = _consecutive_pointings(field, x, y, n_pointings)
    cx, cy = field.pointings[affected].mean(axis=0)
    fraction = _pointing_fraction(field, affected)[int(round(cx)), int(round(cy))]
    weight = 1.0 + (gain**2 - 1.0) / max(fraction, 1e-6)
    field.weights = np.where(affected, field.weights * weight, field.weights)
    return {"kind": "high_weights", "x": float(cx), "y": float(cy), "gain": gain,
            "weight": float(weight)}  # fmt: skip


def _consecutive_pointings(field: SyntheticField, x: float, y: float, count: int) -> np.ndarray:
    """Mask of the ``count`` pointings of the scan row nearest ``y`` closest to ``x``."""
    rows = np.unique(np.round(field.pointings[:, 1], 6))
    row = rows[np.argmin(np.abs(rows - y))]
    on_row = np.isclose(field.pointings[:, 1], row)
    distance = np.where(on_row, np.abs(field.pointings[:, 0] - x), np.inf)
    chosen = np.argsort(distance)[:count]
    mask = np.zeros(len(field.pointings), dtype=bool)
    mask[chosen] = True
    return mask


def inject_rfi(field: SyntheticField, *, x: float | None = None, y: float | None = None,
               rms_factor: float | None = None, n_pointings: int | None = None
               ) -> dict[str, Any]:  # fmt: skip
    """A burst of RFI during ``n_pointings`` consecutive pointings of one scan row.

    The noise variance grows by ``(g^2 - 1) x`` the share of the affected pointings in the
    mosaic weight, with ``g`` chosen so that the noise at the burst's centre is ``rms_factor``
    times normal (defaults :data:`RFI_RMS_FACTOR`, :data:`RFI_POINTINGS`).

    Returns
    -------
    dict
        ``kind``, ``x``, ``y`` (where the noise rises most), ``rms_factor``, ``n_pointings``,
        ``extent_arcmin`` (length of the affected scan).
    """
    rng = field.rng
    if x is None or y is None:
        x, y = _position_in_subimage(field)
    rms_factor = float(rng.uniform(*RFI_RMS_FACTOR)) if rms_factor is None else rms_factor
    n_pointings = int(rng.integers(RFI_POINTINGS[0], RFI_POINTINGS[1] + 1)) \
        if n_pointings is None else n_pointings
    affected = _consecutive_pointings(field, x, y, n_pointings)
    fraction = _pointing_fraction(field, affected)
    peak = np.unravel_index(int(np.argmax(fraction)), fraction.shape)
    g2 = 1.0 + (rms_factor**2 - 1.0) / max(float(fraction[peak]), 1e-6)
    gain = np.sqrt(1.0 + (g2 - 1.0) * fraction)
    field.noise_gain = gain if field.noise_gain is None else field.noise_gain * gain
    return {"kind": "rfi", "x": float(peak[0]), "y": float(peak[1]), "rms_factor": rms_factor,
            "n_pointings": n_pointings, "extent_arcmin": n_pointings * OTF_STEP_ARCMIN}  # fmt: skip


def inject_stripes(field: SyntheticField, *, amplitude_sigma: float | None = None,
                   row_fraction: float | None = None) -> dict[str, Any]:  # fmt: skip
    """A bad baseline: a fringe at one sampled (u, v) over the rows observed while it was bad.

    Parameters
    ----------
    amplitude_sigma
        Fringe amplitude over the residual rms (default :data:`STRIPE_AMPLITUDE_SIGMA`).
    row_fraction
        Fraction of the scan rows (a contiguous block: a time range) affected (default
        :data:`STRIPE_ROW_FRACTION`).

    Returns
    -------
    dict
        ``kind``, ``x``, ``y`` (centre of the affected region), ``k`` (cycles per image along
        x and y), ``period_pixels``, ``amplitude_sigma``.
    """
    rng = field.rng
    amplitude_sigma = float(rng.uniform(*STRIPE_AMPLITUDE_SIGMA)) if amplitude_sigma is None \
        else amplitude_sigma
    row_fraction = float(rng.uniform(*STRIPE_ROW_FRACTION)) if row_fraction is None \
        else row_fraction
    radius = np.hypot(*field.uv_samples.T) / field.n
    usable = field.uv_samples[(radius > 0.05) & (radius < 0.4)]
    k = usable[rng.integers(len(usable))].astype(np.float64)
    rows = np.unique(np.round(field.pointings[:, 1], 6))
    count = max(1, int(round(row_fraction * len(rows))))
    first = int(rng.integers(0, len(rows) - count + 1))
    affected = np.isin(np.round(field.pointings[:, 1], 6), rows[first:first + count])
    envelope = _pointing_fraction(field, affected)
    x = np.arange(field.n)[:, None]
    y = np.arange(field.n)[None, :]
    phase = 2.0 * np.pi * (k[0] * x + k[1] * y) / field.n + rng.uniform(0, 2 * np.pi)
    stripes = amplitude_sigma * field.noise_jy * envelope * np.cos(phase)
    field.extra_residual = stripes if field.extra_residual is None \
        else field.extra_residual + stripes
    cx, cy = field.pointings[affected].mean(axis=0)
    return {"kind": "stripes", "x": float(cx), "y": float(cy), "k": [float(k[0]), float(k[1])],
            "period_pixels": float(field.n / np.hypot(*k)), "amplitude_sigma": amplitude_sigma,
            "row_fraction": row_fraction}  # fmt: skip


def inject_poor_deconvolution(field: SyntheticField, *, n_sources: int | None = None,
                              leftover_sigma: float | None = None) -> dict[str, Any]:  # fmt: skip
    """Bright sources in the sub-image left under-cleaned.

    Each source (flux :data:`DECONVOLUTION_FLUX_JY`) keeps a left-over peak of
    ``leftover_sigma`` residual rms (:data:`DECONVOLUTION_LEFTOVER_SIGMA`, drawn per source) in
    the residual, with the PSF's sidelobes; the rest of its flux is cleaned.

    Returns
    -------
    dict
        ``kind``, ``x``, ``y`` (the brightest left-over), ``sources``: list of ``{x, y,
        flux_jy, leftover_sigma}``.
    """
    rng = field.rng
    n_sources = int(rng.integers(DECONVOLUTION_SOURCES[0], DECONVOLUTION_SOURCES[1] + 1)) \
        if n_sources is None else n_sources
    pb = field.pb()
    sources = []
    for _ in range(n_sources):
        x, y = (int(round(v)) for v in _position_in_subimage(field, margin=20))
        flux = _log_uniform(rng, DECONVOLUTION_FLUX_JY)
        sigma = _log_uniform(rng, DECONVOLUTION_LEFTOVER_SIGMA) if leftover_sigma is None \
            else leftover_sigma
        left = min(flux, sigma * field.noise_jy / max(float(pb[x, y]), 0.2))
        field.cleaned[x, y] += flux - left
        field.leftover[x, y] += left
        sources.append({"x": x, "y": y, "flux_jy": flux, "leftover_sigma": sigma})
    top = max(sources, key=lambda s: s["leftover_sigma"])
    return {"kind": "poor_deconvolution", "x": float(top["x"]), "y": float(top["y"]),
            "sources": sources}  # fmt: skip


INJECTORS = {"pb_hole": inject_pb_hole, "high_weights": inject_high_weights,
             "rfi": inject_rfi, "stripes": inject_stripes,
             "poor_deconvolution": inject_poor_deconvolution}  # fmt: skip


def make_clean_qa_images(*, n: int = 512, seed: int = 0, **options: Any) -> QAImages:
    """A clean synthetic image's planes (sky, residual, rms, PB); ``options`` go to
    :func:`~vlassdask.testing.synthetic_field.make_synthetic_field` (e.g. ``field_arcsec``)."""
    return make_synthetic_field(n=n, seed=seed, **options).images(name=f"clean-{seed}")


def make_qa_case(kind: str, seed: int, size: int = 512, **options: Any
                 ) -> tuple[QAImages, dict[str, Any]]:  # fmt: skip
    """A seeded synthetic image of one artifact class.

    Parameters
    ----------
    kind
        One of :data:`KINDS`.
    seed
        Seed of the sky, coverage, noise and the artifact's parameters (the same seed gives the
        same sky for every kind).
    size
        Image side in pixels (a QL full field: cells of 7290" / size).
    **options
        Passed to :func:`~vlassdask.testing.synthetic_field.make_synthetic_field`.

    Returns
    -------
    images : QAImages
    truth : dict
        ``{"kind": kind}`` plus the injector's record (artifact position and parameters).

    Raises
    ------
    ValueError
        Unknown ``kind``.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown artifact kind {kind!r}; known: {KINDS}")
    field = make_synthetic_field(n=size, seed=seed, **options)
    truth = {"kind": "clean"} if kind == "clean" else INJECTORS[kind](field)
    return field.images(name=f"{kind}-{seed}"), truth
