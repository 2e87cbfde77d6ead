"""The decision engine against the VLASS rules (SPEC.md "Quality assessment", paper section 4).

An independent reference implementation of the paper's rules is compared with the engine over a
grid of statistics, beams, attempts and detections; single cases check reasons and retry steps.
"""

import dataclasses
import itertools
import json
import math

import pytest

from vlassdask.errors import ConfigError, InputError
from vlassdask.qa.decision import (
    DecisionConfig,
    ImagingParameters,
    QAResult,
    Reason,
    RetryLadder,
    decide,
)
from vlassdask.qa.types import DetectorResult, Location

QL = RetryLadder(500, 7290, ({"cycleniter": 250}, {"imsize": 5760}))
SE_DECISION = DecisionConfig.from_mapping(
    {"beam_action": "review", "detector_actions": {"pb_holes": "review"}}
)


@dataclasses.dataclass(frozen=True)
class Stats:
    """The statistics the engine reads (stand-in for ImageStatistics)."""

    ratio_full: float = 4.0
    ratio_sub: float = 3.0
    beam_major_arcsec: float | None = 2.6
    beam_minor_arcsec: float | None = 2.1

    def to_dict(self):
        return dataclasses.asdict(self)


def hit(name, *, detected=True, score=5.0, threshold=3.0, skipped=None):
    details = {"skipped": skipped} if skipped else {}
    locations = (Location(10.0, 20.0, 5.0, name),) if detected else ()
    return DetectorResult(name, score, threshold, detected and not skipped, locations, details)


def reference_decision(rf, rs, attempt, major, minor, detected, *, n_retries=2, se=False):
    """The paper's rules written out independently: the most severe outcome wins."""
    actions = {"pb_holes": "review" if se else "reject", "high_weights": "review",
               "rfi": "review", "bad_baselines": "review", "deconvolution": "retry"}
    cleaned = (rf < 20 and rs < 6) or (attempt >= 1 and rs < 10)
    outcomes = [] if cleaned else ["retry"]
    if major > 6 or minor < 1:
        outcomes.append("review" if se else "reject")
    outcomes += [actions[d] for d in detected]
    outcomes = ["review" if o == "retry" and attempt >= n_retries else o for o in outcomes]
    order = ["accepted", "retry", "review", "reject"]
    worst = max(outcomes, key=order.index, default="accepted")
    return {"review": "needs_review", "reject": "rejected"}.get(worst, worst)


GRID = list(itertools.product(
    [5.0, 19.9, 20.0, 35.0],           # ratio_full
    [2.0, 5.99, 6.0, 9.9, 10.0, 15.0],  # ratio_sub
    [0, 1, 2, 3],                       # attempt
    [(2.5, 2.0), (6.5, 2.0), (2.0, 0.4)],  # beam
    [(), ("rfi",), ("deconvolution",), ("pb_holes", "bad_baselines")],
))  # fmt: skip


@pytest.mark.parametrize("se", [False, True])
def test_engine_matches_reference_rules(se):
    config = SE_DECISION if se else DecisionConfig()
    for rf, rs, attempt, (major, minor), names in GRID:
        stats = Stats(rf, rs, major, minor)
        decision, reasons, retry = decide(stats, [hit(n) for n in names], config, QL,
                                          attempt=attempt)  # fmt: skip
        want = reference_decision(rf, rs, attempt, major, minor, names, se=se)
        assert decision == want, (rf, rs, attempt, major, minor, names, reasons)
        assert (retry is not None) == (decision == "retry")
        if retry is not None:
            assert retry == QL.parameters(attempt + 1)
        acting = [r for r in reasons if r.action != "ignore"]
        assert (decision == "accepted") == (not acting)


def test_clean_image_is_accepted_without_reasons():
    assert decide(Stats(), [hit("rfi", detected=False)], DecisionConfig(), QL) == (
        "accepted", (), None)


