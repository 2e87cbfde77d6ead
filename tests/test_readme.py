"""The README's Quick start and Python example run exactly as written, in order, on a fresh
directory (as a user who has just installed vlassdask would run them)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import xarray as xr

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def _block(heading: str, language: str) -> str:
    """The first fenced ``language`` block after ``heading``."""
    start = README.index(heading)
    match = re.compile(rf"```{language}\n(.*?)```", re.S).search(README, start)
    assert match, f"no {language} block after {heading!r}"
    return match.group(1)


@pytest.fixture(scope="module")
def user_dir(tmp_path_factory):
    """A fresh directory with the repository's pipelines/ (the README says to run from the
    repository root) and the installed ``vlassdask`` command first on PATH."""
    path = tmp_path_factory.mktemp("readme")
    (path / "pipelines").symlink_to(ROOT / "pipelines")
    return path


def _env() -> dict[str, str]:
    bindir = Path(sys.executable).parent
    assert (bindir / "vlassdask").exists(), "vlassdask is not installed beside this python"
    return {**os.environ, "PATH": f"{bindir}{os.pathsep}{os.environ['PATH']}"}


def test_quick_start_runs_as_written(user_dir):
    script = _block("## Quick start", "bash")
    proc = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=user_dir, env=_env(),
                          capture_output=True, text=True, timeout=1500)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    for made in ("obs.ms", "dirty.zarr", "dirty.fits", "psf.fits", "img.zarr", "img.sky.fits",
                 "img.residual.fits", "tile.ms", "tile3.ms", "combined.zarr",
                 "combined.sky.fits", "combined-fits.zarr", "qa/report.html", "qa/result.json",
                 "qa-batch/index.html"):
        assert (user_dir / made).exists(), made
    assert (user_dir / "survey" / "index.html").exists()
    survey_rows = (user_dir / "survey" / "manifest.jsonl").read_text().splitlines()
    assert len(survey_rows) == 1 and '"state": "done"' in survey_rows[0]
    cube = user_dir / "cube" / "VLASS1.2.cc.T16t14.J095953+203000.10.2048.v1.IQU.iter3.zarr"
    assert xr.open_zarr(cube).sizes["frequency"] == 16
    epochs = [next((user_dir / d).glob("*.zarr")).name for d in ("products", "products3")]
    assert [name.split(".ql.")[0] for name in epochs] == ["VLASS1.2", "VLASS3.2"]
    combined = xr.open_zarr(user_dir / "combined.zarr")
    assert {"SKY", "RMS"} <= set(combined.data_vars)


def test_python_example_runs_as_written(user_dir):
    code = _block("From Python:", "python")
    proc = subprocess.run([sys.executable, "-c", code], cwd=user_dir, env=_env(),
                          capture_output=True, text=True, timeout=600)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "SKY" in xr.open_zarr(user_dir / "small.zarr").data_vars
