"""One process-wide gate for numba's parallel thread pool.

numba's ``workqueue`` threading layer (the one available everywhere) allows one parallel kernel
launch at a time per process; dask runs tasks on several threads at once. Kernels with a
``parallel=True`` variant therefore take the pool through :func:`numba_pool`: one caller at a time
gets it (with ``threads`` threads), every concurrent caller runs the serial variant on its own
thread. Results are the same either way.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import numba

_POOL = threading.Lock()


@contextmanager
def numba_pool(threads: int) -> Iterator[bool]:
    """Hold numba's parallel pool with ``threads`` threads for this caller, if it is free.

    Yields
    ------
    bool
        True: call the ``parallel=True`` variant (the pool is this caller's until the block
        ends); False: call the serial variant (``threads`` <= 1, or another caller holds it).
    """
    threads = min(int(threads), numba.config.NUMBA_NUM_THREADS)
    if threads <= 1 or not _POOL.acquire(blocking=False):
        yield False
        return
    previous = numba.get_num_threads()
    try:
        numba.set_num_threads(threads)
        yield True
    finally:
        numba.set_num_threads(previous)
        _POOL.release()
