"""The QA decision engine: accepted / retry / needs review / rejected, with every reason.

Otto's rules (SPEC.md "Quality assessment"; VLASS paper section 4), all thresholds configurable
(:class:`DecisionConfig`, ``decision:`` in ``pipelines/qa.yaml``):

* **Cleaning statistic**: peak |residual| / (1.4826 x MAD) below ``ratio_full_max`` (20) in the
  full image and below ``ratio_sub_max`` (6) in the sub-image. From attempt
  ``relaxed_from_attempt`` on (attempt 0 is the first imaging run), a sub-image ratio below
  ``relaxed_ratio_sub_max`` (10) is enough. A failing statistic asks for a retry with the next
  imaging parameters of the retry ladder (:class:`RetryLadder`: smaller ``cycleniter``, then the
  smaller full image); when the ladder is used up, ``retries_exhausted_action`` (needs review).
* **Restoring beam**: a minor axis below ``beam_minor_min_arcsec`` (a failed PSF fit) or a major
  axis above ``beam_major_max_arcsec`` (6 arcsec for QL) -> ``beam_action`` (reject for QL).
* **Detectors**: each detection -> ``detector_actions[name]`` (``ignore``, ``retry``, ``review``
  or ``reject``); a ``retry`` with no retry left becomes ``retries_exhausted_action``.

Each failed check is one :class:`Reason` carrying its action; the decision is the most severe
action (``reject`` > ``review`` > ``retry`` > ``ignore``). Reasons with action ``ignore`` are
notes (an optional detector that could not run, an acceptance on the relaxed criterion).
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import vlassdask
from vlassdask.errors import ConfigError, InputError, reject_unknown_keys
from vlassdask.qa.types import DetectorResult

ACTIONS = ("ignore", "retry", "review", "reject")
DECISIONS = ("accepted", "retry", "needs_review", "rejected")
DETECTOR_NAMES = ("pb_holes", "high_weights", "rfi", "bad_baselines", "deconvolution")
_DECISION_OF_ACTION = dict(zip(ACTIONS, DECISIONS, strict=True))


def _check_action(action: Any, what: str) -> str:
    if action not in ACTIONS:
        raise ConfigError(f"{what} must be one of {ACTIONS}, got {action!r}")
    return str(action)


def _positive(value: Any, what: str, *, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ConfigError(f"{what} must be a positive number, got {value!r}")


@dataclass(frozen=True)
class DecisionConfig:
    """Thresholds and actions of the decision engine (defaults: VLASS Quick Look).

    Attributes
    ----------
    ratio_full_max, ratio_sub_max
        Accept the cleaning when peak |residual| / robust rms is below these in the full image
        and in the sub-image (paper section 4: 20 and 6).
    relaxed_ratio_sub_max, relaxed_ratio_full_max
        From attempt ``relaxed_from_attempt`` on, accept when the sub-image ratio is below
        ``relaxed_ratio_sub_max`` (paper: 10) and, if not None, the full-image ratio below
        ``relaxed_ratio_full_max``.
    relaxed_from_attempt
        First attempt (0-based) where the relaxed criterion applies.
    beam_major_max_arcsec, beam_minor_min_arcsec
        Abnormally large / small restoring beam.
    beam_action
        What an abnormal beam leads to.
    missing_beam_action
        What an image without a restoring beam leads to.
    unmeasured_action
        What a statistic that could not be measured (not finite) leads to.
    retries_exhausted_action
        What a ``retry`` becomes when the retry ladder is used up.
    detector_actions
        Detector name -> action when it detects its artifact.
    optional_detectors
        Detectors that may be skipped when their input image is missing (a note, not an error).
    """

    ratio_full_max: float = 20.0
    ratio_sub_max: float = 6.0
    relaxed_ratio_sub_max: float = 10.0
    relaxed_ratio_full_max: float | None = None
    relaxed_from_attempt: int = 1
    beam_major_max_arcsec: float = 6.0
    beam_minor_min_arcsec: float = 1.0
    beam_action: str = "reject"
    missing_beam_action: str = "review"
    unmeasured_action: str = "review"
    retries_exhausted_action: str = "review"
    detector_actions: Mapping[str, str] = field(default_factory=lambda: {
        "pb_holes": "reject", "high_weights": "review", "rfi": "review",
        "bad_baselines": "review", "deconvolution": "retry",
    })  # fmt: skip
    optional_detectors: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name in ("ratio_full_max", "ratio_sub_max", "relaxed_ratio_sub_max",
                     "beam_major_max_arcsec", "beam_minor_min_arcsec"):  # fmt: skip
            _positive(getattr(self, name), f"decision.{name}")
        _positive(self.relaxed_ratio_full_max, "decision.relaxed_ratio_full_max", allow_none=True)
        if isinstance(self.relaxed_from_attempt, bool) or not (
            isinstance(self.relaxed_from_attempt, int) and self.relaxed_from_attempt >= 0
        ):
            raise ConfigError(f"decision.relaxed_from_attempt must be an integer >= 0, got "
                              f"{self.relaxed_from_attempt!r}")  # fmt: skip
        if self.beam_minor_min_arcsec >= self.beam_major_max_arcsec:
            raise ConfigError("decision.beam_minor_min_arcsec must be below beam_major_max_arcsec")
        for name in ("beam_action", "missing_beam_action", "unmeasured_action"):
            _check_action(getattr(self, name), f"decision.{name}")
        if _check_action(self.retries_exhausted_action, "decision.retries_exhausted_action") == (
            "retry"
        ):
            raise ConfigError("decision.retries_exhausted_action cannot be 'retry'")
        if not isinstance(self.detector_actions, Mapping):
            raise ConfigError("decision.detector_actions must be a mapping detector -> action")
        unknown = sorted(set(self.detector_actions) - set(DETECTOR_NAMES))
        if unknown:
            raise ConfigError(f"decision.detector_actions: unknown detector(s) {unknown}; "
                              f"known: {list(DETECTOR_NAMES)}")  # fmt: skip
        for name, action in self.detector_actions.items():
            _check_action(action, f"decision.detector_actions.{name}")
        missing = [n for n in DETECTOR_NAMES if n not in self.detector_actions]
        if missing:
            raise ConfigError(f"decision.detector_actions lacks an action for {missing}")
        unknown = sorted(set(self.optional_detectors) - set(DETECTOR_NAMES))
        if unknown:
            raise ConfigError(f"decision.optional_detectors: unknown detector(s) {unknown}; "
                              f"known: {list(DETECTOR_NAMES)}")  # fmt: skip

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Any], *, base: DecisionConfig | None = None
                     ) -> DecisionConfig:  # fmt: skip
        """Build from a mapping, rejecting unknown keys; missing keys keep ``base``'s values.

        ``detector_actions`` is merged key by key into the base's actions.
        """
        if not isinstance(mapping, Mapping):
            raise ConfigError(f"decision section must be a mapping, got {type(mapping).__name__}")
        base = base or cls()
        reject_unknown_keys(mapping, [f.name for f in dataclasses.fields(cls)],
                            "unknown decision option(s):")
        values = dict(mapping)
        if "detector_actions" in values:
            actions = values["detector_actions"]
            if not isinstance(actions, Mapping):
                raise ConfigError("decision.detector_actions must be a mapping detector -> action")
            values["detector_actions"] = {**base.detector_actions, **actions}
        if "optional_detectors" in values:
            optional = values["optional_detectors"] or ()
            if isinstance(optional, str) or not isinstance(optional, Sequence):
                raise ConfigError("decision.optional_detectors must be a list of detector names")
            values["optional_detectors"] = tuple(optional)
        return dataclasses.replace(base, **values)

    def to_dict(self) -> dict[str, Any]:
        """JSON-compatible form (the keys of the ``decision:`` section)."""
        out = dataclasses.asdict(self)
        out["detector_actions"] = dict(self.detector_actions)
        out["optional_detectors"] = list(self.optional_detectors)
        return out


@dataclass(frozen=True)
class ImagingParameters:
    """The imaging parameters of one attempt (0 = the first imaging run)."""

    attempt: int
    cycleniter: int
    imsize: int
    niter: int | None = None
    nmajor: int | None = None


#: The keys a retry-ladder step may change.
LADDER_KEYS = ("cycleniter", "imsize", "niter", "nmajor")


@dataclass(frozen=True)
class RetryLadder:
    """The imaging parameters of the first attempt and of each retry.

    Attributes
    ----------
    cycleniter, imsize
        tclean ``cycleniter`` and full image size (pixels, square) of attempt 0.
    steps
        One mapping per retry with the keys it changes (``cycleniter``, ``imsize``, and the
        CLEAN limits ``niter`` and ``nmajor``); the others keep the previous attempt's values
        (``niter`` and ``nmajor`` start as the CLEAN configuration's). ``cycleniter`` and
        ``imsize`` never grow (VLASS retried with smaller ones).
    """

    cycleniter: int
    imsize: int
    steps: tuple[Mapping[str, int], ...] = ()

    def __post_init__(self) -> None:
        for what, value in (("cycleniter", self.cycleniter), ("imsize", self.imsize)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"{what} must be a positive integer, got {value!r}")
        previous = self.parameters(0)
        for i, step in enumerate(self.steps, start=1):
            if not isinstance(step, Mapping) or not step:
                raise ConfigError(f"retry_ladder step {i} must be a non-empty mapping of "
                                  f"{', '.join(LADDER_KEYS)}")  # fmt: skip
            unknown = sorted(set(step) - set(LADDER_KEYS))
            if unknown:
                raise ConfigError(f"retry_ladder step {i}: unknown key(s) {unknown} "
                                  f"({', '.join(LADDER_KEYS)})")  # fmt: skip
            for key, value in step.items():
                lowest = -1 if key == "nmajor" else 1
                if isinstance(value, bool) or not isinstance(value, int) or value < lowest \
                        or (key == "nmajor" and value == 0):
                    raise ConfigError(f"retry_ladder step {i}: {key} must be a positive integer"
                                      f"{' (or -1: no limit)' if key == 'nmajor' else ''}, got "
                                      f"{value!r}")  # fmt: skip
            current = self.parameters(i)
            if current.cycleniter > previous.cycleniter or current.imsize > previous.imsize:
                raise ConfigError(f"retry_ladder step {i} must not increase cycleniter or imsize")
            if current == dataclasses.replace(previous, attempt=i):
                raise ConfigError(f"retry_ladder step {i} changes nothing")
            previous = current

    @property
    def retries(self) -> int:
        """Number of retries the ladder allows."""
        return len(self.steps)

    def parameters(self, attempt: int) -> ImagingParameters:
        """Imaging parameters of ``attempt`` (0-based; at most :attr:`retries`)."""
        if not 0 <= attempt <= len(self.steps):
            raise InputError(f"attempt {attempt} is outside the retry ladder (0..{self.retries})")
        values: dict[str, int | None] = {"cycleniter": self.cycleniter, "imsize": self.imsize,
                                         "niter": None, "nmajor": None}
        for step in self.steps[:attempt]:
            values.update(step)
        return ImagingParameters(attempt=attempt, **values)

    def to_dict(self) -> dict[str, Any]:
        """JSON-compatible form."""
        return {"cycleniter": self.cycleniter, "imsize": self.imsize,
                "retry_ladder": [dict(s) for s in self.steps]}  # fmt: skip


@dataclass(frozen=True)
class Reason:
    """One check that did not simply pass.

    Attributes
    ----------
    check
        ``"ratio_full"``, ``"ratio_sub"``, ``"beam"``, ``"relaxed_acceptance"`` or
        ``"detector:<name>"``.
    action
        One of :data:`ACTIONS`.
    message
        One sentence for people.
    value, threshold
        The measured number and the limit it was compared with (None where not numeric).
    """

    check: str
    action: str
    message: str
    value: float | None = None
    threshold: float | None = None


def _finite(value: Any) -> bool:
    return value is not None and math.isfinite(float(value))


def _ratio_reasons(stats: Any, config: DecisionConfig, attempt: int) -> list[Reason]:
    """Reasons from the cleaning statistic; a failure has action ``retry``."""
    ratios = {"ratio_full": (stats.ratio_full, config.ratio_full_max, "full image"),
              "ratio_sub": (stats.ratio_sub, config.ratio_sub_max, "sub-image")}  # fmt: skip
    reasons = []
    for check, (value, limit, where) in ratios.items():
        if not _finite(value):
            reasons.append(Reason(check, config.unmeasured_action, f"peak |residual| / robust "
                                  f"rms in the {where} could not be measured ({value})"))
        elif not value < limit:
            reasons.append(Reason(check, "retry", f"peak |residual| / robust rms = {value:.3g} "
                                  f"in the {where} is not below {limit:g}: not cleaned deeply "
                                  "enough", value, limit))  # fmt: skip
    relaxed_full = config.relaxed_ratio_full_max
    if (reasons and attempt >= config.relaxed_from_attempt
            and _finite(stats.ratio_full) and _finite(stats.ratio_sub)
            and stats.ratio_sub < config.relaxed_ratio_sub_max
            and (relaxed_full is None or stats.ratio_full < relaxed_full)):  # fmt: skip
        return [Reason("relaxed_acceptance", "ignore",
                       f"accepted on the relaxed criterion of attempt {attempt}: sub-image ratio "
                       f"{stats.ratio_sub:.3g} < {config.relaxed_ratio_sub_max:g} (first-attempt "
                       f"limits: {config.ratio_full_max:g} full, {config.ratio_sub_max:g} sub)",
                       stats.ratio_sub, config.relaxed_ratio_sub_max)]  # fmt: skip
    return reasons


def _beam_reasons(stats: Any, config: DecisionConfig) -> list[Reason]:
    major, minor = stats.beam_major_arcsec, stats.beam_minor_arcsec
    if not (_finite(major) and _finite(minor)):
        return [Reason("beam", config.missing_beam_action,
                       "the image has no restoring beam: the beam size cannot be checked")]
    reasons = []
    if major > config.beam_major_max_arcsec:
        reasons.append(Reason("beam", config.beam_action, f"restoring beam abnormally large: "
                              f"major axis {major:.3g} arcsec > {config.beam_major_max_arcsec:g}",
                              major, config.beam_major_max_arcsec))  # fmt: skip
    if minor < config.beam_minor_min_arcsec:
        reasons.append(Reason("beam", config.beam_action, f"restoring beam abnormally small: "
                              f"minor axis {minor:.3g} arcsec < {config.beam_minor_min_arcsec:g}",
                              minor, config.beam_minor_min_arcsec))  # fmt: skip
    return reasons


def _detector_reasons(results: Sequence[DetectorResult], config: DecisionConfig) -> list[Reason]:
    reasons = []
    for result in results:
        if "skipped" in result.details:
            if result.name not in config.optional_detectors:
                raise InputError(f"detector {result.name} could not run "
                                 f"({result.details['skipped']}) and is not optional")
            reasons.append(Reason(f"detector:{result.name}", "ignore",
                                  f"{result.name} not run: {result.details['skipped']} "
                                  "(optional detector)"))  # fmt: skip
        elif result.detected:
            where = f" at {len(result.locations)} location(s)" if result.locations else ""
            reasons.append(Reason(
                f"detector:{result.name}", config.detector_actions.get(result.name, "review"),
                f"{result.name} detected{where}: score {result.score:.3g} beyond threshold "
                f"{result.threshold:.3g}", result.score, result.threshold))  # fmt: skip
    return reasons


def decide(
    statistics: Any,
    detectors: Sequence[DetectorResult],
    config: DecisionConfig,
    ladder: RetryLadder,
    *,
    attempt: int = 0,
) -> tuple[str, tuple[Reason, ...], ImagingParameters | None]:
    """Decide what happens to an image.

    Parameters
    ----------
    statistics
        :class:`vlassdask.qa.statistics.ImageStatistics` (or anything with ``ratio_full``,
        ``ratio_sub``, ``beam_major_arcsec`` and ``beam_minor_arcsec``; non-finite or None
        values count as not measured).
    detectors
        The detector results.
    config
        Thresholds and actions.
    ladder
        Imaging parameters of each attempt.
    attempt
        Which imaging attempt this image is (0 = first run, 1 = first retry, ...).

    Returns
    -------
    decision : str
        One of :data:`DECISIONS`.
    reasons : tuple of Reason
        Every check that did not simply pass, in the order ratios, beam, detectors.
    retry : ImagingParameters or None
        The parameters of the next attempt when the decision is ``"retry"``.

    Raises
    ------
    InputError
        A negative attempt, or a non-optional detector that was skipped.
    """
    if isinstance(attempt, bool) or not isinstance(attempt, int | np.integer) or attempt < 0:
        raise InputError(f"attempt must be an integer >= 0, got {attempt!r}")
    attempt = int(attempt)
    reasons = [*_ratio_reasons(statistics, config, attempt), *_beam_reasons(statistics, config),
               *_detector_reasons(detectors, config)]  # fmt: skip
    can_retry = attempt < ladder.retries
    if not can_retry:
        reasons = [dataclasses.replace(r, action=config.retries_exhausted_action,
                                       message=f"{r.message} (no retry left after attempt "
                                       f"{attempt})") if r.action == "retry" else r
                   for r in reasons]  # fmt: skip
    severity = max((ACTIONS.index(r.action) for r in reasons), default=0)
    decision = DECISIONS[severity]
    retry = ladder.parameters(attempt + 1) if decision == "retry" else None
    return decision, tuple(reasons), retry


def _json_safe(value: Any) -> Any:
    """JSON types with non-finite floats as None (strict JSON has no NaN)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _json_safe(dataclasses.asdict(value))
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [_json_safe(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


@dataclass(frozen=True)
class QAResult:
    """The outcome of the QA of one image.

    Attributes
    ----------
    name
        Product name or path.
    decision
        One of :data:`DECISIONS`.
    reasons
        Every check that did not simply pass (see :func:`decide`).
    statistics
        :class:`vlassdask.qa.statistics.ImageStatistics`.
    detectors
        The detector results.
    retry
        Imaging parameters of the next attempt (decision ``"retry"`` only).
    attempt
        The attempt this image came from.
    product_type
        ``"QL"`` or ``"SE"``: which thresholds and ladder applied.
    inputs
        What was read: role (``"store"``, ``"sky"``, ``"rms"``, ``"pb"``, ``"residual"``) ->
        path.
    config
        The effective QA configuration (JSON form), for reproducibility.
    """

    name: str
    decision: str
    reasons: tuple[Reason, ...]
    statistics: Any
    detectors: tuple[DetectorResult, ...]
    retry: ImagingParameters | None
    attempt: int
    product_type: str
    inputs: Mapping[str, str] = field(default_factory=dict)
    config: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.decision not in DECISIONS:
            raise ValueError(f"decision must be one of {DECISIONS}, got {self.decision!r}")

    def to_dict(self) -> dict[str, Any]:
        """Strict-JSON-compatible form (non-finite numbers become null)."""
        return _json_safe({
            "name": self.name,
            "decision": self.decision,
            "reasons": [dataclasses.asdict(r) for r in self.reasons],
            "statistics": self.statistics.to_dict(),
            "detectors": [dataclasses.asdict(d) for d in self.detectors],
            "retry": dataclasses.asdict(self.retry) if self.retry else None,
            "attempt": self.attempt,
            "product_type": self.product_type,
            "inputs": dict(self.inputs),
            "config": dict(self.config),
            "vlassdask_version": vlassdask.__version__,
        })  # fmt: skip

    def to_json(self, indent: int | None = 2) -> str:
        """:meth:`to_dict` as a JSON string."""
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)
