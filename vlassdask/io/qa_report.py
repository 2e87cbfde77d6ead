"""QA outputs: JSON per image, a Parquet table per batch, HTML reports with marked thumbnails.

A per-image report is a directory (written atomically, with the completion marker)::

    <report>/result.json          QAResult.to_dict()
    <report>/report.html          decision, reasons, thumbnails, statistics, detectors, inputs
    <report>/{sky,residual,rms,pb,fft}.png

The thumbnails are block means of the images (block maxima of the |FFT|), so a 7290^2 image is
never rendered at full size; every detector location is circled and labelled, the sub-image box
is drawn dashed. A batch directory holds ``qa.parquet`` (one row per product), ``index.html``
(summary table linking to each report) and ``reports/<name>/``. The HTML is static and
self-contained: inline CSS, a few lines of inline JavaScript for sorting, relative links only,
every text escaped with :func:`html.escape`.
"""

from __future__ import annotations

import html
import json
import math
import os
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dask
import numpy as np
import pandas as pd
import scipy.fft
from astropy.visualization import AsinhStretch, ImageNormalize, PercentileInterval
from matplotlib import patheffects
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.patches import Circle, Rectangle

from vlassdask.io.atomic import atomic_output
from vlassdask.qa.decision import DECISIONS, QAResult
from vlassdask.qa.types import DetectorResult, QAImages

THUMBNAIL_PIXELS = 512
FFT_PIXELS = 1024
PANEL_TITLES = {"sky": "image", "residual": "residual", "rms": "rms", "pb": "primary beam",
                "fft": "log |FFT| of the residual (sub-image centre)"}  # fmt: skip
_CMAPS = {"sky": "inferno", "residual": "RdBu_r", "rms": "viridis", "pb": "cividis",
          "fft": "magma"}  # fmt: skip
DECISION_COLOURS = {"accepted": "#1a7f37", "retry": "#9a6700", "needs_review": "#bc4c00",
                    "rejected": "#cf222e", "error": "#57606a"}  # fmt: skip
DETECTOR_COLOURS = {"pb_holes": "#00e5ff", "high_weights": "#76ff03", "rfi": "#ff4081",
                    "bad_baselines": "#ffea00", "deconvolution": "#ffffff"}  # fmt: skip
# Sort order of the index: errors first, then rejected, needs_review, retry, accepted.
SEVERITY = {d: i for i, d in enumerate(("error", *DECISIONS[::-1]))}
_RENDER_LOCK = threading.Lock()
_CSS = """
body{font-family:system-ui,sans-serif;margin:1.5em;color:#1f2328;background:#fff}
table{border-collapse:collapse;margin:0.5em 0 1.5em}
th,td{border:1px solid #d0d7de;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f6f8fa} th[data-key]{cursor:pointer}
.badge{color:#fff;padding:2px 10px;border-radius:10px;font-weight:600}
.panels{display:flex;flex-wrap:wrap;gap:12px}
figure{margin:0} figcaption{font-size:0.85em;color:#57606a}
td.num{text-align:right;font-variant-numeric:tabular-nums}
img.thumb{width:96px;height:96px;display:block}
"""
_SORT_JS = """
function sortBy(key) {
  var table = document.getElementById("qa"), body = table.tBodies[0];
  var heads = Array.from(table.tHead.rows[0].cells);
  var col = heads.findIndex(function (h) { return h.dataset.key === key; });
  if (col < 0) return;
  var dir = heads[col].dataset.dir === "asc" ? -1 : 1;
  heads[col].dataset.dir = dir > 0 ? "asc" : "desc";
  var rows = Array.from(body.rows);
  rows.sort(function (p, q) {
    var x = p.cells[col].dataset.v, y = q.cells[col].dataset.v;
    var nx = parseFloat(x), ny = parseFloat(y);
    if (!isNaN(nx) && !isNaN(ny)) return dir * (nx - ny);
    return dir * String(x).localeCompare(String(y));
  });
  rows.forEach(function (r) { body.appendChild(r); });
}
document.querySelectorAll("#qa th[data-key]").forEach(function (h) {
  h.addEventListener("click", function () { sortBy(h.dataset.key); });
});
var wanted = location.hash.match(/^#sort=(\\w+)$/);
if (wanted) sortBy(wanted[1]);
"""