def test_every_reason_is_listed():
    stats = Stats(ratio_full=25.0, ratio_sub=7.0, beam_major_arcsec=7.0)
    dets = [hit("pb_holes"), hit("rfi"), hit("bad_baselines", detected=False)]
    decision, reasons, retry = decide(stats, dets, DecisionConfig(), QL)
    assert decision == "rejected" and retry is None
    assert [(r.check, r.action) for r in reasons] == [
        ("ratio_full", "retry"), ("ratio_sub", "retry"), ("beam", "reject"),
        ("detector:pb_holes", "reject"), ("detector:rfi", "review")]
    assert reasons[0].value == 25.0 and reasons[0].threshold == 20.0
    assert "25" in reasons[0].message and "full image" in reasons[0].message
    assert "7 arcsec > 6" in reasons[2].message
    assert "1 location" in reasons[3].message


def test_retry_ladder_walks_cycleniter_then_imsize():
    config = DecisionConfig()
    bad = Stats(ratio_sub=12.0)
    steps = [decide(bad, [], config, QL, attempt=a) for a in range(3)]
    assert [s[0] for s in steps] == ["retry", "retry", "needs_review"]
    assert steps[0][2] == ImagingParameters(attempt=1, cycleniter=250, imsize=7290)
    assert steps[1][2] == ImagingParameters(attempt=2, cycleniter=250, imsize=5760)
    assert "no retry left after attempt 2" in steps[2][1][0].message


def test_relaxed_criterion_after_a_retry():
    stats = Stats(ratio_full=30.0, ratio_sub=8.0)
    assert decide(stats, [], DecisionConfig(), QL, attempt=0)[0] == "retry"
    decision, reasons, _ = decide(stats, [], DecisionConfig(), QL, attempt=1)
    assert decision == "accepted"
    assert [(r.check, r.action) for r in reasons] == [("relaxed_acceptance", "ignore")]
    strict_full = DecisionConfig(relaxed_ratio_full_max=20.0)
    assert decide(stats, [], strict_full, QL, attempt=1)[0] == "retry"


def test_beam_checks_and_missing_beam():
    assert decide(Stats(beam_major_arcsec=6.01), [], DecisionConfig(), QL)[0] == "rejected"
    assert decide(Stats(beam_major_arcsec=6.0), [], DecisionConfig(), QL)[0] == "accepted"
    small = decide(Stats(beam_minor_arcsec=0.2), [], DecisionConfig(), QL)
    assert small[0] == "rejected" and "abnormally small" in small[1][0].message
    assert decide(Stats(beam_major_arcsec=7.0), [], SE_DECISION, QL)[0] == "needs_review"
    none = decide(Stats(beam_major_arcsec=None, beam_minor_arcsec=None), [],
                  DecisionConfig(), QL)  # fmt: skip
    assert none[0] == "needs_review" and "no restoring beam" in none[1][0].message
    ignore = DecisionConfig(missing_beam_action="ignore")
    assert decide(Stats(beam_major_arcsec=math.nan), [], ignore, QL)[0] == "accepted"


def test_unmeasured_statistic_needs_review():
    decision, reasons, _ = decide(Stats(ratio_sub=math.nan), [], DecisionConfig(), QL)
    assert decision == "needs_review"
    assert reasons[0].check == "ratio_sub" and "could not be measured" in reasons[0].message


def test_skipped_detectors():
    skipped = hit("rfi", skipped="no rms image")
    with pytest.raises(InputError, match="rfi could not run .no rms image. and is not optional"):
        decide(Stats(), [skipped], DecisionConfig(), QL)
    optional = DecisionConfig(optional_detectors=("rfi",))
    decision, reasons, _ = decide(Stats(), [skipped], optional, QL)
    assert decision == "accepted"
    assert reasons == (Reason("detector:rfi", "ignore",
                              "rfi not run: no rms image (optional detector)"),)


