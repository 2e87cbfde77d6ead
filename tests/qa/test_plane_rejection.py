"""Coarse-cube plane rejection rules (SPEC "Coarse cubes") and the spectral-index fit."""

import numpy as np
import pytest

from vlassdask.errors import ConfigError
from vlassdask.imaging.spectral_fit import fit_power_law
from vlassdask.qa.plane_rejection import (
    FlagSummary,
    PlaneRejectionConfig,
    fit_beam_model,
    reasons_after_imaging,
    reasons_before_imaging,
    summarise_flags,
)

CONFIG = PlaneRejectionConfig()
FREQS = np.linspace(2.05e9, 3.95e9, 16)


def _counts(fractions, per_field=1000):
    """[flagged, total] per field for these flagged fractions."""
    fractions = np.asarray(fractions, dtype=float)
    return np.stack([np.round(fractions * per_field), np.full(fractions.size, per_field)], 1)


def test_before_imaging_counts_fields_above_90_percent():
    twelve = summarise_flags(_counts([0.95] * 12 + [0.1] * 8), range(20), CONFIG)
    assert (twelve.flagged_fields, twelve.n_fields) == (12, 20)
    assert reasons_before_imaging(twelve, CONFIG) == []  # "> 12" fields: 12 is still imaged
    thirteen = summarise_flags(_counts([0.95] * 13 + [0.1] * 7), range(20), CONFIG)
    assert reasons_before_imaging(thirteen, CONFIG) == [
        "13 of 20 fields are more than 90% flagged (limit 12)"]
    exactly_90 = summarise_flags(_counts([0.9] * 20), range(20), CONFIG)
    assert exactly_90.flagged_fields == 0  # above 90%, not at it
    full = summarise_flags(_counts([1.0] * 5), range(5), CONFIG)
    assert reasons_before_imaging(full, CONFIG) == ["the spectral window is fully flagged"]


def test_fields_without_data_count_as_flagged_and_only_chosen_fields_count():
    counts = np.array([[0, 0], [10, 100], [100, 100]])
    s = summarise_flags(counts, [0, 1], CONFIG)
    assert (s.flagged_fields, s.n_fields) == (1, 2)
    assert s.flagged_fraction == pytest.approx(0.1)


def _tapered(freqs, taper=4.0):
    """Beams of a fixed uv coverage with a uv taper: sqrt((a / nu)^2 + taper^2)."""
    major = np.sqrt((3.7 * 2e9 / freqs) ** 2 + taper**2)
    return [(float(m), float(m) * 0.95) for m in major]


def test_after_imaging_flag_fraction_and_distorted_beam():
    beams = _tapered(FREQS)
    beams[5] = (beams[5][0] * 1.3, beams[5][1])  # long baselines flagged: wider
    flags = [FlagSummary(0.1, 0, 20)] * 16
    flags[9] = FlagSummary(0.8, 3, 20)
    reasons = reasons_after_imaging(flags, beams, FREQS, CONFIG)
    assert [k for k, r in enumerate(reasons) if r] == [5, 9]
    assert reasons[5][0].startswith("beam major axis") and "+30%" in reasons[5][0]
    assert reasons[9] == ["80.0% of the spectral window is flagged (limit 80%)"]
    # planes not imaged get no reasons after imaging
    beams[3] = None
    assert reasons_after_imaging(flags, beams, FREQS, CONFIG)[3] == []


def test_tapered_beams_are_not_distortion_but_spec_scaling_calls_them_so():
    beams = _tapered(FREQS)
    assert not any(reasons_after_imaging([FlagSummary(0.0, 0, 9)] * 16, beams, FREQS, CONFIG))
    spec = PlaneRejectionConfig(beam_model="inverse-frequency")
    flagged = [k for k, r in enumerate(reasons_after_imaging([FlagSummary(0.0, 0, 9)] * 16,
                                                             beams, FREQS, spec)) if r]
    assert flagged and set(flagged) <= {0, 1, 2, 13, 14, 15}  # the band edges
    # without a taper both models are the 1/frequency rule
    untapered = _tapered(FREQS, taper=0.0)
    for kind in ("taper", "inverse-frequency"):
        model = fit_beam_model(untapered, FREQS, kind)
        np.testing.assert_allclose(model.expected(FREQS)[0], [b[0] for b in untapered],
                                   rtol=1e-6)


def test_rejection_config_is_validated():
    with pytest.raises(ConfigError, match="rejection.spw_flag_fraction must be a number"):
        PlaneRejectionConfig(spw_flag_fraction=1.5)
    with pytest.raises(ConfigError, match="max_flagged_fields must be a whole number"):
        PlaneRejectionConfig(max_flagged_fields=2.5)
    with pytest.raises(ConfigError, match="beam_model must be one of taper"):
        PlaneRejectionConfig(beam_model="median")
    with pytest.raises(ConfigError, match="unknown rejection option"):
        PlaneRejectionConfig.from_mapping({"beam_tol": 0.2})


def test_power_law_fit_recovers_index_and_its_error():
    rng = np.random.default_rng(7)
    freqs = FREQS
    truth = 2.0 * (freqs / 3e9) ** -0.8
    rms = np.full(16, 0.02)
    alpha, error = fit_power_law(truth[:, None], rms[:, None], freqs, 3e9)
    assert alpha[0] == pytest.approx(-0.8, abs=1e-5)
    noisy = truth[:, None] + rng.normal(0, 0.02, size=(16, 4000))
    alphas, errors = fit_power_law(noisy, np.broadcast_to(rms[:, None], noisy.shape), freqs, 3e9)
    assert np.mean(alphas) == pytest.approx(-0.8, abs=0.01)
    assert np.std(alphas) == pytest.approx(np.median(errors), rel=0.1)  # the error is honest
    # below min_snr or too few planes: not measured
    faint, _ = fit_power_law(truth[:, None] * 0.01, rms[:, None], freqs, 3e9)
    assert np.isnan(faint[0])
