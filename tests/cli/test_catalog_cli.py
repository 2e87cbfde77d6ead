"""``vlassdask catalog``, ``dragns``, ``crossmatch``, ``compare-catalogs`` and
``calibrator-check`` run as subprocesses: outputs, and bad input (exit 2, one ``error:`` line,
nothing written)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from astropy.table import Table

from tests.cli.errors import assert_one_error
from vlassdask.simulate import SkyModel
from vlassdask.testing.fits import write_vlass_fits
from vlassdask.testing.ms import make_test_ms
from vlassdask.testing.sources import write_overlapping_images

BEAM = (3.0, 2.5, 30.0)
COS30 = np.cos(np.radians(30.0))


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "vlassdask.cli.main", *map(str, args)],
                          capture_output=True, text=True, check=False, timeout=300)


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    """Two overlapping VLASS-named FITS images (250" apart) and an alpha image of the first."""
    root = tmp_path_factory.mktemp("catalog_cli")
    paths, _ = write_overlapping_images(root / "products", seed=3)
    alpha = write_vlass_fits(root / "alpha.fits", np.full((384, 384), -0.7, np.float32),
                             beam_arcsec=None, center_deg=(150.0 - 125 / 3600 / COS30, 30.0))
    return root, paths, alpha


def test_catalog_of_one_image_in_three_formats_with_alpha(images, tmp_path):
    _, paths, alpha = images
    out = tmp_path / "cat.parquet"
    proc = _cli("catalog", paths[0], "--out", out, "--alpha", alpha, "--fits",
                tmp_path / "cat.fits", "--csv", tmp_path / "cat.csv", "--json")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    table = pd.read_parquet(out)
    assert summary["components"] == len(table) > 10
    assert np.allclose(table["Alpha"], -0.7) and (table["Tile"] == "T10t20").all()
    fits = Table.read(tmp_path / "cat.fits")
    assert str(fits["Total_flux"].unit) == "mJy" and len(fits) == len(table)
    assert len(pd.read_csv(tmp_path / "cat.csv")) == len(table)


def test_batch_merges_overlapping_images_then_dragns_and_comparison(images, tmp_path):
    root, paths, _ = images
    survey = tmp_path / "survey.parquet"
    proc = _cli("catalog", "--batch", root / "products", "--out", survey, "--scheduler",
                "threads", "--keep-duplicates")
    assert proc.returncode == 0, proc.stderr
    table = pd.read_parquet(survey)
    assert set(table["Image"]) == {p.name[:-5] for p in paths}
    flags = table["Duplicate_flag"].value_counts()
    assert flags[1] == flags[2] > 3 and flags[0] > 3  # each overlap source once preferred
    proc = _cli("dragns", survey, "--out", tmp_path / "dragns.csv", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["dragns"] == len(pd.read_csv(tmp_path / "dragns.csv"))
    single = tmp_path / "single.parquet"
    assert _cli("catalog", paths[0], "--out", single).returncode == 0
    proc = _cli("compare-catalogs", single, survey, "--out", tmp_path / "report", "--json")
    assert proc.returncode == 0, proc.stderr
    fits = json.loads(proc.stdout)["fits"]["overall"]
    assert abs(fits["Total_flux"]["mean"]) < 1e-9  # the same image: identical fluxes
    assert (tmp_path / "report" / "index.html").is_file()
    proc = _cli("crossmatch", single, survey, "--out", tmp_path / "x.csv", "--radius", "1")
    assert proc.returncode == 0, proc.stderr
    assert (pd.read_csv(tmp_path / "x.csv")["X_index"] >= 0).all()


def test_calibrator_check_of_a_resolved_calibrator(tmp_path):
    arcsec = 1 / 3600
    sky = SkyModel(pd.DataFrame({
        "ra_deg": [150.0, 150.0 + 1.5 * arcsec / np.cos(np.radians(34.0))],
        "dec_deg": [34.0, 34.0 + 0.5 * arcsec], "flux_jy": [1.0, 0.1],
        "spectral_index": [0.0, 0.0], "major_arcsec": [0.0, 0.0], "minor_arcsec": [0.0, 0.0],
        "pa_deg": [0.0, 0.0], "pol_fraction": [0.0, 0.0], "pol_angle_deg": [0.0, 0.0]}))
    ms = make_test_ms(tmp_path, name="cal.ms", sky=sky, field_name="J0412+001")
    proc = _cli("calibrator-check", "--ms", ms, "--field", "J0412+001", "--out",
                tmp_path / "report", "--json")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["verdict"] == "model" and summary["max_abs_deviation"] > 0.03
    assert (tmp_path / "report" / "amplitude_vs_uvdist.png").is_file()
    assert_one_error(_cli("calibrator-check", "--ms", ms, "--field", "NOPE", "--out",
                    tmp_path / "r2"), "no field named")
    assert not (tmp_path / "r2").exists()


def test_bad_input_exits_2_and_writes_nothing(images, tmp_path):
    _, paths, _ = images
    data = np.zeros((64, 64), np.float32)
    no_beam = write_vlass_fits(tmp_path / "nobeam.fits", data, beam_arcsec=None)
    blank = write_vlass_fits(tmp_path / "blank.fits", data * np.nan, beam_arcsec=BEAM)
    no_sky = tmp_path / "nosky.csv"
    pd.DataFrame({"x": [1.0], "Total_flux": [1.0]}).to_csv(no_sky, index=False)
    out = tmp_path / "out.parquet"
    assert_one_error(_cli("catalog", no_beam, "--out", out), "no restoring beam")
    assert_one_error(_cli("catalog", blank, "--out", out), "no finite pixel")
    assert_one_error(_cli("catalog", tmp_path / "missing.fits", "--out", out), "does not exist")
    assert_one_error(_cli("dragns", no_sky, "--out", out), "no RA and DEC")
    assert_one_error(_cli("compare-catalogs", no_sky, no_sky, "--out", tmp_path / "rep"),
               "no RA and DEC")
    assert not out.exists() and not (tmp_path / "rep").exists()
    existing = tmp_path / "existing.parquet"
    existing.write_text("keep me")
    assert_one_error(_cli("catalog", paths[0], "--out", tmp_path / "new.parquet", "--csv",
                          existing), "already exists")
    assert existing.read_text() == "keep me" and not (tmp_path / "new.parquet").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "blank.fits", "existing.parquet", "nobeam.fits", "nosky.csv"]
