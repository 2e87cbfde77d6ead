"""Survey runs: plan a manifest, make every product not yet complete, report their state.

:func:`plan_survey` writes a survey directory (``survey.json``, ``manifest.jsonl``: one row per
phase centre, :mod:`vlassdask.io.survey_manifest`). :func:`run_survey` makes the products on
the current dask cluster:

* one task per product (:func:`vlassdask.products.survey_products.make_survey_product`), never
  one graph for the survey; at most ``max_concurrent`` in flight, results consumed as they
  complete, recorded in the manifest after each batch of finished tasks (atomically, at most
  twice a second: 10^4 quick tasks would otherwise rewrite it 10^4 times);
* a product whose completion marker exists is done and never made again (a rerun resumes); a
  row left ``running`` by a killed runner is made again, or found complete by its marker;
* a product that fails (bad input, an error in the recipe) is ``failed`` with its one-line
  reason and the others go on; a task lost with its worker (a cancelled or killed batch job:
  ``KilledWorker``, lost connections) is submitted again, at most ``max_retries`` times;
* QA's ``retry`` decisions re-image inside the product, with its retry ladder, as the Quick
  Look recipe does.

Peak memory on the client: the manifest rows and one small record per task in flight. Each task
holds one product (its recipe's own peak memory, stated in its module).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from vlassdask.errors import ConfigError, InputError, VlassdaskError
from vlassdask.io.survey_manifest import (
    new_row,
    read_manifest,
    read_settings,
    write_manifest,
    write_settings,
)
from vlassdask.products.survey_products import PRODUCTS, core_hours, make_survey_product
from vlassdask.survey.survey_plan import config_hash, ms_for, select_phase_centers

#: The manifest is rewritten after each batch of finished tasks, at most this often (seconds),
#: and when the run ends: a product's marker, not the manifest, says whether it is complete.
WRITE_INTERVAL_S = 0.5
#: Exceptions that mean the task's worker (or batch job) was lost, not that the product failed.
LOST_WORKER = ("KilledWorker", "CommClosedError", "FutureCancelledError", "CancelledError",
               "WorkerLostError", "TimeoutError")


def plan_survey(out: Path, product: str, *, ms: str, tiles: list[str] | None = None,
                names: list[str] | None = None, pointings_deg: np.ndarray | None = None,
                document: dict | None = None, preset: str | None = None) -> list[dict]:
    """Write a survey directory and return its manifest rows.

    Parameters
    ----------
    out
        The survey directory (must not hold a survey already).
    product
        A key of :data:`~vlassdask.products.survey_products.PRODUCTS`.
    ms
        The Measurement Set of every row, or a pattern with ``{tile}``.
    tiles, names, pointings_deg
        Which phase centres (:func:`vlassdask.survey.survey_plan.select_phase_centers`).
    document, preset
        The product's configuration document (as its YAML) and preset; validated here.

    Raises
    ------
    InputError, ConfigError
        An unknown product, a bad configuration, nothing selected, or an existing survey.
    """
    if product not in PRODUCTS:
        raise InputError(f"unknown product {product!r}: expected one of {', '.join(PRODUCTS)}")
    document = dict(document or {})
    PRODUCTS[product].config(document, preset)
    table = select_phase_centers(tiles=tiles, names=names, pointings_deg=pointings_deg)
    digest = config_hash(product, document, preset)
    rows = [new_row(name, tile, product, ms_for(ms, tile), digest)
            for name, tile in zip(table["name"], table["tile"], strict=True)]
    out = Path(out)
    if (out / "manifest.jsonl").exists():
        raise InputError(f"{out} holds a survey already: use another directory")
    out.mkdir(parents=True, exist_ok=True)
    write_settings(out, {"product": product, "config": document, "preset": preset,
                         "config_hash": digest, "ms": ms, "created": time.time()})
    write_manifest(out, rows)
    return rows


@dataclass
class RunSummary:
    """What a :func:`run_survey` call did."""

    made: list[str] = field(default_factory=list)
    reused: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    retried: list[str] = field(default_factory=list)


def _lost(exc: BaseException) -> bool:
    return type(exc).__name__ in LOST_WORKER


def _reason(exc: BaseException) -> str:
    """One line saying why a product failed."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if isinstance(exc, VlassdaskError) else f"{type(exc).__name__}: {text}"


def _todo(survey: Path, rows: list[dict]) -> list[int]:
    """Rows to make: not done, or done without their completion marker."""
    todo = []
    for i, row in enumerate(rows):
        complete = row["state"] == "done" and row["marker"] and \
            (survey / row["marker"]).is_file()
        if not complete:
            if row["state"] in ("done", "running"):
                row["state"] = "pending"
            todo.append(i)
    return todo


