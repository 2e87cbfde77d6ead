"""Cycle threshold (tclean) and PSF sidelobe level."""

import numpy as np
import pytest

from vlassdask.deconvolution.thresholds import cycle_threshold, main_lobe, max_outer_sidelobe
from vlassdask.errors import ConfigError, InputError


def _psf_with_sidelobe(level: float) -> np.ndarray:
    x = np.arange(64) - 32
    r2 = x[:, None] ** 2 + x[None, :] ** 2
    main = np.exp(-r2 / (2 * 2.0**2))
    ring = np.exp(-((np.sqrt(r2) - 10.0) ** 2) / (2 * 1.5**2))
    return main - level * ring


@pytest.mark.parametrize("level", [0.1, 0.25])
def test_max_outer_sidelobe_known(level):
    assert max_outer_sidelobe(_psf_with_sidelobe(level)) == pytest.approx(level, rel=0.02)


def test_main_lobe_stops_at_first_null():
    lobe = main_lobe(_psf_with_sidelobe(0.2))
    assert lobe[32, 32] and lobe[32, 36] and not lobe[32, 42] and not lobe[32, 22]


def test_sidelobe_of_bad_psf():
    with pytest.raises(InputError, match="positive peak"):
        max_outer_sidelobe(np.zeros((8, 8)))


@pytest.mark.parametrize(
    ("sidelobe", "kwargs", "expected"),
    [(0.2, {}, 0.2),                                    # cyclefactor * sidelobe in range
     (0.01, {}, 0.05),                                  # clamped up to minpsffraction
     (0.5, {"cyclefactor": 2.0}, 0.8),                  # clamped down to maxpsffraction
     (0.2, {"cyclefactor": 1.5}, 0.3),
     (0.2, {"threshold": 0.5}, 0.5),                    # global threshold wins
     (0.2, {"nsigma_threshold": 0.7}, 0.7),             # nsigma threshold wins
     (0.01, {"minpsffraction": 0.1}, 0.1)],
)  # fmt: skip
def test_cycle_threshold(sidelobe, kwargs, expected):
    assert cycle_threshold(1.0, sidelobe, **kwargs) == pytest.approx(expected)


def test_cycle_threshold_scales_with_peak_and_validates():
    assert cycle_threshold(-4.0, 0.2) == pytest.approx(0.8)
    with pytest.raises(ConfigError, match="cyclefactor"):
        cycle_threshold(1.0, 0.2, cyclefactor=0.0)
    with pytest.raises(ConfigError, match="minpsffraction"):
        cycle_threshold(1.0, 0.2, minpsffraction=0.9, maxpsffraction=0.5)