@dataclass(frozen=True)
class Panel:
    """One thumbnail: a reduced plane and how it maps onto the image or its Fourier plane.

    Attributes
    ----------
    data
        Reduced plane indexed ``[y, x]`` (for ``imshow(origin="lower")``), float64.
    factor
        Block size: thumbnail pixel ``q`` covers pixels ``q f ... (q+1) f - 1``.
    fourier
        True for the |FFT| panel: pixels are spatial frequencies (zero at ``fft_side // 2``).
    fft_side, cell_arcsec
        Side of the square crop whose FFT this is and its pixel size (Fourier panels).
    """

    data: np.ndarray
    factor: int
    fourier: bool = False
    fft_side: int = 0
    cell_arcsec: float = 0.0

    def to_panel(self, x: float, y: float) -> tuple[float, float]:
        """Image pixel ``(x, y)`` -> thumbnail pixel (block ``q`` is centred on pixel
        ``q f + (f - 1) / 2``)."""
        f = self.factor
        return (x - (f - 1) / 2) / f, (y - (f - 1) / 2) / f

    def uv_to_panel(self, u: float, v: float) -> tuple[float, float]:
        """Baseline ``(u, v)`` in wavelengths -> thumbnail pixel of a Fourier panel (the
        spatial frequency ``(-u, v) x cell`` in cycles per pixel along x and y: l and x run in
        opposite directions)."""
        cell_rad = math.radians(self.cell_arcsec / 3600.0)
        n = self.fft_side
        return self.to_panel(-u * cell_rad * n + n // 2, v * cell_rad * n + n // 2)


def _block_factor(n: int, max_pixels: int) -> int:
    return max(1, math.ceil(n / max_pixels))


def _log_abs_fft(plane: np.ndarray, max_pixels: int, cell_arcsec: float) -> Panel:
    """log10 |FFT| (zero frequency at the centre) of a plane, block maxima to ``max_pixels``."""
    values = np.where(np.isfinite(plane), plane, 0.0).astype(np.float32)
    values -= values.mean()
    power = np.abs(scipy.fft.fftshift(scipy.fft.fft2(values, workers=1)))
    n = power.shape[0]
    factor = _block_factor(n, max_pixels)
    m = n // factor
    power = power[: m * factor, : m * factor].reshape(m, factor, m, factor).max(axis=(1, 3))
    floor = float(np.finfo(np.float32).tiny)
    return Panel(np.log10(np.maximum(power, floor)).T.astype(np.float64), factor, fourier=True,
                 fft_side=n, cell_arcsec=cell_arcsec)


def report_panels(
    images: QAImages, *, max_pixels: int = THUMBNAIL_PIXELS, fft_pixels: int = FFT_PIXELS
) -> dict[str, Panel]:
    """The thumbnails of a report: image, residual, rms, PB and the |FFT| of the residual.

    Parameters
    ----------
    images
        The planes (numpy- or dask-backed, dims ``(l, m)``); missing ones give no panel.
    max_pixels
        Longest side of a thumbnail: planes are block-averaged (NaN-skipping) by
        ``ceil(n / max_pixels)``.
    fft_pixels
        Side of the centre crop of the residual's sub-image (the image's, without a residual)
        whose |FFT| is shown. A stripe pattern fills the image, so the crop shows its Fourier
        peaks at the same spatial frequencies, sampled more coarsely.

    Returns
    -------
    dict
        Panel name (``"sky"``, ``"residual"``, ``"rms"``, ``"pb"``, ``"fft"``) -> :class:`Panel`.

    Notes
    -----
    Peak memory: the block means are computed together as dask reductions (one input chunk per
    thread plus the thumbnails, ``max_pixels**2`` values each); the FFT holds the crop and its
    transform, ``fft_pixels**2`` x 12 bytes (12 MB at the default 1024).
    """
    planes = {"sky": images.sky, "residual": images.residual, "rms": images.rms, "pb": images.pb}
    planes = {k: v.transpose("l", "m") for k, v in planes.items() if v is not None}
    factor = _block_factor(max(images.sky.sizes["l"], images.sky.sizes["m"]), max_pixels)
    reduced = [p.coarsen(l=factor, m=factor, boundary="trim").mean() if factor > 1 else p
               for p in planes.values()]  # fmt: skip
    x0, x1, y0, y1 = images.subimage
    half = min(fft_pixels, x1 - x0, y1 - y0) // 2
    cx, cy = (x0 + x1) // 2, (y0 + y1) // 2
    source = planes.get("residual", planes["sky"])
    crop = source.isel(l=slice(cx - half, cx + half), m=slice(cy - half, cy + half))
    values = dask.compute(*[r.data for r in reduced], crop.data)
    panels = {name: Panel(np.asarray(v, dtype=np.float64).T, factor)
              for name, v in zip(planes, values[:-1], strict=True)}  # fmt: skip
    panels["fft"] = _log_abs_fft(np.asarray(values[-1]), max_pixels, images.cell_arcsec)
    return panels


def _norm(name: str, data: np.ndarray) -> Normalize | None:
    """Colour scale of a panel (None when it has no finite value): asinh over the central 99.5%
    for the image, symmetric for the residual, 0..1 for the PB, linear percentiles otherwise."""
    finite = data[np.isfinite(data)]
    if finite.size == 0:
        return None
    if name == "sky":
        return ImageNormalize(finite, interval=PercentileInterval(99.5), stretch=AsinhStretch(0.1))
    if name == "residual":
        v = float(np.percentile(np.abs(finite), 99.5)) or 1.0
        return Normalize(-v, v)
    if name == "pb":
        return Normalize(0.0, max(1.0, float(finite.max())))
    lo, hi = (float(v) for v in np.percentile(finite, [50.0 if name == "fft" else 0.5, 99.9]))
    return Normalize(lo, hi) if hi > lo else Normalize(lo - 1.0, hi + 1.0)


def render_panel(
    name: str,
    panel: Panel,
    path: str | os.PathLike,
    *,
    detections: Sequence[DetectorResult] = (),
    subimage: tuple[int, int, int, int] | None = None,
) -> Path:
    """Write one thumbnail PNG (about 420 x 420 pixels) with its markers, atomically.

    On image panels every location of every detection is circled (radius at least 4 thumbnail
    pixels) in its detector's colour and labelled ``<detector> #<n>`` (n counts the detector's
    locations, as in the report's table), and the sub-image box is drawn dashed. On the
    Fourier panel a detection that reports a baseline (``details["uv_lambda"]``, the bad-baseline
    detector) is circled at that spatial frequency and its mirror image.
    """
    with _RENDER_LOCK:  # matplotlib is not thread-safe; batch tasks may share a process
        return _render(name, panel, Path(path), detections, subimage)


def _render(name: str, panel: Panel, path: Path, detections: Sequence[DetectorResult],
            subimage: tuple[int, int, int, int] | None) -> Path:  # fmt: skip
    fig = Figure(figsize=(4.2, 4.2), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0.01, 0.01, 0.98, 0.9))
    ax.set_axis_off()
    ax.set_title(PANEL_TITLES.get(name, name), fontsize=9)
    norm = _norm(name, panel.data)
    if norm is None:
        ax.text(0.5, 0.5, "no finite values", ha="center", va="center", transform=ax.transAxes)
    else:
        ax.imshow(panel.data, origin="lower", cmap=_CMAPS.get(name, "gray"), norm=norm,
                  interpolation="nearest")  # fmt: skip
    outline = [patheffects.withStroke(linewidth=2, foreground="black")]

    def mark(px: float, py: float, radius: float, colour: str, label: str) -> None:
        ax.add_patch(Circle((px, py), radius, fill=False, lw=1.5, edgecolor=colour))
        ax.annotate(label, (px + radius * 0.72, py + radius * 0.72), color=colour, fontsize=7,
                    path_effects=outline)  # fmt: skip

    for result in detections:
        colour = DETECTOR_COLOURS.get(result.name, "#ffffff")
        if panel.fourier:
            uv = result.details.get("uv_lambda")
            if uv is not None:
                for sign in (1, -1):
                    mark(*panel.uv_to_panel(sign * uv[0], sign * uv[1]), 5.0, colour,
                         result.name if sign > 0 else "")
            continue
        for i, loc in enumerate(result.locations, start=1):
            mark(*panel.to_panel(loc.x, loc.y), max(loc.radius_pixels / panel.factor, 4.0),
                 colour, f"{result.name} #{i}")
    if subimage is not None and not panel.fourier:
        (ax0, ay0), (ax1, ay1) = (panel.to_panel(subimage[0] - 0.5, subimage[2] - 0.5),
                                  panel.to_panel(subimage[1] - 0.5, subimage[3] - 0.5))
        ax.add_patch(Rectangle((ax0, ay0), ax1 - ax0, ay1 - ay0, fill=False, lw=0.8, ls="--",
                               edgecolor="#bbbbbb"))  # fmt: skip
    ax.set_xlim(-0.5, panel.data.shape[1] - 0.5)  # markers beyond the edge do not rescale
    ax.set_ylim(-0.5, panel.data.shape[0] - 0.5)
    with atomic_output(path, overwrite=True, directory=False) as tmp:
        fig.savefig(tmp, format="png")
    return path


