"""Tests of the CUDA kernels under numba-cuda's simulator.

numba reads ``NUMBA_ENABLE_CUDASIM`` when ``numba.cuda`` is first imported, so these tests run
in their own pytest process, launched with the variable set by
``tests/kernels/test_cuda_simulator.py``; a test session without it does not collect them.
"""

import os

collect_ignore_glob = [] if os.environ.get("NUMBA_ENABLE_CUDASIM") == "1" else ["test_*.py"]
