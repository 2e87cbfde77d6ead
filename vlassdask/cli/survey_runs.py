"""``vlassdask survey plan | run | status``: many phase centres, resumable, on any cluster.

A thin layer over :mod:`vlassdask.products.survey_run`; see ``docs/survey-runs.md``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sys
from pathlib import Path
from typing import Annotated

import dask
import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from vlassdask.cli.common import ClusterOption, SchedulerOption, console, run_on_scheduler
from vlassdask.io.config_files import read_yaml_mapping

survey_app = typer.Typer(name="survey", no_args_is_help=True, help="Survey runs: plan a "
                         "manifest of phase centres, make their products on a cluster "
                         "(resumable, with retries), report their state.")


def _names(text: str | None) -> list[str] | None:
    return [t.strip() for t in text.split(",") if t.strip()] if text else None


def _pointings(ms: str) -> np.ndarray | None:
    """RA/Dec (deg) of a plain MS's fields, or None for a ``{tile}`` pattern."""
    if "{tile}" in ms:
        return None
    from vlassdask.io.ms_read import open_measurement_set

    ds = open_measurement_set(ms).datasets[0]
    return np.degrees(np.asarray(ds.attrs["field_phase_centers_rad"], dtype=np.float64))


@survey_app.command("plan")
def plan_command(
    ms: Annotated[str, typer.Option("--ms", help="Measurement Set of every phase centre, or a "
                                    "pattern with {tile} (e.g. '/data/{tile}.ms').")],
    out: Annotated[Path, typer.Option("--out", help="Survey directory to create.")],
    product: Annotated[str, typer.Option("--product", help="quicklook or coarse-cube.")
                       ] = "quicklook",
    tiles: Annotated[str | None, typer.Option(
        "--tiles", help="Comma-separated tiles (T10t12,...), or 'all' for the whole sky.")] = None,
    phasecenters: Annotated[str | None, typer.Option(
        "--phasecenters", help="Comma-separated phase centres (Jhhmmss+ddmmss,...).")] = None,
    config: Annotated[Path | None, typer.Option(
        "--config", help="The product's YAML (pipelines/quicklook.yaml, coarse_cube.yaml).")
    ] = None,
    preset: Annotated[str | None, typer.Option("--preset", help="A preset of that config.")
                      ] = None,
) -> None:
    """Write a survey manifest: one row per phase centre (of the tiles, the names given, or
    those whose 1 deg^2 sub-image contains a pointing of --ms) with its MS, product and
    configuration hash, all pending."""
    from vlassdask.products.survey_run import plan_survey

    document = read_yaml_mapping(config, what=f"{product} configuration") if config else {}
    names, tile_list = _names(phasecenters), _names(tiles)
    rows = plan_survey(out, product, ms=ms, tiles=tile_list, names=names,
                       pointings_deg=None if names or tile_list else _pointings(ms),
                       document=document, preset=preset)
    console.print(f"planned {len(rows)} {product} product(s) in {out / 'manifest.jsonl'}")


def _adapt(client, cluster: Path | None) -> None:
    """Let a dask-jobqueue cluster scale with the work, up to its spec's ``jobs``."""
    from vlassdask.cluster import load_cluster_spec

    if cluster is None or not type(client.cluster).__module__.startswith("dask_jobqueue"):
        return
    jobs = int(load_cluster_spec(cluster).get("jobs", 1))
    client.cluster.adapt(minimum_jobs=1, maximum_jobs=jobs)
    console.print(f"adaptive scaling: 1 to {jobs} batch job(s)")


@survey_app.command("run")
def run_command(
    survey: Annotated[Path, typer.Argument(help="Survey directory (vlassdask survey plan).")],
    scheduler: SchedulerOption = None,
    cluster: ClusterOption = None,
    max_retries: Annotated[int, typer.Option(
        "--max-retries", min=0, help="Resubmissions of a product whose worker was lost.")] = 2,
    max_concurrent: Annotated[int, typer.Option(
        "--max-concurrent", min=1, help="Products in flight at once.")] = 8,
    retry_failed: Annotated[bool, typer.Option(
        "--retry-failed", help="Also make the products that failed before.")] = False,
) -> None:
    """Make every product of the survey that is not complete: one task per product on the
    embedded LocalCluster, a running scheduler or a dask-jobqueue cluster (adaptive); resumes
    where a previous run stopped; one runner per survey (a lock)."""
    from distributed import get_client

    from vlassdask.io.survey_manifest import survey_lock
    from vlassdask.io.survey_report import write_survey_index
    from vlassdask.products.survey_run import run_survey, survey_status

    # a product's failure is recorded with its one-line reason; the in-process workers'
    # "Compute Failed" tracebacks would only repeat it
    logging.getLogger("distributed.worker").addFilter(
        lambda record: "Compute Failed" not in record.getMessage())
    with survey_lock(survey, announce=console.print), \
            dask.config.set({"distributed.scheduler.allowed-failures": 0}), \
            run_on_scheduler(scheduler, cluster), contextlib.redirect_stdout(sys.stderr):
        client = get_client()
        _adapt(client, cluster)
        summary = run_survey(survey, client, max_retries=max_retries,
                             max_concurrent=max_concurrent, retry_failed=retry_failed,
                             log=console.print)
    index = write_survey_index(survey, survey_status(survey))
    console.print(f"made {len(summary.made)}, already complete {len(summary.reused)}, "
                  f"failed {len(summary.failed)}, resubmitted {len(summary.retried)}; {index}")


@survey_app.command("status")
def status_command(
    survey: Annotated[Path, typer.Argument(help="Survey directory.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the status as JSON.")] = False,
) -> None:
    """Counts per state and QA decision, failures with their reasons, core-hours; writes
    <survey>/index.html (thumbnails and decisions)."""
    from vlassdask.io.survey_report import write_survey_index
    from vlassdask.products.survey_run import survey_status

    status = survey_status(survey)
    index = write_survey_index(survey, status)
    if as_json:
        print(json.dumps({k: v for k, v in status.items() if k != "rows"}))
        return
    out = Console(file=sys.stdout, width=120)
    table = Table(title=f"survey {survey}: {status['products']} products, "
                        f"{status['core_hours']:.3f} core-hours")
    for column in ("count", "of"):
        table.add_column(column)
    for state, n in sorted(status["states"].items()):
        table.add_row(str(n), state)
    for decision, n in sorted(status["decisions"].items()):
        table.add_row(str(n), f"QA {decision}")
    out.print(table)
    for failure in status["failures"]:
        out.print(f"failed {failure['name']}: {failure['reason']}")
    out.print(f"index: {index}")


def register(app: typer.Typer) -> None:
    """Add ``survey plan|run|status`` to ``app``."""
    app.add_typer(survey_app)
