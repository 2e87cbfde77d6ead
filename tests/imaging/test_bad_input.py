"""Bad input to ``make_dirty_product`` and ``vlassdask image``: one clear error, nothing written.

Every case must raise one :class:`~vlassdask.errors.VlassdaskError` naming the problem from the
Python API, and make the CLI exit with status 2 and a single ``error: ...`` line, leaving the
output directory exactly as it was (no product, no hidden temporary sibling). An existing product
survives a refused or failed run byte for byte.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from casacore.tables import table

from vlassdask.cli.imaging import parse_angle_arcsec
from vlassdask.cli.main import main
from vlassdask.errors import ConfigError, InputError, ProductExistsError
from vlassdask.imaging.config import ImagingConfig
from vlassdask.io.atomic import COMPLETION_MARKER
from vlassdask.products.dirty import make_dirty_product
from vlassdask.testing.ms import make_test_ms
from vlassdask.testing.ms_corruption import damage_column_storage

#: inner VLA B-configuration pads: baselines up to ~3 km, so 3" cells hold the whole uv plane
INNER = ["W04", "W08", "W12", "W16", "E04", "E08", "E12", "E16", "N04", "N08", "N12", "N16"]
NCHAN = 2
CONFIG = ImagingConfig(imsize=(128, 128), cell_arcsec=3.0, weighting="natural", row_chunks=400)
CLI_IMAGE = ["--imsize", "128", "--cell", "3arcsec", "--weighting", "natural"]


@pytest.fixture(scope="module")
def good_ms(tmp_path_factory):
    """A tiny unflagged MS (2 spectral windows x 2 channels, 12 antennas, 660 rows per window)."""
    return make_test_ms(tmp_path_factory.mktemp("bad_input"), name="good.ms", spw_ids=[0, 7],
                        nchan_per_spw=NCHAN, antennas=INNER, noise_sigma_jy=0.01)


@pytest.fixture
def inputs_dir(tmp_path):
    """Scratch directory for bad inputs, beside (not inside) each test's output directory."""
    path = tmp_path / "inputs"
    path.mkdir()
    return path


def _edited_copy(ms: Path, directory: Path, edit) -> Path:
    """A copy of ``ms`` with ``edit(table)`` applied to its main table (opened writable)."""
    copy = directory / "edited.ms"
    shutil.copytree(ms, copy)
    with table(str(copy), readonly=False, ack=False) as tab:
        edit(tab)
    return copy


def _fill(column: str, value):
    def edit(tab):
        tab.putcol(column, np.full_like(tab.getcol(column), value))

    return edit


def _nan_in_first_row(tab):
    data = tab.getcol("DATA", startrow=0, nrow=1)
    data[...] = np.nan
    tab.putcol("DATA", data, startrow=0, nrow=1)


def _nan_message(ms: Path) -> str:
    """The exact error expected for NaN in every channel and hand of the MS's first row."""
    with table(str(ms), ack=False) as tab:
        ddid = int(tab.getcell("DATA_DESC_ID", 0))
        field = int(tab.getcell("FIELD_ID", 0))
    with table(f"{ms}::DATA_DESCRIPTION", ack=False) as dd:
        spw = int(dd.getcell("SPECTRAL_WINDOW_ID", ddid))
    return (f"{NCHAN} unflagged visibilities are NaN/inf (field {field}, spw {spw}); "
            "flag them before imaging")


def _error_line(capsys) -> str:
    """The CLI's single ``error:`` line, which must be the last line on stderr."""
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error:")]
    assert len(errors) == 1, err
    assert lines[-1] == errors[0]
    assert "Traceback" not in err
    return errors[0]


def _snapshot(directory: Path) -> dict[str, tuple[bytes, int]]:
    """Every file below ``directory`` (hidden ones included) with its bytes and mtime."""
    return {str(p.relative_to(directory)): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(directory.rglob("*")) if p.is_file()}


def _not_an_ms(case: str, scratch: Path) -> tuple[Path, str]:
    """A path under ``scratch`` that is no Measurement Set, and words of its error."""
    path = scratch / f"{case}.ms"
    if case == "empty_dir":
        path.mkdir()
    elif case == "plain_file":
        path.write_text("not a table\n")
    return path, "does not exist" if case == "missing" else "is not a Measurement Set"


