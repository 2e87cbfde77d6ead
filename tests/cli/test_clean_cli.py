"""``vlassdask clean`` as a user meets it: a subprocess, its exit status, its output and files."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
import xarray as xr
from astropy.io import fits
from casacore.tables import table

from vlassdask.io.atomic import COMPLETION_MARKER
from vlassdask.kernels.dft import predict_visibilities as dft_predict
from vlassdask.testing.ms import make_test_ms

INNER = ["W04", "W08", "W12", "W16", "E04", "E08", "E12", "E16", "N04", "N08", "N12", "N16"]
GRID = ["--imsize", "128", "--cell", "3arcsec"]


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "vlassdask.cli.main", "clean", *args,
                           "--scheduler", "threads"], capture_output=True, text=True,
                          check=False, timeout=600)


@pytest.fixture(scope="module")
def clean_ms(tmp_path_factory):
    return make_test_ms(tmp_path_factory.mktemp("clean_cli"), name="c.ms", spw_ids=[0, 9],
                        nchan_per_spw=2, antennas=INNER, noise_sigma_jy=0.01)


@pytest.fixture(scope="module")
def cleaned(clean_ms, tmp_path_factory):
    out = tmp_path_factory.mktemp("cleaned")
    proc = _run("--ms", str(clean_ms), "--out", str(out / "img.zarr"), *GRID,
                "--weighting", "briggs", "--robust", "1", "--deconvolver", "hogbom",
                "--niter", "400", "--cycleniter", "100", "--nsigma", "4.5",
                "--threshold", "0.1mJy", "--nmajor", "20", "--gain", "0.1",
                "--fits", str(out / "img.fits"), "--json")
    assert proc.returncode == 0, proc.stderr
    return out, proc


def test_products_and_summary(cleaned):
    out, proc = cleaned
    assert sorted(p.name for p in out.iterdir()) == sorted([
        "img.clean.json", "img.model.fits", "img.point_spread_function.fits", "img.png",
        "img.residual.fits", "img.sky.fits", "img.zarr"])
    assert (out / "img.zarr" / COMPLETION_MARKER).is_file()
    summary = json.loads((out / "img.clean.json").read_text())
    assert summary["stop_code"] in (1, 2, 8, 9)
    assert len(summary["cycles"]) == summary["major_cycles"] + 1
    assert summary["cycles"][0]["iterations"] == 0
    assert summary["clean_config"]["threshold_jy"] == pytest.approx(1e-4)
    assert json.loads(proc.stdout)["stop_code"] == summary["stop_code"]
    with xr.open_zarr(out / "img.zarr") as ds:
        assert ds.attrs["product_kind"] == "clean"
        assert {"SKY", "RESIDUAL", "MODEL", "POINT_SPREAD_FUNCTION", "BEAM"} <= set(ds.data_vars)
        beam = ds.BEAM.values[0, 0, 0]
        assert list(ds.beam_param.values) == ["major", "minor", "pa"]
        assert ds.attrs["restoring_beam"]["major_arcsec"] == pytest.approx(beam[0])
        assert ds.attrs["stop_code"] == summary["stop_code"]
        assert len(ds.attrs["clean"]["cycles"]) == len(summary["cycles"])
        sky = ds.SKY.values[0, 0, 0]
    with fits.open(out / "img.sky.fits") as hdul:
        header = hdul[0].header
        assert header["BMAJ"] * 3600 == pytest.approx(beam[0])
        assert header["BMIN"] * 3600 == pytest.approx(beam[1])
        assert header["BPA"] == pytest.approx(beam[2])
        np.testing.assert_allclose(hdul[0].data[0, 0].T, sky)


def test_progress_lines_per_major_cycle(cleaned):
    out, proc = cleaned
    summary = json.loads((out / "img.clean.json").read_text())
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("major ")]
    assert len(lines) == len(summary["cycles"])
    assert all("peak residual" in ln and "rms" in ln and "model flux" in ln
               and "iterations" in ln and ln.endswith(" s") for ln in lines)
    assert "stop code" in proc.stderr


def _mask_fits(path, ds_path, fill: float, shape=None):
    """A FITS mask on the grid of the image store ``ds_path`` (or of another shape)."""
    with fits.open(ds_path) as hdul:
        header = hdul[0].header.copy()
        data = np.full_like(hdul[0].data, fill) if shape is None else \
            np.full((1, 1, *shape), fill, dtype=np.float32)
    if shape is not None:
        header["NAXIS1"], header["NAXIS2"] = shape[1], shape[0]
        header["CRPIX1"], header["CRPIX2"] = shape[1] // 2 + 1, shape[0] // 2 + 1
    fits.PrimaryHDU(data, header).writeto(path)
    return path


def test_mask_on_the_grid_confines_the_model(cleaned, clean_ms, tmp_path):
    out, _ = cleaned
    with fits.open(out / "img.sky.fits") as hdul:
        header, data = hdul[0].header.copy(), np.zeros_like(hdul[0].data)
    data[..., 60:68, 60:68] = 1.0
    fits.PrimaryHDU(data, header).writeto(tmp_path / "mask.fits")
    proc = _run("--ms", str(clean_ms), "--out", str(tmp_path / "m.zarr"), *GRID,
                "--niter", "100", "--mask", str(tmp_path / "mask.fits"), "--no-preview")
    assert proc.returncode == 0, proc.stderr
    with xr.open_zarr(tmp_path / "m.zarr") as ds:
        model = ds.MODEL.values[0, 0, 0]
        mask = ds.MASK.values[0, 0, 0]
    assert mask.sum() == 64 and mask[60:68, 60:68].all()
    assert model[~mask].max() == 0 and model[mask].sum() != 0


@pytest.mark.parametrize(("case", "message"), [
    ("empty-mask", "selects no pixel"),
    ("other-grid-mask", "pixels; the image is 128 x 128"),
    ("niter", "niter must be >= 0"),
    ("gain-high", "gain must lie in (0, 2)"),
    ("gain-zero", "gain must lie in (0, 2)"),
    ("scales", "scale"),
    ("threshold", "cannot read the flux"),
    ("missing-ms", "does not exist"),
])
def test_bad_input_one_line_exit_2_nothing_written(cleaned, clean_ms, tmp_path, case, message):
    out, _ = cleaned
    sky = out / "img.sky.fits"
    args = {
        "empty-mask": lambda: ["--mask", str(_mask_fits(tmp_path / "m.fits", sky, 0.0))],
        "other-grid-mask": lambda: ["--mask", str(_mask_fits(tmp_path / "m.fits", sky, 1.0,
                                                             (64, 64)))],
        "niter": lambda: ["--niter", "-1"],
        "gain-high": lambda: ["--niter", "10", "--gain", "2.5"],
        "gain-zero": lambda: ["--niter", "10", "--gain", "0"],
        "scales": lambda: ["--niter", "10", "--deconvolver", "multiscale", "--scales",
                           "0,5,400"],
        "threshold": lambda: ["--niter", "10", "--threshold", "lots"],
        "missing-ms": lambda: [],
    }[case]()
    ms = tmp_path / "nothing.ms" if case == "missing-ms" else clean_ms
    before = sorted(p.name for p in tmp_path.iterdir())
    proc = _run("--ms", str(ms), "--out", str(tmp_path / "bad.zarr"), *GRID, *args)
    assert proc.returncode == 2, proc.stderr
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and message in errors[0], proc.stderr
    assert "Traceback" not in proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing written


def test_existing_output_is_kept(cleaned, clean_ms):
    out, _ = cleaned
    before = (out / "img.clean.json").read_text()
    proc = _run("--ms", str(clean_ms), "--out", str(out / "img.zarr"), *GRID, "--niter", "5")
    assert proc.returncode == 2
    assert "already exists" in proc.stderr and "--overwrite" in proc.stderr
    assert (out / "img.clean.json").read_text() == before


def test_zarr_visibility_cache_gives_the_same_product(clean_ms, tmp_path):
    models = {}
    for cache in ("memory", "zarr"):
        proc = _run("--ms", str(clean_ms), "--out", str(tmp_path / f"{cache}.zarr"), *GRID,
                    "--niter", "60", "--no-preview", "--visibility-cache", cache)
        assert proc.returncode == 0, proc.stderr
        assert ("a Zarr cache" in proc.stderr) == (cache == "zarr")
        with xr.open_zarr(tmp_path / f"{cache}.zarr") as ds:
            models[cache] = ds.MODEL.values
    np.testing.assert_array_equal(models["memory"], models["zarr"])
    assert not [p for p in tmp_path.iterdir() if ".blocks-" in p.name]  # cache removed


def test_savemodel_writes_the_model_visibilities(clean_ms, tmp_path):
    ms = tmp_path / "copy.ms"
    shutil.copytree(clean_ms, ms)
    with table(str(ms), ack=False) as tab:
        nrows = tab.nrows()
    proc = _run("--ms", str(ms), "--out", str(tmp_path / "s.zarr"), *GRID, "--niter", "50",
                "--no-preview", "--savemodel")
    assert proc.returncode == 0, proc.stderr
    with xr.open_zarr(tmp_path / "s.zarr") as ds:
        model = ds.MODEL.values[0, 0, 0].astype(np.float64)
        l_rad, m_rad = ds.l.values, ds.m.values
    with table(str(ms), ack=False) as tab:
        assert tab.nrows() == nrows  # rows updated in place, none appended
        cols = {c: tab.getcol(c) for c in ("MODEL_DATA", "UVW", "DATA_DESC_ID", "FLAG")}
    with table(f"{ms}::SPECTRAL_WINDOW", ack=False) as spw:
        chan_freq = [spw.getcell("CHAN_FREQ", r) for r in range(spw.nrows())]
    with table(f"{ms}::DATA_DESCRIPTION", ack=False) as dd:
        dd_spw = dd.getcol("SPECTRAL_WINDOW_ID")
    x, y = np.nonzero(model)
    lmn = np.stack([l_rad[x], m_rad[y], np.sqrt(1 - l_rad[x] ** 2 - m_rad[y] ** 2)], axis=1)
    fluxes = np.zeros((x.size, 2, 4))
    fluxes[:, :, 0] = model[x, y][:, None]
    for ddid in np.unique(cols["DATA_DESC_ID"]):
        rows = cols["DATA_DESC_ID"] == ddid
        expected = dft_predict(cols["UVW"][rows], np.asarray(chan_freq[dd_spw[ddid]]), lmn, fluxes)
        got = cols["MODEL_DATA"][rows]
        ok = ~(cols["FLAG"][rows][..., 0] | cols["FLAG"][rows][..., 3])
        for hand in (0, 3):  # RR and LL: the model; RL and LR: zero
            assert np.abs(got[..., hand] - expected[..., 0])[ok].max() <= 1e-4 * model.sum()
        assert not got[..., 1:3].any()
    with table(str(clean_ms), ack=False) as tab:
        assert "MODEL_DATA" not in tab.colnames()  # only the copy was changed


def test_fits_header_has_bandwidth_and_object(cleaned, clean_ms):
    out, _ = cleaned
    with table(f"{clean_ms}::SPECTRAL_WINDOW", ack=False) as spw:
        freqs = np.concatenate([spw.getcell("CHAN_FREQ", r) for r in range(spw.nrows())])
        widths = np.concatenate([spw.getcell("CHAN_WIDTH", r) for r in range(spw.nrows())])
    with table(f"{clean_ms}::FIELD", ack=False) as field:
        name = field.getcol("NAME")[0]
    with fits.open(out / "img.sky.fits") as hdul:
        header = hdul[0].header
    imaged = freqs.max() - freqs.min() + widths.mean()
    assert header["CDELT3"] == pytest.approx(imaged, rel=1e-6)
    assert header["OBJECT"] == name
