"""``vlassdask quicklook`` as a user meets it: a subprocess, its exit status, output and files."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest
import yaml
from casacore.tables import table

from tests.cli.errors import assert_one_error
from vlassdask.products.simulation import simulate_observation
from vlassdask.testing.otf import PHASE_CENTER, otf_config, otf_sources, quicklook_placements

INNER = ["W04", "W08", "W12", "W16", "E04", "E08", "E12", "E16", "N04", "N08", "N12", "N16"]
CONFIG = {
    "imaging": {"cell_arcsec": 2.0},
    "qa": {"decision": {"detector_actions": {"bad_baselines": "ignore"}},
           "product_types": {"QL": {"cell_arcsec": 2.0, "imsize": 640, "subimage_size": 400,
                                    "cycleniter": 500, "retry_ladder": [{"cycleniter": 250}]}}},
}


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "vlassdask.cli.main", "quicklook", *args,
                           "--scheduler", "threads"], capture_output=True, text=True,
                          check=False, timeout=600)


@pytest.fixture(scope="module")
def tile(tmp_path_factory):
    base = tmp_path_factory.mktemp("ql_cli")
    sim = otf_config(fields_per_row=9, antennas=INNER, noise_sigma_jy=0.05, seed=3)
    sky, _ = otf_sources(sim, quicklook_placements(sim)[:2])
    simulate_observation(sim, sky, base / "tile.ms")
    (base / "ql.yaml").write_text(yaml.safe_dump(CONFIG))
    return base


def test_quicklook_writes_the_vlass_products(tile):
    out = tile / "products"
    proc = _run("--ms", str(tile / "tile.ms"), "--phasecenter", PHASE_CENTER, "--out", str(out),
                "--config", str(tile / "ql.yaml"), "--json", "--fail-unless-accepted")
    assert proc.returncode in (0, 4), proc.stderr
    summary = json.loads(proc.stdout)
    assert (proc.returncode == 0) == (summary["decision"] == "accepted")
    stem = f"VLASS1.2.ql.T16t14.{PHASE_CENTER}.10.2048.v1.I.iter1"
    assert sorted(p.name for p in out.iterdir()) == sorted([
        f"{stem}.zarr", f"{stem}.image.pbcor.tt0.subim.fits",
        f"{stem}.image.pbcor.tt0.rms.subim.fits", f"{stem}.pb.tt0.subim.fits",
        f"{stem}.image.pbcor.tt0.subim.png", f"{stem}.qa", f"{stem}.quicklook.json"])
    assert "attempt 0: imsize 640" in proc.stderr and "QA decision after" in proc.stderr
    assert "major   0" in proc.stderr
    again = _run("--ms", str(tile / "tile.ms"), "--phasecenter", PHASE_CENTER, "--out",
                 str(out), "--config", str(tile / "ql.yaml"))
    assert_one_error(again, "exists")


@pytest.mark.parametrize("args, says", [
    (["--phasecenter", "J120000+450000"], "no field of"),
    (["--phasecenter", "J0959+2030"], "malformed phase-centre name"),
    (["--preset", "huge"], "unknown preset 'huge'"),
])  # fmt: skip
def test_bad_requests_exit_2_and_write_nothing(tile, tmp_path, args, says):
    out = tmp_path / "products"
    base = ["--ms", str(tile / "tile.ms"), "--phasecenter", PHASE_CENTER, "--out", str(out),
            "--config", str(tile / "ql.yaml")]
    for i, a in enumerate(args[::2]):
        j = base.index(a) if a in base else None
        if j is None:
            base += [a, args[2 * i + 1]]
        else:
            base[j + 1] = args[2 * i + 1]
    assert_one_error(_run(*base), says)
    assert not out.exists()


def test_bad_config_value_and_missing_ms(tile, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({**CONFIG, "quicklook": {"pb_limit": 2}}))
    assert_one_error(_run("--ms", str(tile / "tile.ms"), "--phasecenter", PHASE_CENTER, "--out",
                    str(tmp_path / "o"), "--config", str(bad)), "pb_limit")
    assert_one_error(_run("--ms", str(tmp_path / "none.ms"), "--phasecenter", PHASE_CENTER, "--out",
                    str(tmp_path / "o"), "--config", str(tile / "ql.yaml")), "none.ms")
    assert not (tmp_path / "o").exists()


def test_all_data_flagged(tile, tmp_path):
    ms = tmp_path / "flagged.ms"
    shutil.copytree(tile / "tile.ms", ms)
    with table(str(ms), readonly=False, ack=False) as t:
        flags = t.getcol("FLAG")
        flags[:] = True
        t.putcol("FLAG", flags)
    assert_one_error(_run("--ms", str(ms), "--phasecenter", PHASE_CENTER, "--out",
                    str(tmp_path / "o"), "--config", str(tile / "ql.yaml")), "flagged")
    assert not (tmp_path / "o").exists()
