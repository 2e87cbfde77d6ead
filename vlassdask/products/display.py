"""Short HTML summaries of products for Jupyter (``_repr_html_`` of the product dataclasses).

One small table (what was written, the numbers a user looks at first) and the PNG preview as a
thumbnail when there is one; every text escaped, the image inlined, nothing fetched.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Iterable
from pathlib import Path
from typing import Any

#: Width of the preview thumbnail, CSS pixels.
THUMBNAIL_PX = 240


def _value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list | tuple) and value and all(isinstance(v, Path) for v in value):
        return "<br>".join(html.escape(str(v)) for v in value)
    return html.escape(str(value))


def product_html(title: str, rows: Iterable[tuple[str, Any]], *,
                 preview: Path | None = None) -> str:  # fmt: skip
    """An HTML block: ``title``, a two-column table of ``rows`` (empty values left out) and the
    ``preview`` PNG inlined beside it when it exists.

    Parameters
    ----------
    title
        Heading (escaped).
    rows
        (label, value) pairs; floats shown to 4 significant digits, lists of paths one per line.
    preview
        A PNG file to show as a thumbnail.
    """
    cells = "".join(f"<tr><th style='text-align:left'>{html.escape(label)}</th>"
                    f"<td style='text-align:left'>{_value(value)}</td></tr>"
                    for label, value in rows if value not in (None, "", [], {}))  # fmt: skip
    image = ""
    if preview is not None and Path(preview).is_file():
        data = base64.b64encode(Path(preview).read_bytes()).decode("ascii")
        image = (f"<img src='data:image/png;base64,{data}' width='{THUMBNAIL_PX}' "
                 f"alt='{html.escape(Path(preview).name)}' style='margin-left:1em'>")
    return (f"<div><strong>{html.escape(title)}</strong><div style='display:flex;"
            f"align-items:flex-start'><table>{cells}</table>{image}</div></div>")


def beam_text(beam: dict | None) -> str | None:
    """``2.38" x 2.25" PA 0.6 deg`` of a beam record (major_arcsec, minor_arcsec, pa_deg)."""
    if not beam:
        return None
    return (f'{beam["major_arcsec"]:.3g}" x {beam["minor_arcsec"]:.3g}" '
            f'PA {beam["pa_deg"]:.1f} deg')