def write_qa_json(result: QAResult, path: str | os.PathLike, *, overwrite: bool = False
                  ) -> Path:  # fmt: skip
    """Write :meth:`QAResult.to_json` to ``path`` atomically (refused if it exists unless
    ``overwrite``)."""
    with atomic_output(path, overwrite=overwrite, directory=False) as tmp:
        tmp.write_text(result.to_json() + "\n")
    return Path(path)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return "n/a" if not math.isfinite(value) else f"{value:.4g}"
    if isinstance(value, Mapping | list | tuple):
        return json.dumps(value, default=str)
    return "n/a" if value is None else str(value)


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    e = html.escape
    head = "".join(f"<th>{e(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{e(_fmt(c))}</td>" for c in row) + "</tr>"
                   for row in rows)  # fmt: skip
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _badge(decision: str) -> str:
    colour = DECISION_COLOURS.get(decision, "#57606a")
    return f'<span class="badge" style="background:{colour}">{html.escape(decision)}</span>'


def _page(title: str, body: str, script: str = "") -> str:
    script_tag = f"<script>{script}</script>" if script else ""
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f"<title>{html.escape(title)}</title><style>{_CSS}</style></head>"
            f"<body>{body}{script_tag}</body></html>\n")  # fmt: skip


_ATTEMPT_COLUMNS = ("attempt", "imsize", "cycleniter", "iterations", "major_cycles",
                    "stop_reason", "seconds", "decision")