def test_detector_actions_are_configurable():
    config = DecisionConfig.from_mapping({"detector_actions": {"rfi": "reject"}})
    assert config.detector_actions["pb_holes"] == "reject"  # merged over the defaults
    assert decide(Stats(), [hit("rfi")], config, QL)[0] == "rejected"
    ignore = DecisionConfig.from_mapping({"detector_actions": {"rfi": "ignore"}})
    decision, reasons, _ = decide(Stats(), [hit("rfi")], ignore, QL)
    assert decision == "accepted" and reasons[0].action == "ignore"


def test_bad_attempt():
    for attempt in (-1, 1.5, True):
        with pytest.raises(InputError, match="attempt must be an integer"):
            decide(Stats(), [], DecisionConfig(), QL, attempt=attempt)


@pytest.mark.parametrize("mapping, message", [
    ({"ratio_sub_max": 0}, "ratio_sub_max must be a positive number"),
    ({"beam_action": "explode"}, "beam_action must be one of"),
    ({"retries_exhausted_action": "retry"}, "cannot be 'retry'"),
    ({"detector_actions": {"ghosts": "review"}}, "unknown detector"),
    ({"detector_actions": {"rfi": "maybe"}}, "detector_actions.rfi must be one of"),
    ({"optional_detectors": ["ghosts"]}, "optional_detectors: unknown detector"),
    ({"optional_detectors": "rfi"}, "must be a list"),
    ({"relaxed_from_attempt": -1}, "relaxed_from_attempt must be an integer"),
    ({"beam_minor_min_arcsec": 7.0}, "must be below beam_major_max_arcsec"),
    ({"ratio_ful_max": 20}, "unknown decision option.*ratio_ful_max"),
])  # fmt: skip
def test_decision_config_errors(mapping, message):
    with pytest.raises(ConfigError, match=message):
        DecisionConfig.from_mapping(mapping)


@pytest.mark.parametrize("steps, message", [
    (({"cycleniter": 1000},), "must not increase"),
    (({"cycleniter": 500},), "changes nothing"),
    (({"gain": 5},), "unknown key"),
    (({},), "non-empty mapping"),
    (({"imsize": 0},), "positive integer"),
    (({"nmajor": 0},), "positive integer .or -1"),
    (({"niter": 100}, {"niter": 100}), "step 2 changes nothing"),
])  # fmt: skip
def test_retry_ladder_errors(steps, message):
    with pytest.raises(ConfigError, match=message):
        RetryLadder(500, 7290, steps)


def test_retry_ladder_clean_limits_carry_over():
    ladder = RetryLadder(500, 7290, ({"nmajor": 20, "niter": 5000}, {"cycleniter": 250}))
    assert ladder.parameters(0).nmajor is None and ladder.parameters(0).niter is None
    assert (ladder.parameters(1).nmajor, ladder.parameters(1).niter) == (20, 5000)
    second = ladder.parameters(2)
    assert (second.cycleniter, second.imsize, second.nmajor, second.niter) == (250, 7290, 20,
                                                                               5000)


def test_qa_result_json_is_strict_and_complete():
    stats = Stats(ratio_full=math.inf, ratio_sub=7.0)
    decision, reasons, retry = decide(stats, [hit("rfi")], DecisionConfig(), QL)
    result = QAResult(name="J061400-013000", decision=decision, reasons=reasons,
                      statistics=stats, detectors=(hit("rfi"),), retry=retry, attempt=0,
                      product_type="QL", inputs={"store": "/x.zarr"})  # fmt: skip
    doc = json.loads(result.to_json())
    assert doc["decision"] == "needs_review"
    assert doc["statistics"]["ratio_full"] is None  # inf is not JSON
    assert doc["detectors"][0]["locations"][0] == {"x": 10.0, "y": 20.0, "radius_pixels": 5.0,
                                                   "label": "rfi"}  # fmt: skip
    assert [r["check"] for r in doc["reasons"]] == ["ratio_full", "ratio_sub", "detector:rfi"]
    assert doc["retry"] is None and doc["inputs"] == {"store": "/x.zarr"}
    with pytest.raises(ValueError, match="decision must be one of"):
        dataclasses.replace(result, decision="maybe")
