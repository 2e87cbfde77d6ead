"""Options and helpers shared by CLI sub-commands (cluster selection, console output)."""

from __future__ import annotations

import contextlib
import json
import re
from pathlib import Path
from typing import Annotated, Any, NamedTuple

import dask
import typer
from rich.console import Console

from vlassdask.cluster import default_local_spec, load_cluster_spec, open_client
from vlassdask.errors import InputError

#: Messages go to stderr; no hard wrapping, so that log files keep one line per message.
console = Console(stderr=True, soft_wrap=True)

SchedulerOption = Annotated[
    str | None,
    typer.Option(
        "--scheduler",
        help="Address of a running dask scheduler (tcp://host:8786), or 'threads' / 'sync' / "
        "'processes' for dask's local schedulers without a cluster. Default: see the command.",
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
JsonOption = Annotated[bool, typer.Option("--json", help="Print a JSON summary on stdout.")]
#: The options of the per-phase-centre product commands (quicklook, coarse-cube).
ProductMsOption = Annotated[Path, typer.Option(
    "--ms", help="On-the-fly Measurement Set covering the phase centre (never modified).")]
PhaseCenterOption = Annotated[str, typer.Option(
    "--phasecenter", help="VLASS phase-centre name Jhhmmss+ddmmss (vlassdask phasecenters "
    "lists a tile's); a survey phase centre's exact position is used.")]
ProductOutOption = Annotated[Path, typer.Option("--out", help="Directory of the products "
                                                "(created).")]
PresetOption = Annotated[str | None, typer.Option(
    "--preset", help="A preset of the configuration, e.g. small (laptops and CI).")]


LOCAL_SCHEDULERS = ("threads", "sync", "processes")


class WorkerThreads(NamedTuple):
    """The threads a command's dask work runs on.

    Attributes
    ----------
    total
        Threads of all workers: the imaging's grid accumulators (one fold chain each).
    per_worker
        Threads of the largest worker: what one task (a w-layer's FFT and image pass) may use.
    """

    total: int
    per_worker: int


@contextlib.contextmanager
def run_on_scheduler(scheduler: str | None, cluster: Path | None, *, default: str = "cluster",
                     job_bytes: int = 0):  # fmt: skip
    """Run the enclosed dask work on a local scheduler, a scheduler address or a cluster spec.

    ``scheduler`` may be a scheduler address or one of :data:`LOCAL_SCHEDULERS`; with neither it
    nor ``cluster``, ``default`` decides: ``"cluster"`` (an embedded LocalCluster sized for a
    job of ``job_bytes`` input by :func:`vlassdask.cluster.default_local_spec`, whose choice is
    printed) or a local scheduler name. Yields the :class:`WorkerThreads`.
    """
    if scheduler is None and cluster is None and default != "cluster":
        scheduler = default
    if scheduler in LOCAL_SCHEDULERS:
        with dask.config.set(scheduler=scheduler):
            n = 1 if scheduler == "sync" else max(1, (dask.system.CPU_COUNT or 1))
            yield WorkerThreads(n, n)
        return
    if cluster is not None:
        spec = load_cluster_spec(cluster)
    elif scheduler is None:
        spec, reason = default_local_spec(job_bytes)
        console.print(reason)
    else:
        spec = None
    with open_client(scheduler=scheduler, spec=spec, announce=console.print) as client:
        threads = list(client.nthreads().values()) or [1]
        yield WorkerThreads(max(1, sum(threads)), max(1, max(threads)))


def path_bytes(path: Path) -> int:
    """Bytes of the files under ``path`` (a Measurement Set directory); 0 if it is missing."""
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.is_dir() else 0


def parse_spw_selection(text: str) -> list[int]:
    """Spectral windows from a CASA-style selection: ``0,3``, ``0~3``, ``5-7`` or a mix
    (``0~3,9``); VLASS spw indices 0-15 are spw 2-17.

    Raises
    ------
    InputError
        If the text is not a list of non-negative integers and ranges.
    """
    spws: list[int] = []
    try:
        for part in (p.strip() for p in text.split(",")):
            bounds = re.split(r"[~-]", part)
            if len(bounds) == 2:
                first, last = int(bounds[0]), int(bounds[1])
                if last < first:
                    raise ValueError
                spws.extend(range(first, last + 1))
            elif len(bounds) == 1:
                spws.append(int(part))
            else:
                raise ValueError
    except ValueError:
        raise InputError(f"--spw {text!r}: use e.g. 0,3 or 0~3 (CASA style) or 5-7") from None
    if any(s < 0 for s in spws):
        raise InputError(f"--spw {text!r}: spectral windows are numbered from 0")
    return sorted(set(spws))


def report_outputs(product: Any, *, json_out: bool) -> None:
    """Print warnings about excluded visibilities (``product.summary["visibilities"]``), the
    extra files a product command wrote (``product.fits``, ``product.preview``) and, with
    ``--json``, the store path and ``product.summary`` as one JSON line on stdout."""
    counts = product.summary.get("visibilities") or {}
    if counts.get("non_finite_uvw"):
        console.print(f"warning: {counts['non_finite_uvw']} visibilities have NaN or infinite "
                      "UVW and were excluded like flagged data")
    if counts.get("off_grid"):
        console.print(f"warning: {counts['off_grid']} visibilities lie beyond the uv grid and "
                      "were not gridded: use a smaller --cell to keep the longest baselines")
    for extra in [*product.fits, product.preview]:
        if extra:
            console.print(f"wrote {extra}")
    if json_out:
        print(json.dumps({"store": str(product.store), **product.summary}, default=str))
