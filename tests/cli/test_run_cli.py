"""`vlassdask run`: the end-to-end main job (simulate -> image -> Zarr + FITS + PNG)."""

from __future__ import annotations

import json

import pytest
import xarray as xr
import yaml
from astropy.io import fits

from vlassdask.cli.main import main
from vlassdask.io.atomic import is_complete

TINY = {
    "simulate": {"ra_deg": 150.0, "dec_deg": 20.0, "duration_s": 0.9, "spw_ids": [3, 12],
                 "nchan_per_spw": 2, "noise_sigma_jy": 0.01, "seed": 3,
                 "antennas": ["W04", "W08", "W12", "E04", "E08", "E12", "N04", "N08", "N12"]},
    "sky": [{"ra_deg": 150.0, "dec_deg": 20.0, "flux_jy": 1.0}],
    "imaging": {"imsize": [128, 128], "cell_arcsec": 4.0, "weighting": "natural"},
}


@pytest.fixture()
def config(tmp_path):
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(TINY))
    return path


def test_run_writes_every_product(config, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["run", str(config), "--out", str(out), "--scheduler", "threads"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert set(summary["outputs"]) == {"obs.ms", "dirty.zarr", "dirty.fits", "dirty.png"}
    assert is_complete(out / "obs.ms") and is_complete(out / "dirty.zarr")
    sky = xr.open_zarr(out / "dirty.zarr").SKY.values[0, 0, 0]
    assert sky[64, 64] == pytest.approx(summary["peak_abs_jy_per_beam"], rel=1e-6)
    assert 0.8 < sky[64, 64] < 1.05  # 1 Jy at the phase centre, noise 0.01 Jy per visibility
    with fits.open(out / "dirty.fits") as hdul:
        assert hdul[0].data.shape == (1, 1, 128, 128)
    assert (out / "dirty.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_run_with_a_clean_section_cleans(tmp_path, capsys):
    path = tmp_path / "clean.yaml"
    path.write_text(yaml.safe_dump({**TINY, "clean": {"niter": 200, "nsigma": 3.0}}))
    out = tmp_path / "out"
    assert main(["run", str(path), "--out", str(out), "--scheduler", "threads"]) == 0
    captured = capsys.readouterr()
    summary = json.loads(captured.out.strip().splitlines()[-1])
    assert {"clean.zarr", "clean.png", "clean.clean.json", "clean.sky.fits",
            "clean.residual.fits"} <= set(summary["outputs"])
    assert summary["clean"]["stop_code"] in (1, 8)
    assert "major   1:" in captured.err
    with xr.open_zarr(out / "clean.zarr") as ds:
        assert ds.attrs["product_kind"] == "clean"
        # the restored 1 Jy source at the centre; the model holds its flux
        assert float(ds.SKY[0, 0, 0, 64, 64]) == pytest.approx(1.0, abs=0.05)
        assert float(ds.MODEL.sum()) == pytest.approx(1.0, abs=0.05)


def test_run_refuses_to_overwrite_and_keeps_products(config, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["run", str(config), "--out", str(out), "--scheduler", "threads"]) == 0
    before = (out / "dirty.fits").stat().st_mtime_ns
    assert main(["run", str(config), "--out", str(out), "--scheduler", "threads"]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert (out / "dirty.fits").stat().st_mtime_ns == before
    assert main(["run", str(config), "--out", str(out), "--scheduler", "threads",
                 "--overwrite"]) == 0
    assert (out / "dirty.fits").stat().st_mtime_ns != before


def test_run_rejects_an_unknown_section(tmp_path, capsys):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump({**TINY, "deconvolution": {"niter": 10}}))
    assert main(["run", str(path), "--out", str(tmp_path / "o"), "--scheduler", "sync"]) == 2
    assert "unknown section" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_run_with_a_quicklook_section_makes_the_quicklook_products(tmp_path, capsys):
    doc = {
        "simulate": {"ra_deg": 149.974622, "dec_deg": 20.5, "date": "2019-04-18",
                     "hour_angle_h": -0.5, "duration_s": 9.0, "mode": "otf", "otf_rows": 2,
                     "spw_ids": [3, 12], "nchan_per_spw": 2, "noise_sigma_jy": 0.02, "seed": 4,
                     "antennas": ["W04", "W08", "W12", "E04", "E08", "E12", "N04", "N08",
                                  "N12"]},
        "sky": [{"ra_deg": 149.974622, "dec_deg": 20.5, "flux_jy": 0.5}],
        "quicklook": {"phasecenter": "J095953+203000", "config": {
            "imaging": {"cell_arcsec": 4.0},
            "qa": {"product_types": {"QL": {"cell_arcsec": 4.0, "imsize": 256,
                                            "subimage_size": 160, "cycleniter": 100,
                                            "retry_ladder": []}}}}},
    }
    path = tmp_path / "ql.yaml"
    path.write_text(yaml.safe_dump(doc))
    out = tmp_path / "out"
    assert main(["run", str(path), "--out", str(out), "--scheduler", "threads"]) == 0
    captured = capsys.readouterr()
    summary = json.loads(captured.out.strip().splitlines()[-1])
    stem = "VLASS1.2.ql.T16t14.J095953+203000.10.2048.v1.I.iter1"
    assert f"{stem}.image.pbcor.tt0.subim.fits" in summary["outputs"]
    assert summary["quicklook"]["attempts"] == 1
    assert "Quick Look QA decision" in captured.err
    assert is_complete(out / "products" / f"{stem}.zarr")
    # the products exist now: a second run is refused before the MS is simulated again
    before = (out / "obs.ms").stat().st_mtime_ns
    assert main(["run", str(path), "--out", str(out), "--scheduler", "threads"]) == 2
    assert (out / "obs.ms").stat().st_mtime_ns == before


def test_the_otf_simulation_config_is_the_main_jobs():
    main_job = yaml.safe_load(open("pipelines/end_to_end.yaml"))
    otf = yaml.safe_load(open("pipelines/simulate_otf.yaml"))
    assert otf == {k: main_job[k] for k in ("simulate", "sky")}
