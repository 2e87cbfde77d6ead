"""``vlassdask image`` end to end: Zarr store, FITS, PNG, --help, --json, --config, export-fits.

Most runs use ``--scheduler threads`` (no cluster); one runs the default embedded LocalCluster.
"""

from __future__ import annotations

import contextlib
import io
import json

import numpy as np
import pytest
import typer
import xarray as xr
import yaml
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.wcs import WCS

import vlassdask
from vlassdask.cli.main import app, main
from vlassdask.imaging.backend import NUMPY_BACKEND, resolve_backend
from vlassdask.io.atomic import COMPLETION_MARKER
from vlassdask.testing.ms import TEST_MS_DEFAULTS, make_test_ms

INNER = ["W04", "W08", "W12", "W16", "E04", "E08", "E12", "E16", "N04", "N08", "N12", "N16"]
RA, DEC = TEST_MS_DEFAULTS["ra_deg"], TEST_MS_DEFAULTS["dec_deg"]
#: the sample sky's 1 Jy point source (vlassdask.testing.ms.sample_sky)
SOURCE = SkyCoord(RA + 2 / 60, DEC + 1 / 60, unit="deg", frame="fk5")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def cli_ms(tmp_path_factory):
    return make_test_ms(tmp_path_factory.mktemp("image_cli"), name="cli.ms", spw_ids=[0, 7],
                        nchan_per_spw=2, antennas=INNER, noise_sigma_jy=0.01)


@pytest.fixture(scope="module")
def imaged(cli_ms, tmp_path_factory):
    """One briggs run with FITS and (default) PNG outputs; returns (directory, stdout, stderr)."""
    out = tmp_path_factory.mktemp("imaged")
    argv = ["image", "--ms", str(cli_ms), "--out", str(out / "x.zarr"), "--imsize", "256",
            "--cell", "2arcsec", "--weighting", "briggs", "--robust", "1",
            "--scheduler", "threads", "--fits", str(out / "x.fits"), "--device", "auto"]
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        rc = main(argv)
    assert rc == 0, stderr.getvalue()
    return out, stdout.getvalue(), stderr.getvalue()


def test_store_readable_with_xarray(imaged, cli_ms):
    out, _, _ = imaged
    store = out / "x.zarr"
    assert (store / COMPLETION_MARKER).is_file()
    assert sorted(p.name for p in out.iterdir()) == ["x.fits", "x.png", "x.zarr"]
    with xr.open_zarr(store) as ds:
        for name in ("SKY", "POINT_SPREAD_FUNCTION", "SUM_OF_WEIGHTS", "GRID_CORRECTION_L",
                     "GRID_CORRECTION_M"):
            assert name in ds.data_vars
        assert ds.SKY.dims == ("time", "frequency", "polarization", "l", "m")
        assert ds.SKY.shape == (1, 1, 1, 256, 256)
        assert ds.GRID_CORRECTION_L.shape == (256,) and ds.GRID_CORRECTION_M.shape == (256,)
        psf = ds.POINT_SPREAD_FUNCTION.values[0, 0, 0]
        assert psf.max() == pytest.approx(1.0, abs=1e-4)
        assert np.unravel_index(np.argmax(psf), psf.shape) == (128, 128)
        assert float(ds.SUM_OF_WEIGHTS.values.ravel()[0]) > 0
        assert np.isfinite(ds.SKY.values).all()
        provenance = ds.attrs["provenance"]
        assert provenance["vlassdask_version"] == vlassdask.__version__
        assert provenance["created"]
        config = provenance["config"]
        assert config["imsize"] == [256, 256] and config["cell_arcsec"] == 2.0
        assert config["weighting"] == "briggs" and config["robust"] == 1.0
        # --device auto is recorded as the device that ran
        assert config["device"] == ("cpu" if resolve_backend("auto") is NUMPY_BACKEND else "gpu")
        assert provenance["inputs"][0]["path"] == str(cli_ms.absolute())
        assert ds.attrs["schema_version"]
        assert ds.attrs["product_kind"] == "dirty"


def test_fits_wcs_and_source_position(imaged):
    out, _, _ = imaged
    with fits.open(out / "x.fits") as hdul:
        header, data = hdul[0].header, hdul[0].data
    assert data.shape == (1, 1, 256, 256)
    wcs = WCS(header).celestial
    assert tuple(wcs.wcs.crpix) == (129.0, 129.0)  # pixel 128 (0-based) of 256
    assert wcs.wcs.crval == pytest.approx([RA, DEC], abs=1e-9)
    centre = wcs.pixel_to_world(*(wcs.wcs.crpix - 1))
    assert centre.separation(SkyCoord(RA, DEC, unit="deg", frame="fk5")).arcsec < 1e-6
    assert abs(wcs.wcs.cdelt[0] * 3600 + 2.0) < 1e-9 and abs(wcs.wcs.cdelt[1] * 3600 - 2.0) < 1e-9
    # the brightest pixel is the 1 Jy source, where the WCS says it is (within a pixel)
    y, x = np.unravel_index(np.argmax(data[0, 0]), data[0, 0].shape)
    assert wcs.pixel_to_world(x, y).separation(SOURCE).arcsec < 2.0 * 1.5


