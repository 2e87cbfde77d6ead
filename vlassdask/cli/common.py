"""Options and helpers shared by CLI sub-commands (cluster selection, console output)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from vlassdask.cluster import load_cluster_spec, open_client

console = Console(stderr=True)

SchedulerOption = Annotated[
    str | None,
    typer.Option(
        "--scheduler",
        help="Address of a running dask scheduler (tcp://host:8786). Default: start an embedded "
        "LocalCluster.",
    ),
]
ClusterOption = Annotated[
    Path | None,
    typer.Option(
        "--cluster",
        help="Cluster spec YAML (cluster/local.yaml, cluster/slurm.yaml, cluster/pbs.yaml).",
    ),
]
OverwriteOption = Annotated[
    bool, typer.Option("--overwrite", help="Replace an existing output product.")
]


@contextlib.contextmanager
def dask_session(scheduler: str | None, cluster: Path | None) -> Iterator[Any]:
    """Open the dask client a command runs on and print its dashboard address."""
    spec = load_cluster_spec(cluster) if cluster else None
    with open_client(scheduler=scheduler, spec=spec, announce=console.print) as client:
        yield client
