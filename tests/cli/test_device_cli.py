"""``--device``: without cupy or a CUDA device, ``--device gpu`` fails at once with one line
(exit 2); ``auto`` falls back to the CPU (the product records the device that ran: see
tests/cli/test_image_cli.py)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from vlassdask.imaging.backend import NUMPY_BACKEND, resolve_backend

NO_GPU = resolve_backend("auto") is NUMPY_BACKEND


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "vlassdask.cli.main", *args],
                          capture_output=True, text=True, check=False, timeout=300)


def _one_error_line(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    return lines[0]


@pytest.mark.skipif(not NO_GPU, reason="a usable GPU is present")
@pytest.mark.parametrize("command", ["image", "clean", "quicklook"])
def test_device_gpu_without_a_gpu_fails_with_one_line(command, tmp_path):
    where = ["--phasecenter", "J101500+120000"] if command == "quicklook" else []
    proc = _cli(command, "--ms", str(tmp_path / "missing.ms"), "--out",
                str(tmp_path / "x.zarr"), *where, "--device", "gpu")
    line = _one_error_line(proc)
    assert line.startswith("error: --device gpu: ")
    assert any(word in line for word in ("cupy", "CUDA", "numba-cuda"))
    assert not (tmp_path / "x.zarr").exists()


def test_unknown_device_is_refused(tmp_path):
    proc = _cli("image", "--ms", str(tmp_path / "missing.ms"), "--out", str(tmp_path / "x.zarr"),
                "--device", "tpu")
    assert "device must be one of" in _one_error_line(proc)
