"""The CUDA kernels compile for a real GPU (PTX for compute capability 8.0), without one.

The simulator tests (``tests/cuda_sim``) run the kernels as Python, which checks their logic but
not that numba-cuda can type and lower them for a device. ``numba.cuda.compile_ptx`` does that
without a GPU when NVRTC is installed (``numba-cuda[cu12]``, in the test extra); without NVRTC
these tests are skipped.
"""

from __future__ import annotations

import numba
import pytest
from numba import cuda
from numba import types as nt

from vlassdask.kernels import cuda_gridder, cuda_layers

F64, I64 = nt.float64, nt.int64
PRECISIONS = [(numba.complex64, numba.float32), (numba.complex128, numba.float64)]


def _array(dtype, ndim: int) -> nt.Array:
    return nt.Array(dtype, ndim, "C")


def _compile(kernel, signature: tuple) -> str:
    try:
        ptx, _ = cuda.compile_ptx(kernel.py_func, signature, cc=(8, 0))
    except Exception as exc:  # which error a missing NVRTC raises varies by version
        if "nvrtc" in str(exc).lower() or "nvvm" in str(exc).lower():
            pytest.skip(f"NVRTC/NVVM not installed: {str(exc)[:120]}")
        raise
    return ptx


@pytest.mark.parametrize("complex_type,real_type", PRECISIONS, ids=["complex64", "complex128"])
@pytest.mark.parametrize("table_kind", ["real", "complex"])
def test_gridding_kernels_compile(complex_type, real_type, table_kind):
    spread, degrid = cuda_gridder._kernels(complex_type, real_type)
    table = _array(real_type if table_kind == "real" else complex_type, 3)
    geometry = (_array(F64, 1),) * 3
    values = _array(nt.complex64, 1)
    grids = _array(complex_type, 3)
    ptx = _compile(spread, (*geometry, values, values, grids, I64, I64, _array(real_type, 1),
                            I64, I64, table, F64, F64, F64, F64, I64, I64, I64, nt.boolean,
                            _array(I64, 1)))
    assert "atom.shared" in ptx or "red.shared" in ptx  # the shared-memory patch
    _compile(degrid, (*geometry, _array(I64, 1), I64, I64, grids, _array(nt.complex64, 1),
                      table, F64, F64, F64, F64, I64, I64))


@pytest.mark.parametrize("complex_type", [numba.complex64, numba.complex128])
def test_layer_kernels_compile(complex_type):
    signature = (_array(F64, 2), _array(complex_type, 3), F64, F64, F64)
    for kernel in (cuda_layers._accumulate, cuda_layers._spread):
        _compile(kernel, signature)
