"""QA configuration: pipelines/qa.yaml = built-in VLASS defaults, merging, validation."""

import re
from pathlib import Path

import pytest

from vlassdask.errors import ConfigError
from vlassdask.io.config_files import load_qa_config
from vlassdask.qa.config import QAConfig
from vlassdask.qa.decision import ImagingParameters
from vlassdask.qa.detectors import DetectorConfig

QA_YAML = Path(__file__).resolve().parents[2] / "pipelines" / "qa.yaml"


def write(tmp_path, text):
    path = tmp_path / "qa.yaml"
    path.write_text(text)
    return path


def test_pipeline_yaml_is_the_builtin_default():
    loaded = load_qa_config(QA_YAML)
    assert loaded.detectors.to_dict() == DetectorConfig().to_dict(), (
        "pipelines/qa.yaml detectors: differs from the DetectorConfig defaults")
    assert loaded == QAConfig()


def test_defaults_are_the_vlass_values():
    config = QAConfig()
    d = config.decision
    assert (d.ratio_full_max, d.ratio_sub_max, d.relaxed_ratio_sub_max) == (20.0, 6.0, 10.0)
    assert d.beam_major_max_arcsec == 6.0 and d.beam_action == "reject"
    assert d.detector_actions["pb_holes"] == "reject"
    ql, se = config.product_types["QL"], config.product_types["SE"]
    assert (ql.cell_arcsec, ql.subimage_size, ql.subimage_arcsec) == (1.0, 3722, 3722.0)
    assert ql.ladder.parameters(0) == ImagingParameters(0, 500, 7290)
    assert ql.ladder.parameters(2) == ImagingParameters(2, 250, 5760)
    assert (se.cell_arcsec, se.subimage_size) == (0.6, 6202)
    assert se.subimage_arcsec == pytest.approx(3721.2)
    assert se.ladder.parameters(0).imsize == 12500 and se.ladder.parameters(2).imsize == 9600
    assert se.decision.beam_action == "review"
    assert se.decision.detector_actions["pb_holes"] == "review"
    assert se.decision.detector_actions["rfi"] == "review"
    assert config.detectors == DetectorConfig()


def test_every_threshold_in_the_yaml_says_where_it_comes_from():
    for line in QA_YAML.read_text().splitlines():
        if re.match(r"^\s+[a-z_]+:\s*[-0-9a-z\[{]", line) and "{}" not in line:
            assert "#" in line, f"no source comment: {line!r}"


def test_round_trip():
    config = QAConfig.from_mapping({"product_type": "SE",
                                    "decision": {"ratio_sub_max": 5.0},
                                    "product_types": {"QL": {"retry_ladder": [
                                        {"cycleniter": 100}]}}})  # fmt: skip
    assert QAConfig.from_mapping(config.to_dict()) == config
    assert config.product_type == "SE"


def test_shared_decision_reaches_every_product_type(tmp_path):
    path = write(tmp_path, "qa:\n  decision:\n    ratio_sub_max: 5.0\n"
                 "    detector_actions: {rfi: reject}\n")  # fmt: skip
    config = load_qa_config(path)
    for name in ("QL", "SE"):
        decision = config.with_product_type(name).decision
        assert decision.ratio_sub_max == 5.0 and decision.detector_actions["rfi"] == "reject"
    se = config.with_product_type("SE").decision
    assert se.beam_action == "review" and se.detector_actions["pb_holes"] == "review"
    assert config.decision.detector_actions["pb_holes"] == "reject"


def test_partial_product_type_keeps_the_other_keys():
    config = QAConfig.from_mapping({"product_types": {"SE": {"subimage_size": 4096}}})
    se = config.product_types["SE"]
    assert se.subimage_size == 4096 and se.cell_arcsec == 0.6 and se.ladder.imsize == 12500


def test_new_product_type():
    cube = {"cell_arcsec": 0.6, "imsize": 12500, "subimage_size": 6202, "cycleniter": 100,
            "retry_ladder": [], "decision": {"ratio_sub_max": 8.0}}  # fmt: skip
    config = QAConfig.from_mapping({"product_type": "CC", "product_types": {"CC": cube}})
    assert config.product.ladder.retries == 0 and config.decision.ratio_sub_max == 8.0
    with pytest.raises(ConfigError, match="product type XX: missing cell_arcsec"):
        QAConfig.from_mapping({"product_types": {"XX": {"imsize": 10}}})


@pytest.mark.parametrize("mapping, message", [
    ({"thresholds": {}}, "unknown qa option.*thresholds"),
    ({"product_type": "VLA"}, "unknown product_type 'VLA'"),
    ({"decision": {"ratio_sub": 6}}, "unknown decision option.*ratio_sub"),
    ({"decision": []}, "decision must be a mapping"),
    ({"product_types": {"QL": {"sub_image": 10}}}, "product type QL: unknown option.*sub_image"),
    ({"product_types": {"QL": {"retry_ladder": [{"cycleniter": 900}]}}},
     "product type QL: retry_ladder step 1 must not increase"),
    ({"product_types": {"QL": {"retry_ladder": {"cycleniter": 100}}}}, "must be a list"),
    ({"product_types": {"QL": {"subimage_size": 8000}}}, "subimage_size must be an integer"),
    ({"product_types": {"SE": {"cell_arcsec": -1}}}, "cell_arcsec must be positive"),
    ({"product_types": {"SE": {"decision": {"beam_action": "drop"}}}}, "beam_action must be"),
    ({"detectors": {"no_such_threshold": 1}}, "no_such_threshold"),
])  # fmt: skip
def test_bad_config(mapping, message):
    with pytest.raises(ConfigError, match=message):
        QAConfig.from_mapping(mapping)


@pytest.mark.parametrize("text, message", [
    ("qa: [1, 2]\n", "the qa section must be a mapping"),
    ("imaging: {}\n", "has no 'qa:' section"),
    ("qa: {decision: {ratio_sub_max: 5}\n", "not valid YAML"),
    ("- 1\n", "is not a YAML mapping"),
])  # fmt: skip
def test_bad_files(tmp_path, text, message):
    with pytest.raises(ConfigError, match=message):
        load_qa_config(write(tmp_path, text))
    with pytest.raises(ConfigError, match="QA config .*missing.yaml does not exist"):
        load_qa_config(tmp_path / "missing.yaml")


def test_pipeline_file_with_other_sections(tmp_path):
    path = write(tmp_path, "imaging: {imsize: [64, 64]}\nqa:\n  product_type: SE\n")
    assert load_qa_config(path) == QAConfig().with_product_type("SE")