def _attempts_html(attempts: Sequence[Mapping[str, Any]]) -> str:
    rows = [[a.get(c) for c in _ATTEMPT_COLUMNS]
            + ["; ".join(r["message"] for r in a.get("reasons", [])) or "all checks passed"]
            for a in attempts]  # fmt: skip
    return "<h2>Attempts</h2>" + _table((*_ATTEMPT_COLUMNS, "reasons"), rows)


def _report_html(result: QAResult, panel_files: Mapping[str, str], index_href: str | None,
                 attempts: Sequence[Mapping[str, Any]] = ()) -> str:  # fmt: skip
    e = html.escape
    parts = []
    if index_href:
        parts.append(f'<p><a href="{e(index_href)}">&larr; batch index</a></p>')
    parts.append(f"<h1>{e(result.name)}</h1><p>Decision: {_badge(result.decision)} "
                 f"(attempt {result.attempt}, product type {e(result.product_type)})</p>")
    if result.retry is not None:
        parts.append(f"<p>Retry as attempt {result.retry.attempt} with cycleniter "
                     f"{result.retry.cycleniter} and imsize {result.retry.imsize}.</p>")
    if attempts:
        parts.append(_attempts_html(attempts))
    parts.append("<h2>Reasons</h2>")
    if result.reasons:
        parts.append(_table(("check", "action", "reason"),
                            [(r.check, r.action, r.message) for r in result.reasons]))
    else:
        parts.append("<p>All checks passed.</p>")
    parts.append('<h2>Images</h2><div class="panels">')
    for name, file in panel_files.items():
        parts.append(f'<figure><img src="{e(file)}" alt="{e(PANEL_TITLES.get(name, name))}" '
                     f'width="420" height="420"><figcaption>{e(PANEL_TITLES.get(name, name))}'
                     "</figcaption></figure>")
    parts.append("</div><h2>Statistics</h2>")
    parts.append(_table(("statistic", "value"), list(result.statistics.to_dict().items())))
    parts.append("<h2>Detectors</h2>")
    parts.append(_table(
        ("detector", "detected", "score", "threshold", "locations (x, y, radius px)", "details"),
        [(d.name, "yes" if d.detected else "no", d.score, d.threshold,
          "; ".join(f"#{i} ({loc.x:.0f}, {loc.y:.0f}, {loc.radius_pixels:.0f}) {loc.label}"
                    .strip() for i, loc in enumerate(d.locations, start=1)), d.details)
         for d in result.detectors]))  # fmt: skip
    parts.append("<h2>Inputs</h2>")
    parts.append(_table(("role", "path"), list(result.inputs.items())))
    config = json.dumps(result.config, indent=2, default=str)
    parts.append(f"<details><summary>Configuration</summary><pre>{e(config)}</pre></details>")
    return _page(f"QA {result.name}", "".join(parts))


