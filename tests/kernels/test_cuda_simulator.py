"""Runs the CUDA kernel tests (``tests/cuda_sim``) under numba-cuda's simulator.

``NUMBA_ENABLE_CUDASIM`` must be set before ``numba.cuda`` is imported, which this session
has already done, so the simulator tests run in a pytest process of their own. CI has no GPU:
this is where the device kernels' logic is tested there.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

SIM_TESTS = Path(__file__).resolve().parent.parent / "cuda_sim"


@pytest.mark.skipif(importlib.util.find_spec("numba_cuda") is None,
                    reason="numba-cuda is not installed (pip install -e '.[test]')")
def test_cuda_kernels_under_the_simulator():
    env = {**os.environ, "NUMBA_ENABLE_CUDASIM": "1"}
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           str(SIM_TESTS)], capture_output=True, text=True, env=env,
                          check=False, timeout=600)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-3000:]
    assert " passed" in proc.stdout and " skipped" not in proc.stdout, proc.stdout[-2000:]
