"""Outputs never replace inputs, --overwrite replaces a product of the same kind only, and an
output that cannot be written is refused before any work (the CLI run as a subprocess)."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import time

import pytest

from tests.cli.errors import assert_one_error
from vlassdask.testing.ms import make_test_ms

INNER = ["W04", "W08", "W12", "E04", "E08", "E12", "N04", "N08", "N12"]
GRID = ["--imsize", "64", "--cell", "8arcsec", "--scheduler", "threads"]


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "vlassdask.cli.main", *args],
                          capture_output=True, text=True, check=False, timeout=300)


def _digest(path) -> str:
    h = hashlib.sha256()
    for f in sorted(p for p in path.rglob("*") if p.is_file()):
        h.update(f.relative_to(path).as_posix().encode())
        h.update(f.read_bytes())
    return h.hexdigest()


@pytest.fixture(scope="module")
def small_ms(tmp_path_factory):
    return make_test_ms(tmp_path_factory.mktemp("safety"), name="in.ms", spw_ids=[3],
                        nchan_per_spw=2, antennas=INNER)


@pytest.mark.parametrize("command", ["image", "clean"])
@pytest.mark.parametrize("where", ["same", "inside"])
def test_output_on_or_inside_the_input_ms_is_refused(small_ms, command, where):
    before = _digest(small_ms)
    out = small_ms if where == "same" else small_ms / "img.zarr"
    proc = _cli(command, "--ms", str(small_ms), "--out", str(out), *GRID, "--overwrite")
    assert_one_error(proc, "input")
    assert _digest(small_ms) == before


def test_overwrite_replaces_only_a_product_of_the_same_kind(small_ms, tmp_path):
    store = tmp_path / "img.zarr"
    assert _cli("image", "--ms", str(small_ms), "--out", str(store), *GRID,
                "--no-preview").returncode == 0
    precious = tmp_path / "notes"
    precious.mkdir()
    (precious / "keep.txt").write_text("mine")
    proc = _cli("export-fits", str(store), "--out", str(precious), "--overwrite")
    assert_one_error(proc, "not a file")
    assert (precious / "keep.txt").read_text() == "mine"
    proc = _cli("image", "--ms", str(small_ms), "--out", str(precious), *GRID, "--overwrite")
    assert_one_error(proc, "not a vlassdask product")
    assert (precious / "keep.txt").read_text() == "mine"
    # a product of the same kind is replaced
    assert _cli("image", "--ms", str(small_ms), "--out", str(store), *GRID, "--no-preview",
                "--overwrite").returncode == 0


def test_unwritable_output_is_refused_before_the_work(small_ms, tmp_path):
    blocker = tmp_path / "plain-file"
    blocker.write_text("x")
    start = time.perf_counter()
    proc = _cli("clean", "--ms", str(small_ms), "--out", str(blocker / "sub" / "img.zarr"),
                *GRID, "--niter", "10")
    assert_one_error(proc, "is not a directory")
    assert "major   0" not in proc.stderr  # refused before any imaging
    assert time.perf_counter() - start < 60
    assert blocker.read_text() == "x"
