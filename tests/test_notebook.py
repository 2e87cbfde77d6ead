"""docs/notebooks/quickstart.ipynb runs end to end in a real Jupyter kernel (nbclient), shows
the products' HTML summaries and dask's notebook progress widget."""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).resolve().parents[1] / "docs" / "notebooks" / "quickstart.ipynb"


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    work = tmp_path_factory.mktemp("notebook")
    shutil.copy(NOTEBOOK, work)
    nb = nbformat.read(work / NOTEBOOK.name, as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(work)}}).execute()
    return nb, work


def _outputs(nb, source_start: str) -> list[dict]:
    (cell,) = [c for c in nb.cells if c.cell_type == "code" and c.source.startswith(source_start)]
    return cell.outputs


def test_notebook_runs_without_errors(executed):
    nb, work = executed
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs
              if o.output_type == "error"]
    assert errors == []
    assert (work / "quickstart-clean.zarr").is_dir() and (work / "quickstart-dirty.png").is_file()


def test_products_show_their_html_summary(executed):
    nb, _ = executed
    for start, title in (("imaging = ", "vlassdask dirty image"),
                         ("clean = ", "vlassdask CLEAN image")):
        html = [o["data"]["text/html"] for o in _outputs(nb, start)
                if o.output_type == "execute_result" and "text/html" in o.get("data", {})]
        assert len(html) == 1 and title in html[0]
        assert "data:image/png;base64," in html[0]  # the preview thumbnail
        assert "Jy/beam" in html[0] or "restoring beam" in html[0]


def test_progress_is_the_notebook_widget(executed):
    nb, _ = executed
    widgets = [o for o in _outputs(nb, "imaging = ")
               if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    assert widgets, "no progress widget under the imaging cell"
