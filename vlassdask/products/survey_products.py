"""The products a survey run can make, and the task that makes one of them.

:data:`PRODUCTS` maps a product name to a :class:`SurveyProduct`: how its configuration is
read, where its completion marker is (a product is done only when that file exists), and how it
is made. ``quicklook`` and ``coarse-cube`` are registered; a new product plugs in with one
entry.

:func:`make_survey_product` is what one survey task runs on a worker: it makes one product
entirely inside the task (:func:`vlassdask.imaging.graph.in_this_task`: the product's graphs run
on the task's own thread, deterministically, never as tasks of the survey's cluster), and
returns a small record. A product whose marker exists already is not made again.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vlassdask.imaging.graph import in_this_task
from vlassdask.io.ms_read import observation_mjd
from vlassdask.products.coarse_cube import CubeNames, make_coarse_cube
from vlassdask.products.coarse_cube_config import CoarseCubeConfig
from vlassdask.products.quicklook import make_quicklook_product, quicklook_names
from vlassdask.products.quicklook_config import QuickLookConfig


@dataclass(frozen=True)
class SurveyProduct:
    """One kind of survey product.

    Attributes
    ----------
    config
        ``(document, preset) -> configuration`` (validates; raises ConfigError).
    files
        ``(ms, phase centre, out_dir, configuration) -> (marker, preview)``: the file whose
        existence marks the product complete, and its preview PNG.
    make
        ``(ms, phase centre, out_dir, configuration) -> decision``: makes it.
    """

    config: Callable[[dict, str | None], Any]
    files: Callable[[Path, str, Path, Any], tuple[Path, Path]]
    make: Callable[[Path, str, Path, Any], str]


def _ql_files(ms: Path, phasecenter: str, out: Path, cfg: QuickLookConfig):
    names, _ = quicklook_names(phasecenter, out, cfg, observation_mjd(ms))
    return names.summary, names.preview


def _ql_make(ms: Path, phasecenter: str, out: Path, cfg: QuickLookConfig):
    product = make_quicklook_product(ms, phasecenter, out, cfg.with_threads(1, 1),
                                     overwrite=True)
    return product.decision


def _cube_names(ms: Path, phasecenter: str, out: Path, cfg: CoarseCubeConfig) -> CubeNames:
    names, _ = quicklook_names(phasecenter, out, cfg.plane, observation_mjd(ms))
    return CubeNames(names.image.epoch, names.image.tile, phasecenter, cfg.plane.version,
                     cfg.plane.imaging.cell_arcsec, out)


def _cube_files(ms: Path, phasecenter: str, out: Path, cfg: CoarseCubeConfig):
    names = _cube_names(ms, phasecenter, out, cfg)
    return names.summary, names.report / "preview.png"


def _cube_make(ms: Path, phasecenter: str, out: Path, cfg: CoarseCubeConfig):
    product = make_coarse_cube(ms, phasecenter, out, cfg.with_threads(1, 1), overwrite=True)
    return product.summary["decision"]


def _noop_files(ms: Path, phasecenter: str, out: Path, cfg: None):
    return out / "noop.json", out / "noop.png"


def _noop_make(ms: Path, phasecenter: str, out: Path, cfg: None) -> str:
    out.mkdir(parents=True, exist_ok=True)
    (out / "noop.json").write_text('{"decision": "accepted"}\n')
    return "accepted"


#: The registered products (``vlassdask survey plan --product NAME``). ``noop`` makes nothing
#: but its marker file: it measures the runner's own cost per product
#: (``benchmarks/bench_survey.py``).
PRODUCTS: dict[str, SurveyProduct] = {
    "quicklook": SurveyProduct(lambda doc, preset: QuickLookConfig.from_document(
        doc, preset=preset), _ql_files, _ql_make),
    "coarse-cube": SurveyProduct(lambda doc, preset: CoarseCubeConfig.from_document(
        doc, preset=preset), _cube_files, _cube_make),
    "noop": SurveyProduct(lambda doc, preset: None, _noop_files, _noop_make),
}


def make_survey_product(row: dict[str, Any], survey: str, document: dict,
                        preset: str | None) -> dict[str, Any]:  # fmt: skip
    """Make one manifest row's product (the survey task; see the module docstring).

    Returns
    -------
    dict
        ``decision`` (QA's), ``seconds``, ``cores`` (threads of the
        worker), ``marker`` and ``preview`` (relative to the survey directory) and ``reused``
        (True when the marker existed and nothing was made).
    """
    t0 = time.perf_counter()
    kind = PRODUCTS[row["product"]]
    out = Path(survey) / row["out"]
    ms = Path(row["ms"])
    with in_this_task():
        config = kind.config(document, preset)
        marker, preview = kind.files(ms, row["name"], out, config)
        reused = marker.is_file()
        decision = _recorded_decision(marker) if reused else \
            kind.make(ms, row["name"], out, config)
    return {"decision": decision, "reused": reused,
            "seconds": round(time.perf_counter() - t0, 3), "cores": _task_cores(),
            "marker": str(marker.relative_to(survey)),
            "preview": str(preview.relative_to(survey)) if preview.is_file() else None}


def _recorded_decision(marker: Path) -> str:
    """The decision in a finished product's JSON summary."""
    try:
        return str(json.loads(marker.read_text(encoding="utf-8")).get("decision", "unknown"))
    except (OSError, ValueError):
        return "unknown"


def _task_cores() -> int:
    """Threads of the worker running this task (1 outside a worker)."""
    try:
        from distributed import get_worker

        return int(get_worker().state.nthreads)
    except (ImportError, ValueError, AttributeError):
        return 1


def core_hours(rows: list[dict[str, Any]]) -> float:
    """Core-hours spent on the rows' products (wall time x cores of each task)."""
    return math.fsum((r.get("seconds") or 0.0) * (r.get("cores") or 1) for r in rows) / 3600.0
