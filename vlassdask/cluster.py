"""Turn a cluster spec (``cluster/*.yaml``) into a dask.distributed ``Client``.

This is the one place where vlassdask creates a cluster. Specs are YAML mappings read with
``yaml.safe_load``::

    kind: local            # local | slurm | pbs
    n_workers: 2           # local: worker processes
    threads_per_worker: 1
    memory_limit: auto
    processes: true        # false: one process, its workers as threads
    profile: true          # the workers' statistical profiler (the dashboard's Profile page)
    dashboard_address: 127.0.0.1:8787   # localhost only unless you say otherwise

    kind: cuda             # dask-cuda's LocalCUDACluster: one worker per GPU (--device gpu)
    n_workers: 1           # cuda: GPUs to use (default: all visible)
    memory_limit: auto

    kind: slurm            # or pbs: dask-jobqueue, keyword arguments under `cluster:`
    jobs: 4                # number of batch jobs to scale to
    cluster: {cores: 16, processes: 4, memory: 64GB, walltime: "04:00:00"}

Dashboards bind to localhost by default.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable, Iterator
from typing import Any

import dask

from vlassdask.errors import ConfigError, InputError, reject_unknown_keys
from vlassdask.io.config_files import read_yaml_mapping

LOCALHOST = "127.0.0.1"
DEFAULT_DASHBOARD = f"{LOCALHOST}:0"
#: Jobs with less input than this run on one worker process with a thread per core: moving
#: prepared visibilities and grids between processes costs more than it gains below it.
SMALL_JOB_BYTES = 1 << 30
_JOBQUEUE_CLASSES = {"slurm": "SLURMCluster", "pbs": "PBSCluster"}


#: Keys of a local and of a dask-jobqueue cluster spec.
_LOCAL_KEYS = ("n_workers", "threads_per_worker", "memory_limit", "processes", "profile")
_CUDA_KEYS = ("n_workers", "memory_limit")
_JOBQUEUE_KEYS = ("cluster", "jobs")
#: (key, accepted types, description) of the typed keys.
_SPEC_TYPES = (
    ("n_workers", (int,), "a whole number"),
    ("threads_per_worker", (int,), "a whole number"),
    ("jobs", (int,), "a whole number"),
    ("memory_limit", (str, int, float), "a size such as '4GB', a number of bytes or 'auto'"),
    ("processes", (bool,), "true or false"),
    ("profile", (bool,), "true or false"),
    ("dashboard_address", (str,), "an address such as '127.0.0.1:8787'"),
    ("cluster", (dict,), "a mapping of dask-jobqueue options"),
)


def load_cluster_spec(path: str | os.PathLike) -> dict[str, Any]:
    """Read and validate a cluster spec file.

    Raises
    ------
    InputError
        If the file is missing or is not a YAML mapping.
    ConfigError
        If ``kind`` is unknown.
    """
    spec = read_yaml_mapping(path, what="cluster spec", error=InputError)
    kind = spec.get("kind", "local")
    if kind not in ("local", "cuda", *_JOBQUEUE_CLASSES):
        raise ConfigError(f"cluster spec {path}: unknown kind {kind!r} (local, cuda, slurm or "
                          "pbs)")
    keys = {"local": _LOCAL_KEYS, "cuda": _CUDA_KEYS}.get(kind, _JOBQUEUE_KEYS)
    known = ("kind", "dashboard_address", *keys)
    reject_unknown_keys(spec, known, f"cluster spec {path}: unknown key(s)")
    for key, types, what in _SPEC_TYPES:
        value = spec.get(key)
        if value is not None and (isinstance(value, bool) and bool not in types
                                  or not isinstance(value, types)):
            raise ConfigError(f"cluster spec {path}: {key} must be {what}, got {value!r}")
        if value is not None and types == (int,) and value < 1:
            raise ConfigError(f"cluster spec {path}: {key} must be >= 1, got {value}")
    return spec


def _local_cluster(spec: dict[str, Any]):
    from distributed import LocalCluster

    # the workers' statistical profiler samples every thread's stack 100 times a second: on
    # a small machine that costs the embedded cluster a third of the main job's time
    processes = bool(spec.get("processes", True))
    # worker processes listen on localhost only; in-process workers talk over inproc://
    where = {"host": LOCALHOST} if processes else {}
    with dask.config.set({"distributed.worker.profile.enabled": bool(spec.get("profile", True))}):
        return LocalCluster(
            n_workers=int(spec.get("n_workers", min(os.cpu_count() or 1, 4))),
            threads_per_worker=int(spec.get("threads_per_worker", 1)),
            memory_limit=spec.get("memory_limit", "auto"),
            dashboard_address=spec.get("dashboard_address", DEFAULT_DASHBOARD),
            processes=processes, worker_dashboard_address=f"{LOCALHOST}:0", **where,
        )


def _cuda_cluster(spec: dict[str, Any]):
    """dask-cuda's LocalCUDACluster: one single-threaded worker process per GPU, each pinned
    to its device (so ``--device gpu`` tasks of a worker use that worker's GPU)."""
    try:
        from dask_cuda import LocalCUDACluster
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ConfigError("dask-cuda is needed for cuda cluster specs: pip install dask-cuda "
                          "(or use a local spec with one worker per GPU)") from exc
    n_workers = spec.get("n_workers")
    return LocalCUDACluster(
        CUDA_VISIBLE_DEVICES=list(range(int(n_workers))) if n_workers else None,
        memory_limit=spec.get("memory_limit", "auto"),
        dashboard_address=spec.get("dashboard_address", DEFAULT_DASHBOARD), host=LOCALHOST,
    )


def _jobqueue_cluster(spec: dict[str, Any]):
    try:
        import dask_jobqueue
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ConfigError("dask-jobqueue is needed for slurm/pbs specs: pip install "
                          "'vlassdask[jobqueue]'") from exc
    kwargs = dict(spec.get("cluster", {}))
    sched = dict(kwargs.pop("scheduler_options", {}))
    sched.setdefault("dashboard_address", spec.get("dashboard_address", DEFAULT_DASHBOARD))
    cls = getattr(dask_jobqueue, _JOBQUEUE_CLASSES[spec["kind"]])
    cluster = cls(scheduler_options=sched, **kwargs)
    cluster.scale(jobs=int(spec.get("jobs", 1)))
    return cluster


def _threads(n: int) -> str:
    return f"{n} thread" + ("s" if n != 1 else "")


def default_local_spec(job_bytes: int, *, cores: int | None = None) -> tuple[dict[str, Any], str]:
    """The embedded cluster for a job of ``job_bytes`` input, and a line saying why.

    Small jobs (below :data:`SMALL_JOB_BYTES`) get one in-process worker with a thread per
    core: the numba kernels release the GIL, and nothing is serialised between processes
    (about 3x faster than two worker processes for the README's main job). Larger jobs get
    worker processes (up to four, the cores shared among them), whose memory limits and
    restarts keep one failing task from taking the whole run down.

    Parameters
    ----------
    job_bytes
        Size of the job's input (its Measurement Set on disk, or the simulation's visibilities).
    cores
        Cores to use (default: those of this machine).
    """
    cores = max(1, cores or os.cpu_count() or 1)
    size = f"{job_bytes / (1 << 20):.0f} MiB" if job_bytes < (1 << 30) else \
        f"{job_bytes / (1 << 30):.1f} GiB"
    if job_bytes < SMALL_JOB_BYTES:
        return ({"kind": "local", "n_workers": 1, "threads_per_worker": cores,
                 "processes": False, "profile": False},
                f"embedded cluster: 1 in-process worker x {_threads(cores)} (small job, {size}; "
                "--cluster cluster/local.yaml for worker processes)")
    workers = min(cores, 4)
    return ({"kind": "local", "n_workers": workers,
             "threads_per_worker": max(1, cores // workers), "processes": True, "profile": False},
            f"embedded cluster: {workers} worker processes x {_threads(max(1, cores // workers))}"
            f" (job of {size})")


def _dashboard_link(client: Any, spec: dict[str, Any] | None) -> str:
    """The dashboard's address as it is bound: distributed builds its link from the
    scheduler's host, which for an in-process cluster is this machine's network address
    although the dashboard listens on localhost only."""
    host = str((spec or {}).get("dashboard_address", DEFAULT_DASHBOARD)).rsplit(":", 1)[0]
    port = client.scheduler_info().get("services", {}).get("dashboard")
    if spec is None or spec.get("kind", "local") != "local" or not host or port is None:
        return client.dashboard_link
    return f"http://{host}:{port}/status"


@contextlib.contextmanager
def _quiet_shutdown() -> Iterator[None]:
    """Silence distributed's loggers while a cluster closes: the work is done, and what they
    say then is noise ("Worker process still alive ... killing", heartbeats to a scheduler
    already gone, the cancelled feed of a finished progress bar)."""
    logger = logging.getLogger("distributed")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)


@contextlib.contextmanager
def open_client(
    *,
    scheduler: str | None = None,
    spec: dict[str, Any] | None = None,
    announce: Callable[[str], None] = print,
) -> Iterator[Any]:
    """Yield a connected ``distributed.Client``; close what was started on exit.

    Parameters
    ----------
    scheduler
        Address of a running scheduler (``tcp://host:8786``); takes precedence over ``spec``.
    spec
        A cluster spec mapping (see module docstring); default: a LocalCluster.
    announce
        Called once with a line giving the dashboard address.
    """
    from distributed import Client

    if scheduler:
        client = Client(scheduler)
        cluster = None
    else:
        spec = spec or {"kind": "local"}
        make = {"local": _local_cluster, "cuda": _cuda_cluster}.get(spec.get("kind", "local"),
                                                                    _jobqueue_cluster)
        cluster = make(spec)
        client = Client(cluster)
    announce(f"dask dashboard: {_dashboard_link(client, spec)}")
    try:
        yield client
    finally:
        with _quiet_shutdown():
            client.close()
            if cluster is not None:
                cluster.close()
