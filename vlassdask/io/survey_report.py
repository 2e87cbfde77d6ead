"""``<survey>/index.html``: one row per product with its thumbnail, state and QA decision.

Thumbnails are the products' own preview PNGs, linked relatively (the page moves with the
survey directory). Every text is escaped with :func:`html.escape`; written atomically.
"""

from __future__ import annotations

import html
import time
from pathlib import Path
from typing import Any

from vlassdask.io.survey_manifest import write_atomically

_CSS = ("body{font-family:sans-serif;margin:1.5em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:3px 8px;font-size:90%;vertical-align:middle}"
        "th{background:#eee}img{height:96px}.failed{color:#b00}.pending,.running{color:#777}")


def write_survey_index(survey: Path, status: dict[str, Any]) -> Path:
    """Write ``<survey>/index.html`` from :func:`vlassdask.products.survey_run.survey_status`."""
    e = html.escape
    rows = []
    for r in status["rows"]:
        thumb = f'<img src="{e(r["preview"])}" alt="{e(r["name"])}">' if r["preview"] else ""
        seconds = "" if r["seconds"] is None else f"{r['seconds']:.1f}"
        rows.append(f'<tr class="product {e(r["state"])}"><td>{thumb}</td><td>{e(r["name"])}'
                    f'</td><td>{e(r["tile"])}</td><td>{e(r["product"])}</td>'
                    f'<td class="state">{e(r["state"])}</td>'
                    f'<td class="decision">{e(str(r["decision"] or ""))}</td>'
                    f'<td>{r["attempts"]}</td><td>{seconds}</td>'
                    f'<td>{e(r["reason"] or "")}</td></tr>')
    counts = ", ".join(f"{n} {s}" for s, n in sorted(status["states"].items()))
    decisions = ", ".join(f"{n} {d}" for d, n in sorted(status["decisions"].items())) or "none"
    page = (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>Survey {e(survey.name)}"
            f"</title><style>{_CSS}</style></head><body><h1>Survey {e(survey.name)}</h1>"
            f"<p>{status['products']} products: {e(counts)}. QA decisions: {e(decisions)}. "
            f"Core-hours spent: {status['core_hours']:.3f}. Written "
            f"{e(time.strftime('%Y-%m-%d %H:%M:%S'))}.</p>"
            "<table><tr><th>preview</th><th>phase centre</th><th>tile</th><th>product</th>"
            "<th>state</th><th>QA decision</th><th>attempts</th><th>seconds</th>"
            f"<th>reason</th></tr>{''.join(rows)}</table></body></html>")
    path = Path(survey) / "index.html"
    write_atomically(path, page)
    return path
