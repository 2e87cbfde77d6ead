"""The export-fits and preview commands: outputs, exit codes and one-line errors."""

import pytest
from astropy.io import fits

from vlassdask.cli.main import main
from vlassdask.io.image_store import write_image_store
from vlassdask.testing.images import make_test_image


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    path = tmp_path_factory.mktemp("store") / "img.zarr"
    return write_image_store(make_test_image(nx=32, ny=32), path)


def _one_line_error(capsys, text):
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and text in err
    assert "\n" not in err


def test_export_fits_default_sky(store, tmp_path):
    assert main(["export-fits", str(store), "--out", str(tmp_path / "img.fits")]) == 0
    with fits.open(tmp_path / "img.fits") as hdul:
        assert hdul[0].data.shape == (1, 1, 32, 32)


def test_export_fits_several_variables_and_overwrite(store, tmp_path, capsys):
    args = ["export-fits", str(store), "--out", str(tmp_path / "img.fits"),
            "--variable", "SKY", "--variable", "POINT_SPREAD_FUNCTION"]  # fmt: skip
    assert main(args) == 0
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["img.point_spread_function.fits", "img.sky.fits"]
    capsys.readouterr()
    assert main(args) == 2
    _one_line_error(capsys, "--overwrite")
    assert main([*args, "--overwrite"]) == 0


def test_export_fits_errors(store, tmp_path, capsys):
    out = str(tmp_path / "img.fits")
    assert main(["export-fits", str(tmp_path / "missing.zarr"), "--out", out]) == 2
    _one_line_error(capsys, "does not exist")
    assert main(["export-fits", str(store), "--out", out, "--variable", "FOO"]) == 2
    _one_line_error(capsys, "'FOO'")
    assert list(tmp_path.iterdir()) == []


def test_preview(store, tmp_path, capsys):
    out = tmp_path / "img.png"
    assert main(["preview", str(store), "--out", str(out)]) == 0
    assert out.stat().st_size > 1000
    capsys.readouterr()
    assert main(["preview", str(store), "--out", str(out), "--variable", "NOPE"]) == 2
    _one_line_error(capsys, "NOPE")


@pytest.mark.parametrize("command", ["export-fits", "preview"])
def test_help(command, capsys):
    assert main([command, "--help"]) == 0
    assert "--out" in capsys.readouterr().out
