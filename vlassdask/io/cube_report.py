"""The HTML report of a coarse cube: the planes' flags and beams against frequency, with the
rejection thresholds drawn, a table of the planes and their reasons, and a preview.

The report is a directory (``report.html``, ``planes.png``, ``preview.png``), written
atomically; every text is escaped with :func:`html.escape`.
"""

from __future__ import annotations

import html
import os
import shutil
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from vlassdask.io.atomic import atomic_output
from vlassdask.qa.plane_rejection import (
    IMAGED,
    NOT_IMAGED,
    REJECTED,
    PlaneRejectionConfig,
    fit_beam_model,
)

_LOCK = threading.Lock()  # matplotlib is not thread-safe
_STYLE = {IMAGED: ("o", "#2a9d3a", "accepted"),
          REJECTED: ("X", "#d62728", "rejected after imaging"),
          NOT_IMAGED: ("s", "#888888", "not imaged")}
_CSS = ("body{font-family:sans-serif;margin:1.5em;max-width:1100px}"
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px;"
        "font-size:90%}th{background:#eee}.rejected{color:#b00}.skipped{color:#777}")


def plot_planes(planes: Sequence[dict], rejection: PlaneRejectionConfig, out: Path) -> None:
    """Flag fraction, flagged fields and beam axes against frequency, thresholds drawn."""
    freqs = np.array([p["reference_frequency_hz"] for p in planes]) / 1e9
    beams = [(p["beam"]["major_arcsec"], p["beam"]["minor_arcsec"])
             if p["status"] != NOT_IMAGED else None for p in planes]
    model = fit_beam_model(beams, freqs * 1e9, rejection.beam_model)
    with _LOCK:
        fig = Figure(figsize=(8, 8.5))
        FigureCanvasAgg(fig)
        ax_flag, ax_fields, ax_beam = fig.subplots(3, 1, sharex=True)
        for status, (marker, colour, label) in _STYLE.items():
            k = [i for i, p in enumerate(planes) if p["status"] == status]
            if not k:
                continue
            ax_flag.scatter(freqs[k], [planes[i]["flags"]["flagged_fraction"] for i in k],
                            marker=marker, color=colour, label=label)
            ax_fields.scatter(freqs[k], [planes[i]["flags"]["flagged_fields"] for i in k],
                              marker=marker, color=colour)
            imaged = [i for i in k if beams[i] is not None]
            ax_beam.scatter(freqs[imaged], [beams[i][0] for i in imaged], marker=marker,
                            color=colour)
            ax_beam.scatter(freqs[imaged], [beams[i][1] for i in imaged], marker=marker,
                            facecolors="none", edgecolors=colour)
        ax_flag.axhline(rejection.spw_flag_fraction, color="k", ls="--",
                        label=f"reject at >= {rejection.spw_flag_fraction:.0%}")
        ax_flag.set_ylabel("flagged fraction")
        ax_flag.set_ylim(-0.02, 1.02)
        ax_flag.legend(fontsize=8, loc="upper left")
        ax_fields.axhline(rejection.max_flagged_fields + 0.5, color="k", ls="--",
                          label=f"not imaged above {rejection.max_flagged_fields}")
        ax_fields.set_ylabel(f"fields > {rejection.field_flag_fraction:.0%} flagged")
        ax_fields.legend(fontsize=8, loc="upper left")
        if model is not None:
            grid = np.linspace(freqs.min() * 0.97, freqs.max() * 1.03, 100)
            for expected, style in zip(model.expected(grid * 1e9), ("-", ":"), strict=True):
                ax_beam.plot(grid, expected, "k" + style, lw=1)
                ax_beam.fill_between(grid, expected * (1 - rejection.beam_tolerance),
                                     expected * (1 + rejection.beam_tolerance), color="k",
                                     alpha=0.08)
        ax_beam.set_ylabel("beam major (filled) / minor (open), arcsec")
        ax_beam.set_xlabel("frequency (GHz)")
        ax_beam.set_title(f"expected beam ({rejection.beam_model} model), "
                          f"+/-{rejection.beam_tolerance:.0%}", fontsize=9)
        fig.tight_layout()
        fig.savefig(out, dpi=90)


def _row(p: dict) -> str:
    e = html.escape
    beam = p.get("beam")
    beam_text = (f"{beam['major_arcsec']:.2f}\" x {beam['minor_arcsec']:.2f}\" "
                 f"{beam['pa_deg']:.0f}&deg;") if beam and p["status"] != NOT_IMAGED else ""
    shift = (p.get("position_correction") or {}).get("shift_arcsec")
    css = {REJECTED: "rejected", NOT_IMAGED: "skipped"}.get(p["status"], "")
    return (f'<tr class="{css}"><td>{p["spw"]}</td>'
            f'<td>{p["reference_frequency_hz"] / 1e9:.4f}</td><td>{e(p["status"])}</td>'
            f'<td>{p["flags"]["flagged_fraction"]:.1%}</td>'
            f'<td>{p["flags"]["flagged_fields"]} / {p["flags"]["n_fields"]}</td>'
            f"<td>{beam_text}</td><td>{'' if shift is None else f'{shift:.3f}'}</td>"
            f'<td>{"<br>".join(e(r) for r in p["reasons"])}</td></tr>')


def write_cube_report(
    out: str | os.PathLike,
    planes: Sequence[dict],
    rejection: PlaneRejectionConfig,
    *,
    phase_center: str,
    preview: Path | None = None,
    files: Sequence[str] = (),
    overwrite: bool = False,
) -> Path:
    """Write the report directory ``out`` (``report.html`` and its images), atomically.

    Parameters
    ----------
    out
        Report directory.
    planes
        Plane records (``spw``, ``reference_frequency_hz``, ``status``, ``reasons``,
        ``flags``, ``beam``, ``position_correction``).
    rejection
        The thresholds (drawn on the plot).
    phase_center
        The title.
    preview
        A PNG to show (copied in).
    files
        Names of the product's files (in the report's parent directory), linked.
    overwrite
        Replace an existing report.

    Returns
    -------
    pathlib.Path
        ``out/report.html``.
    """
    e = html.escape
    with atomic_output(out, overwrite=overwrite) as tmp:
        tmp.mkdir(parents=True, exist_ok=True)
        plot_planes(planes, rejection, tmp / "planes.png")
        image = ""
        if preview is not None:
            shutil.copyfile(preview, tmp / "preview.png")
            image = '<h2>Stokes I preview</h2><img src="preview.png" alt="preview">'
        counts = {s: sum(p["status"] == s for p in planes) for s in (IMAGED, REJECTED,
                                                                      NOT_IMAGED)}
        rows = "".join(_row(p) for p in planes)
        links = "".join(f'<li><a href="../{e(f)}">{e(f)}</a></li>' for f in files)
        page = (
            f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{e(phase_center)}"
            f"</title><style>{_CSS}</style></head><body><h1>Coarse cube {e(phase_center)}</h1>"
            f"<p>{counts[IMAGED]} accepted, {counts[REJECTED]} rejected after imaging, "
            f"{counts[NOT_IMAGED]} not imaged.</p>"
            '<img src="planes.png" alt="flag fraction and beam against frequency">'
            "<h2>Planes</h2><table><tr><th>spw</th><th>frequency (GHz)</th><th>status</th>"
            "<th>flagged</th><th>fields flagged</th><th>beam</th><th>position shift (\")</th>"
            f"<th>reasons</th></tr>{rows}</table>{image}<h2>Files</h2><ul>{links}</ul>"
            "</body></html>")
        (tmp / "report.html").write_text(page, encoding="utf-8")
    return Path(out) / "report.html"
