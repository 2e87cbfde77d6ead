"""CombineConfig: VLASS defaults, the pipeline YAML, validation with clear messages."""

from pathlib import Path

import pytest

from vlassdask.combine.config import CombineConfig
from vlassdask.errors import ConfigError
from vlassdask.products.combined import read_combine_config

PIPELINE = Path(__file__).resolve().parents[2] / "pipelines" / "combine.yaml"


def test_pipeline_yaml_holds_the_defaults():
    assert read_combine_config(PIPELINE) == CombineConfig()
    defaults = CombineConfig()
    assert (defaults.kernel_skip_fraction, defaults.regrid_tolerance) == (0.2, 0.1)


def test_from_mapping_and_round_trip():
    config = CombineConfig.from_mapping(
        {"reference": 1, "target_beam": {"major_arcsec": 4, "minor_arcsec": 3, "pa_deg": 10}}
    )
    assert config.target_beam == {"major_arcsec": 4.0, "minor_arcsec": 3.0, "pa_deg": 10.0}
    assert CombineConfig.from_mapping(config.to_dict()) == config


@pytest.mark.parametrize(
    ("values", "text"),
    [
        ({"chunk_size": 10}, "unknown combine option(s): chunk_size"),
        ({"min_support": 0}, "min_support"),
        ({"kernel_skip_fraction": -1}, "kernel_skip_fraction"),
        ({"reference": -1}, "reference"),
        ({"chunk_pixels": 8}, "chunk_pixels"),
        ({"target_beam": {"major_arcsec": 2, "minor_arcsec": 3, "pa_deg": 0}}, "target_beam"),
        ({"target_beam": {"major_arcsec": 3}}, "target_beam"),
        ({"scale_rms": "yes"}, "scale_rms"),
    ],
)
def test_invalid_values_name_the_key(values, text):
    with pytest.raises(ConfigError, match=text.replace("(", r"\(").replace(")", r"\)")):
        CombineConfig.from_mapping(values)


def test_config_file_errors(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("combine:\n  reference: 0\nimaging:\n  cell_arcsec: 1\n")
    with pytest.raises(ConfigError, match="unknown section"):
        read_combine_config(bad)
    with pytest.raises(ConfigError, match="does not exist"):
        read_combine_config(tmp_path / "missing.yaml")
    flat = tmp_path / "flat.yaml"
    flat.write_text("min_support: 0.5\n")
    assert read_combine_config(flat).min_support == 0.5
