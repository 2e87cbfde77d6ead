"""The interpolated kernel taps of one visibility: written once, compiled for each target.

:func:`kernel_taps` is plain Python on purpose: :mod:`vlassdask.kernels.gridder` compiles it
with ``numba.njit`` for the CPU and :mod:`vlassdask.kernels.cuda_gridder` with
``numba.cuda.jit(device=True)`` for the GPU, so both gridders take their taps from the same
code.
"""

from __future__ import annotations

import math


def kernel_taps(pos, a, table, a_min, inv_da, support, oversample, out):
    """Fill ``out`` with the kernel values for a grid position; return the first tap's cell.

    ``table`` is tap-major (plane, oversample + 1, support) with the alternating sign of the FFT
    centring baked in (:meth:`~vlassdask.kernels.wkernels.KernelTable.tap_major`), so the taps
    come from two contiguous rows, or four when there are several chirp planes: linear
    interpolation in tap offset and in chirp rate ``a``.
    """
    first = int(math.floor(pos - 0.5 * support)) + 1
    tp = (first - pos + 0.5 * support) * oversample
    j = min(max(int(tp), 0), oversample - 1)
    ft = tp - j
    sign = 1.0 - 2.0 * (first & 1)
    if table.shape[0] > 1:
        ap = (a - a_min) * inv_da
        ia = min(max(int(math.floor(ap)), 0), table.shape[0] - 2)
        fa = ap - ia
        w00 = sign * (1.0 - fa) * (1.0 - ft)
        w01 = sign * (1.0 - fa) * ft
        w10 = sign * fa * (1.0 - ft)
        w11 = sign * fa * ft
        for i in range(support):
            out[i] = (w00 * table[ia, j, i] + w01 * table[ia, j + 1, i]
                      + w10 * table[ia + 1, j, i] + w11 * table[ia + 1, j + 1, i])
    else:
        w0 = sign * (1.0 - ft)
        w1 = sign * ft
        for i in range(support):
            out[i] = w0 * table[0, j, i] + w1 * table[0, j + 1, i]
    return first