def test_png_preview(imaged):
    out, _, stderr = imaged
    png = out / "x.png"
    assert png.read_bytes()[:8] == PNG_MAGIC and png.stat().st_size > 1000
    assert "x.png" in stderr


def test_help_explains_every_option(capsys):
    assert main(["image", "--help"]) == 0
    text = capsys.readouterr().out
    command = typer.main.get_command(app).commands["image"]
    options = [p for p in command.params if p.param_type_name == "option"]
    assert len(options) >= 25
    for option in options:
        assert option.help and len(option.help) > 10, option.name
        for flag in option.opts + option.secondary_opts:
            assert flag in text, flag
    for name in ("--ms", "--out", "--imsize", "--cell", "--weighting", "--robust", "--json",
                 "--config", "--scheduler", "--cluster", "--overwrite", "--fits"):
        assert name in text


def test_json_summary(cli_ms, tmp_path, capsys):
    out = tmp_path / "j.zarr"
    rc = main(["image", "--ms", str(cli_ms), "--out", str(out), "--imsize", "128", "--cell",
               "3arcsec", "--no-preview", "--scheduler", "sync", "--json"])
    assert rc == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["store"] == str(out)
    assert summary["visibilities"]["total"] == 2640
    assert summary["visibilities"]["off_grid"] == 0
    assert summary["peak_abs_jy_per_beam"] > 0.5
    assert summary["phase_center_deg"] == pytest.approx([RA, DEC])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["j.zarr"]


def test_config_yaml_and_overrides(cli_ms, tmp_path, capsys):
    config = tmp_path / "imaging.yaml"
    config.write_text(yaml.safe_dump({"imaging": {
        "imsize": [96, 96], "cell_arcsec": 3.0, "weighting": "uniform", "gridder": "2d",
        "row_chunks": 300}}))  # fmt: skip
    out = tmp_path / "c.zarr"
    rc = main(["image", "--ms", str(cli_ms), "--out", str(out), "--config", str(config),
               "--weighting", "natural", "--imsize", "64", "--scheduler", "threads",
               "--no-preview", "--json"])
    assert rc == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["gridding"]["w_projection"] is False  # gridder 2d from the YAML
    with xr.open_zarr(out) as ds:
        used = ds.attrs["provenance"]["config"]
        assert ds.sizes["l"] == 64  # --imsize overrides the YAML's 96
    assert used["imsize"] == [64, 64]
    assert used["weighting"] == "natural"  # --weighting overrides the YAML's uniform
    assert used["cell_arcsec"] == 3.0 and used["gridder"] == "2d" and used["row_chunks"] == 300

    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"imaging": {"cel_arcsec": 3.0}}))
    rc = main(["image", "--ms", str(cli_ms), "--out", str(tmp_path / "d.zarr"), "--config",
               str(bad), "--scheduler", "threads"])
    assert rc == 2
    assert "unknown imaging option(s): cel_arcsec" in capsys.readouterr().err
    assert not (tmp_path / "d.zarr").exists()


def test_export_fits_of_store(imaged, tmp_path):
    out, _, _ = imaged
    target = tmp_path / "y.fits"
    assert main(["export-fits", str(out / "x.zarr"), "--out", str(target)]) == 0
    with fits.open(target) as hdul, xr.open_zarr(out / "x.zarr") as ds:
        np.testing.assert_array_equal(hdul[0].data[0, 0], ds.SKY.values[0, 0, 0].T)
        with fits.open(out / "x.fits") as first:
            assert WCS(hdul[0].header).celestial.to_header() == \
                WCS(first[0].header).celestial.to_header()


def test_default_embedded_local_cluster(cli_ms, tmp_path, capsys):
    """No --scheduler: an embedded LocalCluster starts, announces its dashboard and images."""
    out = tmp_path / "lc.zarr"
    rc = main(["image", "--ms", str(cli_ms), "--out", str(out), "--imsize", "128", "--cell",
               "3arcsec", "--weighting", "natural", "--json"])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    assert "dask dashboard: http://127.0.0.1:" in captured.err
    summary = json.loads(captured.out)
    assert summary["visibilities"]["unflagged"] == 2640
    assert (out / COMPLETION_MARKER).is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lc.png", "lc.zarr"]
    with xr.open_zarr(out) as ds:
        assert ds.attrs["provenance"]["config"]["accumulators"] >= 1
        assert np.isfinite(ds.SKY.values).all()
