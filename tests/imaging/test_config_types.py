"""Typed configuration: each badly typed value gives one message naming the key and the type."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from vlassdask.cluster import load_cluster_spec
from vlassdask.errors import ConfigError, InputError
from vlassdask.imaging.config import ImagingConfig
from vlassdask.imaging.visibilities import parallel_hand_indices


@pytest.mark.parametrize(("values", "says"), [
    ({"imsize": "big"}, "imsize must be two whole numbers"),
    ({"imsize": [512, 512, 7]}, "imsize must be two whole numbers"),
    ({"imsize": [512.5, 512]}, "imsize must be two whole numbers"),
    ({"robust": "high"}, "robust must be a number"),
    ({"cell_arcsec": "1arcsec"}, "cell_arcsec must be a number"),
    ({"make_psf": "yes"}, "make_psf must be true or false"),
    ({"row_chunks": 1.5}, "row_chunks must be a whole number"),
    ({"spws": ["a"]}, "spws must be a list"),
    ({"support": 0}, "support must be >= 1"),
])
def test_bad_types_name_the_key(values, says):
    with pytest.raises(ConfigError, match=says):
        ImagingConfig.from_mapping(values)


def test_imsize_forms():
    assert ImagingConfig.from_mapping({"imsize": 512}).imsize == (512, 512)
    assert ImagingConfig.from_mapping({"imsize": [512]}).imsize == (512, 512)
    assert ImagingConfig.from_mapping({"imsize": [512, 256]}).imsize == (512, 256)


def test_cli_config_type_error_is_one_line(tmp_path):
    config = tmp_path / "img.yaml"
    config.write_text(yaml.safe_dump({"imaging": {"imsize": "big"}}))
    proc = subprocess.run([sys.executable, "-m", "vlassdask.cli.main", "image", "--ms",
                           str(tmp_path / "none.ms"), "--out", str(tmp_path / "o.zarr"),
                           "--config", str(config)], capture_output=True, text=True, check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "error: imaging option imsize must be two whole numbers of pixels (nx, ny), got 'big'"]


@pytest.mark.parametrize(("spec", "says"), [
    ({"kind": "local", "n_workers": "many"}, "n_workers must be a whole number"),
    ({"kind": "local", "n_workers": 0}, "n_workers must be >= 1"),
    ({"kind": "local", "threads_per_worker": True}, "threads_per_worker must be a whole number"),
    ({"kind": "local", "n_wokers": 2}, "unknown key"),
    ({"kind": "slurm", "jobs": 2, "cluster": "big"}, "cluster must be a mapping"),
    ({"kind": "local", "processes": "no"}, "processes must be true or false"),
])
def test_cluster_spec_types_and_keys(tmp_path, spec, says):
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec))
    with pytest.raises(ConfigError, match=says):
        load_cluster_spec(path)


def test_shipped_cluster_specs_are_valid():
    for name in ("local", "slurm", "pbs"):
        spec = Path(__file__).parents[2] / "cluster" / f"{name}.yaml"
        assert load_cluster_spec(spec)["kind"] == name


def test_one_parallel_hand_says_both_are_needed():
    with pytest.raises(InputError, match=r"both parallel hands .* the data have RR "):
        parallel_hand_indices([5])
    assert parallel_hand_indices([5, 6, 7, 8]) == (0, 3)
