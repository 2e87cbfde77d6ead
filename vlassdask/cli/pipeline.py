"""``vlassdask run``: the end-to-end main job from a pipeline YAML."""

from __future__ import annotations

import contextlib
import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from vlassdask.cli.common import (
    ClusterOption,
    OverwriteOption,
    SchedulerOption,
    console,
    run_on_scheduler,
)


def run(
    config: Annotated[Path, typer.Argument(
        help="Pipeline YAML with simulate and sky sections and quicklook and/or imaging (+ "
        "clean) sections (pipelines/end_to_end.yaml).")],
    out: Annotated[Path, typer.Option("--out", help="Output directory (obs.ms, products/ with "
                                      "the Quick Look files, dirty.* and clean.*).")
                   ] = Path("demo-output"),
    scheduler: SchedulerOption = None,
    cluster: ClusterOption = None,
    overwrite: OverwriteOption = False,
) -> None:
    """Simulate a small VLASS-like observation and make its images: the Quick Look products of
    a phase centre (quicklook: section), a dirty image (imaging:) and a CLEANed one (clean:).

    Runs on an embedded LocalCluster sized for the simulation (one in-process worker for small
    ones) unless --scheduler or --cluster says otherwise.
    """
    from vlassdask.products.end_to_end import run_end_to_end, simulated_bytes

    with run_on_scheduler(scheduler, cluster, job_bytes=simulated_bytes(config)) as threads, \
            contextlib.redirect_stdout(sys.stderr):
        summary = run_end_to_end(config, out, overwrite=overwrite, log=console.print,
                                 accumulators=threads.total, fft_threads=threads.per_worker)
    for name, path in summary["outputs"].items():
        console.print(f"wrote {path}" if name else path)
    if "quicklook" in summary:
        console.print(f"Quick Look QA decision: {summary['quicklook']['decision']} after "
                      f"{summary['quicklook']['attempts']} attempt(s)")
    peak = (f"peak {summary['peak_abs_jy_per_beam']:.4g} Jy/beam; "
            if "peak_abs_jy_per_beam" in summary else "")
    console.print(peak + ", ".join(f"{step} {seconds} s"
                                   for step, seconds in summary["seconds"].items()))
    print(json.dumps(summary, default=str))


def register(app: typer.Typer) -> None:
    """Add the ``run`` command to ``app``."""
    app.command("run")(run)
