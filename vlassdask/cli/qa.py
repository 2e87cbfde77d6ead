"""``vlassdask qa``: automated quality assessment of one product or a directory of products."""

from __future__ import annotations

import contextlib
import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from vlassdask.cli.common import (
    ClusterOption,
    OverwriteOption,
    SchedulerOption,
    console,
    run_on_scheduler,
)
from vlassdask.errors import InputError
from vlassdask.io.config_files import load_qa_config
from vlassdask.io.qa_report import DECISION_COLOURS
from vlassdask.qa.config import QAConfig
from vlassdask.qa.decision import QAResult

_ACTION_STYLES = {"ignore": "dim", "retry": "yellow", "review": "dark_orange", "reject": "red"}


def _print_result(result: QAResult) -> None:
    colour = DECISION_COLOURS[result.decision]
    console.print(f"[bold]{escape(result.name)}[/bold]: [bold {colour}]{result.decision}[/] "
                  f"(attempt {result.attempt}, {escape(result.product_type)})", highlight=False,
                  soft_wrap=True)  # fmt: skip
    for reason in result.reasons:
        style = _ACTION_STYLES.get(reason.action, "")
        console.print(f"  [{style}]{reason.action:>6}[/] {escape(reason.message)}",
                      highlight=False, soft_wrap=True)  # fmt: skip
    if not result.reasons:
        console.print("  all checks passed")
    if result.retry is not None:
        console.print(f"  next: attempt {result.retry.attempt} with cycleniter "
                      f"{result.retry.cycleniter}, imsize {result.retry.imsize}")


def qa_command(
    product: Annotated[Path | None, typer.Argument(
        help="Product to assess: a Zarr image store or a FITS image (omit with --batch).",
        show_default=False)] = None,
    rms: Annotated[Path | None, typer.Option(
        "--rms", help="FITS rms image on the product's grid (default: found beside a "
        "VLASS-named image).")] = None,
    pb: Annotated[Path | None, typer.Option(
        "--pb", help="FITS primary-beam image (default: found beside a VLASS-named image).")
    ] = None,
    residual: Annotated[Path | None, typer.Option(
        "--residual", help="FITS residual image (default: found beside a VLASS-named image; "
        "without one the statistics use the image itself).")] = None,
    batch: Annotated[Path | None, typer.Option(
        "--batch", help="Assess every Zarr image store and VLASS FITS image under this "
        "directory in parallel; needs --out.")] = None,
    out: Annotated[Path | None, typer.Option(
        "--out", help="Output directory: the report (result.json, report.html, thumbnails), or "
        "with --batch the batch (qa.parquet, index.html, reports/). Default for one product: "
        "./<product name>.qa")] = None,
    config: Annotated[Path | None, typer.Option(
        "--config", help="QA configuration YAML with a 'qa:' section (pipelines/qa.yaml). "
        "Default: the built-in VLASS values.")] = None,
    attempt: Annotated[int, typer.Option(
        "--attempt", min=0, help="Imaging attempt the product(s) come from: 0 = first run, "
        "1 = first retry, ... (selects the relaxed criterion and the next retry step).")] = 0,
    product_type: Annotated[str | None, typer.Option(
        "--product-type", help="Product type whose rules apply (QL, SE). Default: from a VLASS "
        "file name, else the config's product_type.")] = None,
    scheduler: SchedulerOption = None,
    cluster: ClusterOption = None,
    overwrite: OverwriteOption = False,
    json_out: Annotated[bool, typer.Option(
        "--json", help="Print the result (one product) or the decision counts (batch) as JSON "
        "on stdout.")] = False,
) -> None:
    """Assess image quality like VLASS's "Otto": accepted, retry, needs review or rejected.

    Prints the decision and every reason and writes a JSON result and an HTML report with
    thumbnails on which every detection is marked. Exits 0 whatever the decision; 2 on bad
    input. One product runs on dask's threaded scheduler unless --scheduler/--cluster says
    otherwise; --batch runs one task per product on an embedded LocalCluster by default.
    """
    from vlassdask.products.qa import qa_batch, qa_product

    if (product is None) == (batch is None):
        raise InputError("give either a PRODUCT or --batch DIR")
    cfg = load_qa_config(config) if config else QAConfig()
    if product_type is not None:
        cfg = cfg.with_product_type(product_type)  # an unknown type fails before any work
    if batch is not None:
        if out is None:
            raise InputError("--batch needs --out DIR for the table, index and reports")
        if rms or pb or residual:
            raise InputError("--rms/--pb/--residual go with one product, not with --batch")
        with run_on_scheduler(scheduler, cluster), contextlib.redirect_stdout(sys.stderr):
            summary = qa_batch(batch, out, config=cfg, attempt=attempt,
                               product_type=product_type, overwrite=overwrite)
        counts = summary.counts()
        console.print(f"assessed {len(summary.table)} products: "
                      + ", ".join(f"{n} {d}" for d, n in sorted(counts.items())))
        for row in summary.table[summary.table["decision"] == "error"].itertuples():
            console.print(f"  [red]error[/] {escape(row.name)}: {escape(row.error)}",
                          highlight=False, soft_wrap=True)  # fmt: skip
        console.print(f"wrote {summary.out / 'index.html'} and {summary.out / 'qa.parquet'}")
        if json_out:
            print(json.dumps({"out": str(summary.out), "counts": counts}))
        return
    report = out or Path(f"{product.stem if product.suffix else product.name}.qa")
    with run_on_scheduler(scheduler, cluster, default="threads"):
        result = qa_product(product, report, rms=rms, pb=pb, residual=residual, config=cfg,
                            attempt=attempt, product_type=product_type,
                            overwrite=overwrite)  # fmt: skip
    _print_result(result)
    console.print(f"wrote {report / 'report.html'}")
    if json_out:
        print(result.to_json(indent=None))


def register(app: typer.Typer) -> None:
    """Add the ``qa`` command to ``app``."""
    app.command("qa")(qa_command)
