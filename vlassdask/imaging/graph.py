"""Small dask-graph building blocks shared by the imaging graphs.

Tree reductions, per-worker accumulation chains and graph inputs that are scattered once to the
workers instead of being embedded in every task.
"""

from __future__ import annotations

import contextlib
import math
import threading
from collections.abc import Iterator

import dask


def tree_reduce(items: list, combine, split_every: int = 8):
    """Tree reduction of delayed ``items`` with ``combine(*children)``."""
    level = list(items)
    while len(level) > 1:
        level = [dask.delayed(combine)(*level[i : i + split_every])
                 for i in range(0, len(level), split_every)]
    return level[0]


def split_chains(items: list, n: int) -> list[list]:
    """``items`` cut into at most ``n`` consecutive chains of (nearly) equal length."""
    n = max(1, min(n, len(items)))
    size = math.ceil(len(items) / n)
    return [items[i : i + size] for i in range(0, len(items), size)]


def sum_arrays(*arrays):
    """Sum of the arrays that are not None (in place into the first one), or None."""
    present = [a for a in arrays if a is not None]
    if not present:
        return None
    total = present[0]
    for a in present[1:]:
        total += a
    return total


def accumulate_in_chains(items: list, step, n_chains: int, *args, after=None):
    """Delayed sum over ``items`` of ``step(acc, item, *args, after)``.

    The items are split into ``n_chains`` chains; each chain folds its items into one accumulator
    in turn (per-worker accumulation: never one array per item). ``after`` is passed to the first
    step of each chain only, so the chains start once it is computed.
    """
    accs = []
    for chain in split_chains(items, n_chains):
        acc = None
        for i, item in enumerate(chain):
            acc = dask.delayed(step)(acc, item, *args, after if i == 0 else None)
        accs.append(acc)
    return dask.delayed(sum_arrays)(*accs)


_LOCAL = threading.local()
_LOCAL_LOCK = threading.Lock()
_LOCAL_DEPTH = [0, None]  # tasks inside :func:`in_this_task`, the scheduler setting they replaced


@contextlib.contextmanager
def in_this_task() -> Iterator[None]:
    """Run the graphs made inside on this thread, with dask's synchronous scheduler.

    For a whole product (a coarse-cube plane, a survey product) computed by one task on a
    distributed worker: without it, the product's graphs would go back to the cluster through
    the worker's client, and its prepared visibilities would be spread over other workers.
    Inside, :func:`current_client` is None for this thread and dask's default scheduler is
    ``synchronous`` for this process while any such task runs (dask's configuration is
    process-wide; the tasks of one worker all want the same setting, so it is counted, not
    nested). Code that must still reach the cluster meanwhile (the client of an in-process
    cluster) passes its client explicitly (``client.compute``).
    """
    with _LOCAL_LOCK:
        if _LOCAL_DEPTH[0] == 0:
            _LOCAL_DEPTH[1] = dask.config.get("scheduler", None)
            dask.config.set(scheduler="synchronous")
        _LOCAL_DEPTH[0] += 1
    _LOCAL.active = True
    try:
        yield
    finally:
        _LOCAL.active = False
        with _LOCAL_LOCK:
            _LOCAL_DEPTH[0] -= 1
            if _LOCAL_DEPTH[0] == 0:
                dask.config.set(scheduler=_LOCAL_DEPTH[1])


def current_client():
    """The active dask.distributed client, or None (local schedulers, and inside
    :func:`in_this_task`)."""
    if getattr(_LOCAL, "active", False):
        return None
    try:
        from distributed import get_client

        return get_client()
    except (ImportError, ValueError):
        return None


def worker_memory_bytes() -> int:
    """Memory the current scheduler's workers may use: the sum of the distributed workers'
    memory limits (their available system memory where unlimited), or this machine's available
    memory for dask's local schedulers."""
    import psutil

    available = int(psutil.virtual_memory().available)
    client = current_client()
    if client is None:
        return available
    limits = [int(w.get("memory_limit") or 0)
              for w in client.scheduler_info(n_workers=-1)["workers"].values()]
    return sum(limit if limit > 0 else available for limit in limits) or available


def shared(obj):
    """``obj`` as one graph input: scattered to the workers when a distributed client is active
    (kernel tables, density grids and model images are megabytes; they should not travel inside
    the graph)."""
    client = current_client()
    if client is None:
        return dask.delayed(obj, pure=True)
    return client.scatter(obj, broadcast=True, hash=False)


def persist_delayed(items: list) -> list:
    """Compute delayed ``items`` and keep the results where they are (on the workers with a
    distributed client, in this process otherwise); returns delayed handles to them."""
    client = current_client()
    if client is not None:
        from distributed import wait

        out = client.persist(items)
        wait(out)
        return list(out)
    return list(dask.persist(*items))
