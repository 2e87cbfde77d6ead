"""The Memo-19 comparison page renders in headless Chromium with its table and every plot.

Chromium comes from ``tools/system-deps.sh`` (README test command, CI); the test fails, rather
than skips, without it (``tests/qa/test_report_browser.py``).
"""

from __future__ import annotations

import re

import numpy as np
from matplotlib.image import imread

from tests.catalog.test_compare import OFFSETS, _catalog, _perturbed
from tests.qa.test_report_browser import run_chromium
from vlassdask.catalog.compare import compare_catalogs
from vlassdask.io.catalog_report import write_comparison_report


def test_comparison_page_shows_its_table_and_plots(tmp_path):
    rng = np.random.default_rng(11)
    a = _catalog(rng)
    report = write_comparison_report(compare_catalogs(a, _perturbed(a, rng)), tmp_path / "rep",
                                     names=("a", "b"))
    page = (report / "index.html").as_uri()
    dom = run_chromium(tmp_path, "--dump-dom", page)
    groups = {g for g, _ in re.findall(r"<tr><td>([^<]+)</td><td>([^<]+)</td>", dom)}
    assert groups == {"overall", *OFFSETS}
    images = re.findall(r'<img[^>]+src="([^"]+)"', dom)
    assert len(images) >= 1 + 3 * len(OFFSETS)
    for src in images:
        assert (report / src).is_file(), src
    shot = tmp_path / "page.png"
    run_chromium(tmp_path, f"--screenshot={shot}", "--window-size=1200,1600", page)
    pixels = imread(shot)[..., :3]
    assert pixels.std() > 0.05  # text, a table and plots, not a blank page
