"""The batch index renders in a real browser: headless Chromium shows the table and thumbnails.

Needs the Debian package ``chromium``: ``tools/system-deps.sh`` (part of the README's test
command and of CI) installs it; the tests fail, rather than skip, without it.
"""

import re
import shutil
import subprocess

import numpy as np
import pytest
from matplotlib.image import imread

from vlassdask.products.qa import qa_batch
from vlassdask.testing.qa_products import synthetic_qa_config, write_qa_case_products

KINDS = ("clean", "pb_hole", "rfi", "poor_deconvolution")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def chromium() -> str:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        pytest.fail("headless Chromium is needed for this test: install it with "
                    "`bash tools/system-deps.sh` (apt-get install chromium)")
    return exe


def run_chromium(tmp_path, *args):
    profile = tmp_path / "chromium-profile"
    done = subprocess.run([chromium(), *FLAGS, f"--user-data-dir={profile}", *args],
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    root = tmp_path_factory.mktemp("browser")
    write_qa_case_products(root / "products", KINDS, size=512)
    return qa_batch(root / "products", root / "qa", config=synthetic_qa_config(512),
                    progress=False)


def rows_of(dom):
    body = dom[dom.index("<tbody>"):dom.index("</tbody>")]
    return re.findall(r"<tr>(.*?)</tr>", body, flags=re.S)


def test_index_dom_has_every_product_row_and_thumbnail(batch, tmp_path):
    dom = run_chromium(tmp_path, "--dump-dom", (batch.out / "index.html").as_uri())
    rows = rows_of(dom)
    assert len(rows) == len(KINDS)
    images = re.findall(r'<img class="thumb" src="([^"]+)"', dom)
    assert len(images) == len(KINDS)
    for src in images:
        assert (batch.out / src).is_file()
    decisions = [re.search(r'data-v="(\d)"[^>]*>([a-z_]+)</td>', r).group(2) for r in rows]
    assert decisions == sorted(decisions, key=["rejected", "needs_review", "retry",
                                               "accepted"].index)  # worst first
    assert set(decisions) == set(batch.table["decision"])


def test_sorting_by_a_column(batch, tmp_path):
    dom = run_chromium(tmp_path, "--dump-dom", (batch.out / "index.html").as_uri() + "#sort=name")
    names = [re.search(r'<td data-v="([^"]+)"><a href', r).group(1) for r in rows_of(dom)]
    assert names == sorted(names) and len(names) == len(KINDS)


def thumbnail_column(png):
    """The screenshot's first table column below the header: where the thumbnails are."""
    return imread(png)[160:, 30:135, :3]


def test_screenshot_shows_the_thumbnails(batch, tmp_path):
    shot = tmp_path / "index.png"
    run_chromium(tmp_path, f"--screenshot={shot}", "--window-size=1280,900",
                 (batch.out / "index.html").as_uri())  # fmt: skip
    assert imread(shot).shape[:2] == (900, 1280)
    # the same page with the thumbnails' files gone: alt text and links remain
    blind = batch.out / "index-without-thumbnails.html"
    blind.write_text((batch.out / "index.html").read_text().replace("/sky.png", "/none.png"))
    blind_shot = tmp_path / "blind.png"
    run_chromium(tmp_path, f"--screenshot={blind_shot}", "--window-size=1280,900",
                 blind.as_uri())  # fmt: skip
    blind.unlink()
    column, bare = thumbnail_column(shot), thumbnail_column(blind_shot)

    def colours(rgb):
        return len(np.unique((rgb * 255).astype(np.uint8).reshape(-1, 3), axis=0))

    def ink(rgb):
        return int((rgb.min(axis=-1) < 0.9).sum())

    assert colours(column) > 5 * colours(bare) and colours(column) > 2000
    assert ink(column) > 2 * 0.6 * 96 * 96  # at least two thumbnails shown, mostly image
    assert ink(bare) < 0.25 * 96 * 96
