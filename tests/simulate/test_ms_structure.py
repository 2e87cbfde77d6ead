"""The simulated MS is a complete Measurement Set readable by python-casacore and dask-ms."""

import casacore.tables as ct
import numpy as np
import pytest
from daskms import xds_from_ms, xds_from_table

from vlassdask.errors import ProductExistsError
from vlassdask.io.atomic import is_complete
from vlassdask.products.simulation import simulate_observation
from vlassdask.testing.ms import TEST_MS_DEFAULTS, sample_sky, small_config

from .helpers import read_table

SUBTABLES = (
    "ANTENNA",
    "SPECTRAL_WINDOW",
    "POLARIZATION",
    "DATA_DESCRIPTION",
    "FIELD",
    "OBSERVATION",
    "POINTING",
    "STATE",
    "FEED",
    "HISTORY",
    "PROCESSOR",
    "FLAG_CMD",
    "SOURCE",
)


def test_casacore_opens_main_table_and_all_subtables(pointed_ms):
    assert is_complete(pointed_ms)
    with ct.table(str(pointed_ms), ack=False) as ms:
        keywords = ms.getkeywords()
        n_rows = ms.nrows()
        columns = set(ms.colnames())
        data = ms.getcol("DATA", startrow=0, nrow=5)
    n_bl, n_times, n_spw = 27 * 26 // 2, 10, len(TEST_MS_DEFAULTS["spw_ids"])
    assert n_rows == n_bl * n_times * n_spw
    assert data.dtype == np.complex64 and data.shape == (5, 4, 4)
    required = {"DATA", "FLAG", "FLAG_ROW", "WEIGHT", "SIGMA", "WEIGHT_SPECTRUM", "UVW", "TIME"}
    assert required | {"TIME_CENTROID", "EXPOSURE", "FEED1", "PROCESSOR_ID"} <= columns
    for name in SUBTABLES:
        assert name in keywords
        with ct.table(keywords[name].replace("Table: ", ""), ack=False) as sub:
            assert sub.nrows() > 0 or name == "FLAG_CMD"


def test_subtable_contents(pointed_ms):
    pol = read_table(pointed_ms, ["CORR_TYPE", "CORR_PRODUCT"], "POLARIZATION")
    np.testing.assert_array_equal(pol["CORR_TYPE"], [[5, 6, 7, 8]])
    spw = read_table(pointed_ms, ["CHAN_FREQ", "CHAN_WIDTH", "NUM_CHAN", "NAME"], "SPECTRAL_WINDOW")
    width = 128e6 / 4
    for row, k in enumerate(TEST_MS_DEFAULTS["spw_ids"]):
        expected = 1.965e9 + k * 128e6 + (np.arange(4) + 0.5) * width
        np.testing.assert_allclose(spw["CHAN_FREQ"][row], expected)
    np.testing.assert_allclose(spw["CHAN_WIDTH"], width)
    dd = read_table(pointed_ms, ["SPECTRAL_WINDOW_ID", "POLARIZATION_ID"], "DATA_DESCRIPTION")
    np.testing.assert_array_equal(dd["SPECTRAL_WINDOW_ID"], [0, 1, 2])
    field = read_table(pointed_ms, ["PHASE_DIR", "DELAY_DIR", "REFERENCE_DIR", "NAME"], "FIELD")
    assert field["PHASE_DIR"].shape == (1, 1, 2)
    np.testing.assert_allclose(np.degrees(field["PHASE_DIR"][0, 0]), [150.0, 34.0])
    ant = read_table(pointed_ms, ["POSITION", "DISH_DIAMETER", "NAME", "STATION"], "ANTENNA")
    assert ant["POSITION"].shape == (27, 3) and np.all(ant["DISH_DIAMETER"] == 25.0)
    assert ant["STATION"][0] == "W04"


def test_main_table_columns(pointed_ms):
    main = read_table(
        pointed_ms,
        ["ANTENNA1", "ANTENNA2", "TIME", "INTERVAL", "DATA_DESC_ID", "WEIGHT", "SIGMA"],
    )
    assert np.all(main["ANTENNA1"] < main["ANTENNA2"])  # no auto-correlations
    np.testing.assert_allclose(main["INTERVAL"], 0.45)
    np.testing.assert_array_equal(np.unique(main["DATA_DESC_ID"]), [0, 1, 2])
    times = np.unique(main["TIME"])
    np.testing.assert_allclose(np.diff(times), 0.45, atol=1e-6)
    np.testing.assert_allclose(main["WEIGHT"], 1.0)  # noiseless: unit weights
    np.testing.assert_allclose(main["SIGMA"], 1.0)


def test_dask_ms_reads_back(pointed_ms):
    datasets = xds_from_ms(
        str(pointed_ms), group_cols=["FIELD_ID", "DATA_DESC_ID"], index_cols=["TIME"]
    )
    assert len(datasets) == 3
    assert datasets[0].DATA.shape == (3510, 4, 4)
    spw = xds_from_table(f"{pointed_ms}::SPECTRAL_WINDOW")[0]
    assert spw.CHAN_FREQ.shape == (3, 4)


def test_existing_output_is_left_alone(sim_dir, pointed_ms):
    before = (pointed_ms / "table.dat").stat().st_mtime_ns
    config = small_config(duration_s=0.45)
    with pytest.raises(ProductExistsError):
        simulate_observation(config, sample_sky(), pointed_ms)
    assert (pointed_ms / "table.dat").stat().st_mtime_ns == before
    assert [p.name for p in sim_dir.iterdir() if p.name.startswith(".")] == []