def run_survey(survey: str | Path, client, *, max_retries: int = 2, max_concurrent: int = 8,
               retry_failed: bool = False,
               log: Callable[[str], None] = lambda _line: None) -> RunSummary:  # fmt: skip
    """Make every product of the survey that is not complete (see the module docstring).

    Parameters
    ----------
    survey
        The survey directory (its runner lock is the caller's: :func:`~vlassdask.io.
        survey_manifest.survey_lock`).
    client
        A ``distributed.Client``.
    max_retries
        Resubmissions of a product whose worker was lost.
    max_concurrent
        Products in flight at once.
    retry_failed
        Also make the rows that failed before.
    log
        Called with one line per finished product.

    Raises
    ------
    InputError
        A damaged manifest or settings.
    """
    from distributed import as_completed

    if max_concurrent < 1 or max_retries < 0:
        raise ConfigError("max_concurrent must be >= 1 and max_retries >= 0")
    survey = Path(survey)
    settings = read_settings(survey)
    rows = read_manifest(survey)
    todo = [i for i in _todo(survey, rows) if retry_failed or rows[i]["state"] != "failed"]
    write_manifest(survey, rows)
    summary = RunSummary()
    document, preset = settings["config"], settings["preset"]
    queue, lost = list(todo), dict.fromkeys(todo, 0)
    futures = as_completed()
    index: dict[str, int] = {}

    def submit(i: int) -> None:
        row = rows[i]
        row.update(state="running", attempts=row["attempts"] + 1, started=time.time(),
                   reason=None)
        future = client.submit(make_survey_product, dict(row), str(survey), document, preset,
                               key=f"survey-{row['name']}-{row['attempts']}-{time.time_ns()}",
                               pure=False)
        index[future.key] = i
        futures.add(future)

    while queue and len(index) < max_concurrent:
        submit(queue.pop(0))
    write_manifest(survey, rows)
    written = time.monotonic()
    for batch in futures.batches():
        for future in batch:
            _record(rows, index.pop(future.key), future, queue, lost, max_retries, summary,
                    log)
        while queue and len(index) < max_concurrent:
            submit(queue.pop(0))
        if not index or time.monotonic() - written >= WRITE_INTERVAL_S:
            write_manifest(survey, rows)
            written = time.monotonic()
    write_manifest(survey, rows)
    return summary


def _record(rows: list[dict], i: int, future, queue: list[int], lost: dict[int, int],
            max_retries: int, summary: RunSummary, log: Callable[[str], None]) -> None:
    """Update row ``i`` with a finished task's outcome (or queue it again: a lost worker)."""
    row = rows[i]
    try:
        record = future.result()
    except Exception as exc:  # noqa: BLE001 - every failure is recorded, the others go on
        if _lost(exc) and lost[i] < max_retries:
            lost[i] += 1
            row.update(state="pending", reason=f"worker lost ({type(exc).__name__}); "
                                               f"retry {lost[i]} of {max_retries}")
            summary.retried.append(row["name"])
            log(f"{row['name']}: worker lost, submitted again ({lost[i]}/{max_retries})")
            queue.insert(0, i)
        else:
            row.update(state="failed", reason=_reason(exc), finished=time.time())
            summary.failed.append(row["name"])
            log(f"{row['name']}: failed: {row['reason']}")
        return
    row.update(state="done", decision=record["decision"], finished=time.time(),
               seconds=record["seconds"], cores=record["cores"], marker=record["marker"],
               preview=record["preview"], reason=None)
    if record["reused"]:
        summary.reused.append(row["name"])
    else:
        row["runs"] += 1
        summary.made.append(row["name"])
    log(f"{row['name']}: done ({record['decision']}, {record['seconds']:.1f} s"
        + (", already complete" if record["reused"] else "") + ")")


def survey_status(survey: str | Path) -> dict[str, Any]:
    """Counts per state and per QA decision, the failures and their reasons, core-hours."""
    rows = read_manifest(Path(survey))
    table = pd.DataFrame(rows)
    return {
        "products": len(rows),
        "states": {s: int(n) for s, n in table["state"].value_counts().items()},
        "decisions": {str(d): int(n) for d, n in
                      table.loc[table["state"] == "done", "decision"].value_counts().items()},
        "failures": [{"name": r["name"], "reason": r["reason"]} for r in rows
                     if r["state"] == "failed"],
        "core_hours": round(core_hours([r for r in rows if r["state"] == "done"]), 4),
        "rows": rows,
    }