EDITS = {
    "no_data_column": (lambda tab: tab.removecols("DATA"), "no DATA column"),
    "all_flagged": (_fill("FLAG", True), "all 2640 visibilities are flagged"),
    "zero_weights": (_fill("WEIGHT", 0.0), "all 2640 unflagged visibilities have zero weight"),
    "nan_data": (_nan_in_first_row, "NaN/inf"),
}


#: damaged storage files: (column, damage mode) -> words of the error
DAMAGE = {
    "uvw_emptied": ("UVW", "empty"),
    "data_truncated": ("DATA", "truncate"),
    "data_file_deleted": ("DATA", "delete"),
    "time_truncated": ("TIME", "truncate"),
}


def _bad_ms(case: str, good: Path, scratch: Path) -> tuple[Path, str]:
    if case in EDITS:
        edit, words = EDITS[case]
        return _edited_copy(good, scratch, edit), words
    if case in DAMAGE:
        column, mode = DAMAGE[case]
        copy = scratch / "damaged.ms"
        shutil.copytree(good, copy)
        damage_column_storage(copy, column, mode=mode)
        return copy, f"the {column} column of {copy} is unreadable"
    return _not_an_ms(case, scratch)


ALL_MS_CASES = ["missing", "empty_dir", "plain_file", *EDITS, *DAMAGE]


@pytest.mark.parametrize("case", ALL_MS_CASES)
def test_bad_ms_python_api(case, good_ms, tmp_path, inputs_dir):
    ms, words = _bad_ms(case, good_ms, inputs_dir)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    with pytest.raises(InputError) as info:
        make_dirty_product(ms, out_dir / "dirty.zarr", CONFIG, fits=out_dir / "dirty.fits",
                           preview=out_dir / "dirty.png", progress=False)
    assert words in str(info.value)
    assert "\n" not in str(info.value)
    assert list(out_dir.iterdir()) == []


@pytest.mark.parametrize("case", ALL_MS_CASES)
def test_bad_ms_cli(case, good_ms, tmp_path, inputs_dir, capsys):
    ms, words = _bad_ms(case, good_ms, inputs_dir)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    rc = main(["image", "--ms", str(ms), "--out", str(out_dir / "dirty.zarr"), *CLI_IMAGE,
               "--fits", str(out_dir / "dirty.fits"), "--scheduler", "threads"])
    assert rc == 2
    assert words in _error_line(capsys)
    assert list(out_dir.iterdir()) == []


def test_missing_data_column_requested(good_ms, tmp_path, capsys):
    out = tmp_path / "dirty.zarr"
    config = CONFIG.replace(data_column="CORRECTED_DATA")
    with pytest.raises(InputError, match="no CORRECTED_DATA column"):
        make_dirty_product(good_ms, out, config, progress=False)
    rc = main(["image", "--ms", str(good_ms), "--out", str(out), *CLI_IMAGE,
               "--data-column", "CORRECTED_DATA", "--scheduler", "threads"])
    assert rc == 2
    assert "no CORRECTED_DATA column" in _error_line(capsys)
    assert list(tmp_path.iterdir()) == []


def test_nan_message_unchanged_through_schedulers(good_ms, tmp_path, inputs_dir, capsys):
    """The InputError raised inside a dask task reaches the user verbatim: threaded scheduler
    (Python API and CLI) and the CLI's default embedded distributed LocalCluster."""
    ms = _edited_copy(good_ms, inputs_dir, _nan_in_first_row)
    expected = _nan_message(ms)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    with pytest.raises(InputError) as info:
        make_dirty_product(ms, out_dir / "dirty.zarr", CONFIG, progress=False)
    assert str(info.value) == expected
    args = ["image", "--ms", str(ms), "--out", str(out_dir / "dirty.zarr"), *CLI_IMAGE]
    assert main([*args, "--scheduler", "threads"]) == 2
    assert _error_line(capsys) == f"error: {expected}"
    assert main(args) == 2  # embedded LocalCluster: the error crosses process boundaries
    assert _error_line(capsys) == f"error: {expected}"
    assert list(out_dir.iterdir()) == []


