"""Thermal noise level, weights and seeded reproducibility."""

import numpy as np
import pandas as pd
import pytest

from vlassdask.testing.ms import make_test_ms, small_config

from .helpers import read_table

EMPTY_SKY = pd.DataFrame({"ra_deg": [], "dec_deg": [], "flux_jy": []})


def _noise_ms(directory, name, seed):
    return make_test_ms(
        directory,
        name=name,
        sky=EMPTY_SKY,
        noise_sigma_jy=0.2,
        duration_s=0.9,
        spw_ids=[2],
        seed=seed,
        flag_fraction=0.3,
        rows_per_chunk=300,
    )


@pytest.fixture(scope="module")
def noise_runs(tmp_path_factory):
    directory = tmp_path_factory.mktemp("noise")
    return [_noise_ms(directory, f"run{i}.ms", seed) for i, seed in enumerate((5, 5, 6))]


def test_noise_rms_and_weights(noise_runs):
    main = read_table(noise_runs[0], ["DATA", "WEIGHT", "SIGMA"])
    assert np.std(main["DATA"].real) == pytest.approx(0.2, rel=0.03)
    assert np.std(main["DATA"].imag) == pytest.approx(0.2, rel=0.03)
    np.testing.assert_allclose(main["SIGMA"], 0.2, rtol=1e-6)
    np.testing.assert_allclose(main["WEIGHT"], 25.0, rtol=1e-6)


def test_same_seed_gives_identical_data(noise_runs):
    first, same, other = (read_table(ms, ["DATA", "FLAG"]) for ms in noise_runs)
    np.testing.assert_array_equal(first["DATA"], same["DATA"])
    np.testing.assert_array_equal(first["FLAG"], same["FLAG"])
    assert not np.array_equal(first["DATA"], other["DATA"])
    assert not np.array_equal(first["FLAG"], other["FLAG"])


def test_radiometer_noise_default():
    config = small_config(noise_sigma_jy=None, nchan_per_spw=64)
    expected = 370.0 / (0.93 * np.sqrt(2 * 2e6 * 0.45))
    assert config.visibility_sigma_jy == pytest.approx(expected)
