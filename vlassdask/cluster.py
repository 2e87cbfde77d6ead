"""Turn a cluster spec (``cluster/*.yaml``) into a dask.distributed ``Client``.

This is the one place where vlassdask creates a cluster. Specs are YAML mappings read with
``yaml.safe_load``::

    kind: local            # local | slurm | pbs
    n_workers: 2           # local: worker processes
    threads_per_worker: 1
    memory_limit: auto
    dashboard_address: 127.0.0.1:8787   # localhost only unless you say otherwise

    kind: slurm            # or pbs: dask-jobqueue, keyword arguments under `cluster:`
    jobs: 4                # number of batch jobs to scale to
    cluster: {cores: 16, processes: 4, memory: 64GB, walltime: "04:00:00"}

Dashboards bind to localhost by default.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from typing import Any

from vlassdask.errors import ConfigError, InputError, reject_unknown_keys
from vlassdask.io.config_files import read_yaml_mapping

DEFAULT_DASHBOARD = "127.0.0.1:0"
_JOBQUEUE_CLASSES = {"slurm": "SLURMCluster", "pbs": "PBSCluster"}


#: Keys of a local and of a dask-jobqueue cluster spec.
_LOCAL_KEYS = ("n_workers", "threads_per_worker", "memory_limit", "processes")
_JOBQUEUE_KEYS = ("cluster", "jobs")
#: (key, accepted types, description) of the typed keys.
_SPEC_TYPES = (
    ("n_workers", (int,), "a whole number"),
    ("threads_per_worker", (int,), "a whole number"),
    ("jobs", (int,), "a whole number"),
    ("memory_limit", (str, int, float), "a size such as '4GB', a number of bytes or 'auto'"),
    ("processes", (bool,), "true or false"),
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
    if kind not in ("local", *_JOBQUEUE_CLASSES):
        raise ConfigError(f"cluster spec {path}: unknown kind {kind!r} (local, slurm or pbs)")
    known = ("kind", "dashboard_address", *(_LOCAL_KEYS if kind == "local" else _JOBQUEUE_KEYS))
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

    return LocalCluster(
        n_workers=int(spec.get("n_workers", min(os.cpu_count() or 1, 4))),
        threads_per_worker=int(spec.get("threads_per_worker", 1)),
        memory_limit=spec.get("memory_limit", "auto"),
        dashboard_address=spec.get("dashboard_address", DEFAULT_DASHBOARD),
        processes=bool(spec.get("processes", True)),
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
        cluster = _local_cluster(spec) if spec.get("kind", "local") == "local" else \
            _jobqueue_cluster(spec)
        client = Client(cluster)
    announce(f"dask dashboard: {client.dashboard_link}")
    try:
        yield client
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
