"""Session-scoped simulated Measurement Sets shared by the simulator tests."""

import pandas as pd
import pytest

from vlassdask.testing.ms import make_test_ms, small_config

OTF_OVERRIDES = {
    "mode": "otf",
    "duration_s": 3.6,  # 8 integrations = 4 phase centres
    "spw_ids": [3],
    "nchan_per_spw": 2,
    "dec_deg": -26.0,
    "hour_angle_h": -1.0,
}


@pytest.fixture(scope="session")
def sim_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("simulate")


@pytest.fixture(scope="session")
def pointed_ms(sim_dir):
    """The default test MS (noiseless sample sky) with flags and WEIGHT_SPECTRUM."""
    return make_test_ms(
        sim_dir,
        name="pointed.ms",
        flag_fraction=0.1,
        flag_baselines=[["ea01", "ea02"]],
        flag_time_ranges_s=[[0.0, 0.45]],
        weight_spectrum=True,
        rows_per_chunk=2000,
    )


@pytest.fixture(scope="session")
def otf_ms(sim_dir):
    """An OTF MS with one point source at the raster centre (0.5' off each phase centre)."""
    config = small_config(**OTF_OVERRIDES)
    sky = pd.DataFrame({"ra_deg": [config.ra_deg], "dec_deg": [config.dec_deg], "flux_jy": [1.0]})
    return make_test_ms(sim_dir, name="otf.ms", sky=sky, **OTF_OVERRIDES)