def write_qa_report(
    result: QAResult,
    panels: Mapping[str, Panel],
    out: str | os.PathLike,
    *,
    subimage: tuple[int, int, int, int] | None = None,
    overwrite: bool = False,
    index_href: str | None = None,
    attempts: Sequence[Mapping[str, Any]] = (),
) -> Path:
    """Write a report directory: ``result.json``, the thumbnails and ``report.html``.

    Parameters
    ----------
    result
        The QA outcome.
    panels
        Thumbnails from :func:`report_panels`.
    out
        Report directory, created atomically with a completion marker.
    subimage
        ``(x0, x1, y0, y1)`` sub-image box to outline on the image panels.
    overwrite
        Replace an existing report.
    index_href
        Relative link back to a batch index, if any.
    attempts
        Every imaging attempt of the product (JSON-compatible rows with ``attempt``,
        ``imsize``, ``cycleniter``, ``iterations``, ``major_cycles``, ``stop_reason``,
        ``seconds``, ``decision`` and ``reasons``): listed in the report and written as
        ``attempts.json``.

    Returns
    -------
    pathlib.Path
        The report directory.

    Raises
    ------
    ProductExistsError
        If ``out`` exists and ``overwrite`` is false.
    """
    detected = [d for d in result.detectors if d.detected and d.locations]
    with atomic_output(out, overwrite=overwrite) as tmp:
        tmp.mkdir()
        write_qa_json(result, tmp / "result.json")
        if attempts:
            (tmp / "attempts.json").write_text(json.dumps(list(attempts), indent=2,
                                                          default=str) + "\n")
        files = {}
        for name, panel in panels.items():
            render_panel(name, panel, tmp / f"{name}.png", detections=detected,
                         subimage=subimage)  # fmt: skip
            files[name] = f"{name}.png"
        (tmp / "report.html").write_text(_report_html(result, files, index_href, attempts))
    return Path(out)


def result_row(result: QAResult, *, report: str | None = None, thumbnail: str | None = None
               ) -> dict[str, Any]:  # fmt: skip
    """One flat row of the batch table for ``result``.

    Columns: ``name``, ``decision``, ``attempt``, ``product_type``, ``n_reasons``,
    ``reasons`` (one per line), ``detections`` (names of the detectors that fired),
    ``retry_cycleniter``/``retry_imsize``, one ``stat_<name>`` per numeric statistic,
    ``det_<name>_score``/``_detected`` per detector, ``report``/``thumbnail`` (relative paths)
    and ``error`` (None).
    """
    row: dict[str, Any] = {
        "name": result.name, "decision": result.decision, "attempt": result.attempt,
        "product_type": result.product_type, "n_reasons": len(result.reasons),
        "reasons": "\n".join(f"[{r.action}] {r.message}" for r in result.reasons),
        "detections": ",".join(d.name for d in result.detectors if d.detected),
        "retry_cycleniter": result.retry.cycleniter if result.retry else None,
        "retry_imsize": result.retry.imsize if result.retry else None,
    }  # fmt: skip
    for key, value in result.statistics.to_dict().items():
        if isinstance(value, bool | int | float) or value is None:
            row[f"stat_{key}"] = value
    for d in result.detectors:
        row[f"det_{d.name}_score"] = float(d.score)
        row[f"det_{d.name}_detected"] = bool(d.detected)
    row.update(report=report, thumbnail=thumbnail, error=None)
    return row