def test_nan_in_flagged_data_is_ignored(good_ms, tmp_path, inputs_dir):
    def edit(tab):
        _nan_in_first_row(tab)
        flag = tab.getcol("FLAG", startrow=0, nrow=1)
        flag[...] = True
        tab.putcol("FLAG", flag, startrow=0, nrow=1)

    ms = _edited_copy(good_ms, inputs_dir, edit)
    product = make_dirty_product(ms, tmp_path / "dirty.zarr", CONFIG, progress=False)
    assert product.summary["visibilities"]["unflagged"] == 2640 - NCHAN
    assert np.isfinite(product.summary["peak_abs_jy_per_beam"])


def test_existing_output_refused_then_overwritten(good_ms, tmp_path, inputs_dir, capsys):
    out_dir = tmp_path / "out"
    out = out_dir / "dirty.zarr"
    args = ["image", "--ms", str(good_ms), "--out", str(out), "--cell", "3arcsec",
            "--scheduler", "threads"]
    assert main([*args, "--imsize", "128"]) == 0
    capsys.readouterr()
    before = _snapshot(out_dir)
    assert sorted(p.name for p in out_dir.iterdir()) == ["dirty.png", "dirty.zarr"]
    assert "dirty.zarr/" + COMPLETION_MARKER in before

    with pytest.raises(ProductExistsError, match="already exists"):
        make_dirty_product(good_ms, out, CONFIG, progress=False)
    assert main([*args, "--imsize", "128"]) == 2
    line = _error_line(capsys)
    assert "already exists" in line and "--overwrite" in line
    # a failing run with --overwrite leaves the old product in place as well
    nan_ms = _edited_copy(good_ms, inputs_dir, _nan_in_first_row)
    bad = ["image", "--ms", str(nan_ms), "--out", str(out), *CLI_IMAGE, "--overwrite",
           "--scheduler", "threads"]
    assert main(bad) == 2
    assert "NaN/inf" in _error_line(capsys)
    assert _snapshot(out_dir) == before

    assert main([*args, "--imsize", "64", "--overwrite"]) == 0
    assert sorted(p.name for p in out_dir.iterdir()) == ["dirty.png", "dirty.zarr"]
    assert (out / COMPLETION_MARKER).is_file()
    with xr.open_zarr(out) as ds:
        assert ds.sizes["l"] == 64 and ds.sizes["m"] == 64
    assert _snapshot(out_dir)["dirty.png"] != before["dirty.png"]


@pytest.mark.parametrize(("cell", "words"), [
    ("3furlongs", "cannot read the angle '3furlongs'"),
    ("abc", "cannot read the angle 'abc'"),
    ("-1arcsec", "cell must be a positive number"),
    ("0", "cell must be a positive number"),
])  # fmt: skip
def test_bad_cell(cell, words, good_ms, tmp_path, capsys):
    rc = main(["image", "--ms", str(good_ms), "--out", str(tmp_path / "dirty.zarr"),
               "--imsize", "128", "--cell", cell, "--scheduler", "threads"])
    assert rc == 2
    assert words in _error_line(capsys)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ConfigError, match=words.split("'")[0]):
        ImagingConfig(imsize=(128, 128), cell_arcsec=parse_angle_arcsec(cell))


@pytest.mark.parametrize("imsize", [["127"], ["128", "129"], ["0"]])
def test_odd_imsize(imsize, good_ms, tmp_path, capsys):
    args = ["--imsize", ",".join(imsize)]
    rc = main(["image", "--ms", str(good_ms), "--out", str(tmp_path / "dirty.zarr"), *args,
               "--cell", "3arcsec", "--scheduler", "threads"])
    assert rc == 2
    assert "imsize must be even" in _error_line(capsys)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ConfigError, match="imsize must be even"):
        ImagingConfig(imsize=(int(imsize[0]), int(imsize[-1])), cell_arcsec=3.0)