def error_row(name: str, message: str) -> dict[str, Any]:
    """The batch-table row of a product that could not be assessed (decision ``"error"``)."""
    return {"name": name, "decision": "error", "reasons": message, "n_reasons": 1,
            "report": None, "thumbnail": None, "error": message}  # fmt: skip


def write_qa_table(rows: Sequence[Mapping[str, Any]], path: str | os.PathLike, *,
                   overwrite: bool = False) -> Path:  # fmt: skip
    """Write the batch rows as a Parquet table (pyarrow), atomically."""
    table = pd.DataFrame(list(rows))
    with atomic_output(path, overwrite=overwrite, directory=False) as tmp:
        table.to_parquet(tmp, engine="pyarrow", index=False)
    return Path(path)


def _index_cell(key: str, row: Mapping[str, Any]) -> str:
    e = html.escape
    value = row.get(key)
    if key == "thumbnail":
        if not row.get("thumbnail"):
            return '<td data-v=""></td>'
        return (f'<td data-v=""><a href="{e(row["report"])}"><img class="thumb" '
                f'src="{e(row["thumbnail"])}" width="96" height="96" alt="{e(row["name"])}">'
                "</a></td>")
    if key == "name":
        text = e(str(value))
        link = f'<a href="{e(row["report"])}">{text}</a>' if row.get("report") else text
        return f'<td data-v="{text}">{link}</td>'
    if key == "decision":
        colour = DECISION_COLOURS.get(str(value), "#57606a")
        return (f'<td data-v="{SEVERITY.get(str(value), 0)}" style="color:{colour};'
                f'font-weight:600">{e(str(value))}</td>')
    if isinstance(value, float):
        shown = _fmt(value)
        return f'<td class="num" data-v="{value if math.isfinite(value) else ""}">{shown}</td>'
    shown = "" if value is None else str(value)
    return f'<td data-v="{e(shown)}">{e(shown).replace(chr(10), "<br>")}</td>'


_INDEX_COLUMNS = (("thumbnail", "image"), ("name", "product"), ("decision", "decision"),
                  ("attempt", "attempt"), ("product_type", "type"),
                  ("stat_ratio_full", "peak/rms full"), ("stat_ratio_sub", "peak/rms sub"),
                  ("detections", "detections"), ("reasons", "reasons"))  # fmt: skip


def write_batch_index(rows: Sequence[Mapping[str, Any]], path: str | os.PathLike, *,
                      title: str = "vlassdask QA", overwrite: bool = False) -> Path:  # fmt: skip
    """Write the batch ``index.html``: decision counts and a sortable table of all products.

    Rows are shown worst first (error, rejected, needs_review, retry, accepted), then by name;
    clicking a column header sorts by it (``index.html#sort=<column>`` sorts on load). Each
    thumbnail and name links to the product's report.
    """
    e = html.escape
    ordered = sorted(rows, key=lambda r: (SEVERITY.get(str(r.get("decision")), 0),
                                          str(r.get("name"))))  # fmt: skip
    counts = {d: sum(1 for r in rows if r.get("decision") == d) for d in (*DECISIONS, "error")}
    summary = " ".join(f"{_badge(d)} {n}" for d, n in counts.items() if n)
    head = "".join(f'<th data-key="{e(k)}">{e(label)}</th>' if k != "thumbnail"
                   else f"<th>{e(label)}</th>" for k, label in _INDEX_COLUMNS)  # fmt: skip
    body = "".join("<tr>" + "".join(_index_cell(k, r) for k, _ in _INDEX_COLUMNS) + "</tr>"
                   for r in ordered)  # fmt: skip
    page = _page(title, f"<h1>{e(title)}</h1><p>{len(rows)} products: {summary}</p>"
                 f'<table id="qa"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>',
                 _SORT_JS)  # fmt: skip
    with atomic_output(path, overwrite=overwrite, directory=False) as tmp:
        tmp.write_text(page)
    return Path(path)
