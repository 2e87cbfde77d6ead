"""``vlassdask coarse-cube`` as a user meets it: a subprocess, its exit status, output and files."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys

import pytest
import yaml
from casacore.tables import table

from tests.cli.errors import assert_one_error
from tests.products.test_coarse_cube import TINY
from vlassdask.products.simulation import simulate_observation
from vlassdask.testing.otf import PHASE_CENTER, otf_config, otf_sources, quicklook_placements


def _run(*args: str, scheduler: str | None = "threads") -> subprocess.CompletedProcess:
    extra = ["--scheduler", scheduler] if scheduler else []
    return subprocess.run([sys.executable, "-m", "vlassdask.cli.main", "coarse-cube", *args,
                           *extra], capture_output=True, text=True, check=False, timeout=600)


@pytest.fixture(scope="module")
def tile(tmp_path_factory):
    base = tmp_path_factory.mktemp("cube_cli")
    sim = otf_config(spw_ids=(1, 8, 14), noise_sigma_jy=0.02, seed=4)
    sky, _ = otf_sources(sim, quicklook_placements(sim)[:2])
    simulate_observation(sim, sky, base / "tile.ms")
    (base / "cube.yaml").write_text(yaml.safe_dump(TINY))
    return base


def test_coarse_cube_writes_the_products_on_the_embedded_cluster(tile):
    out = tile / "products"
    args = ["--ms", str(tile / "tile.ms"), "--phasecenter", PHASE_CENTER, "--out", str(out),
            "--config", str(tile / "cube.yaml")]
    proc = _run(*args, "--json", scheduler=None)  # the default: an embedded LocalCluster
    assert proc.returncode == 0, proc.stderr
    assert "dask dashboard: http://127.0.0.1:" in proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["spws"] == [0, 1, 2] and summary["stokes"] == "IQU"
    stem = f"VLASS1.2.cc.T16t14.{PHASE_CENTER}.10.2048.v1"
    names = {p.name for p in out.iterdir()}
    assert {f"{stem}.IQU.iter3.zarr", f"{stem}.IQU.iter3.commonbeam.zarr",
            f"{stem}.V.iter3.zarr", f"{stem}.IQU.iter3.report", f"{stem}.IQU.iter3.summary.json",
            f"{stem}.spw0.IQU.iter3.image.pbcor.tt0.subim.fits",
            f"{stem}.spw2.IQU.iter3.image.pbcor.tt0.rms.subim.fits",
            f"{stem}.V.iter3.image.pbcor.tt0.subim.fits"} <= names
    assert f"{stem}.I.iter3.alpha.zarr" in names  # three accepted planes make a fit
    for spw in range(3):
        assert f"spw {spw}: " in proc.stderr
    assert "accepted planes (spw): [0, 1, 2]" in proc.stderr
    assert "Traceback" not in proc.stderr and "Warning" not in proc.stderr
    again = _run(*args)
    assert_one_error(again, "exists")


def test_bad_config_and_inputs_exit_2_and_write_nothing(tile, tmp_path):
    out = tmp_path / "o"
    base = ["--phasecenter", PHASE_CENTER, "--out", str(out)]
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"cube": {"imsize": "big"}}))
    assert_one_error(_run("--ms", str(tile / "tile.ms"), *base, "--config", str(bad)),
                     "cube.imsize must be a positive whole number")
    bad.write_text(yaml.safe_dump({**TINY, "cube": {**TINY["cube"], "spws": [0, 9]}}))
    assert_one_error(_run("--ms", str(tile / "tile.ms"), *base, "--config", str(bad)),
                     "cube.spws names spectral window(s) [9]")
    bad.write_text(yaml.safe_dump({**TINY, "rejection": {"beam_tolerance": 2}}))
    assert_one_error(_run("--ms", str(tile / "tile.ms"), *base, "--config", str(bad)),
                     "rejection.beam_tolerance")
    assert_one_error(_run("--ms", str(tmp_path / "none.ms"), *base), "none.ms")
    assert_one_error(_run("--ms", str(tile / "tile.ms"), *base, "--preset", "huge"),
                     "unknown preset 'huge'")
    assert not out.exists()


def test_every_plane_flagged_is_refused_before_anything_is_written(tile, tmp_path):
    ms = tmp_path / "flagged.ms"
    shutil.copytree(tile / "tile.ms", ms)
    with table(str(ms), readonly=False, ack=False) as t:
        flags = t.getcol("FLAG")
        flags[:] = True
        t.putcol("FLAG", flags)
    proc = _run("--ms", str(ms), "--phasecenter", PHASE_CENTER, "--out", str(tmp_path / "o"),
                "--config", str(tile / "cube.yaml"))
    assert_one_error(proc, "every plane is rejected before imaging: spw 0: the spectral window "
                           "is fully flagged")
    assert not (tmp_path / "o").exists()


def test_ctrl_c_exits_130_and_the_next_run_cleans_up(tile, tmp_path):
    out = tmp_path / "cube"
    argv = [sys.executable, "-m", "vlassdask.cli.main", "coarse-cube", "--ms",
            str(tile / "tile.ms"), "--phasecenter", PHASE_CENTER, "--out", str(out), "--config",
            str(tile / "cube.yaml")]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines = []
    for line in proc.stderr:  # wait until the planes are being imaged, then press Ctrl-C
        lines.append(line)
        if "in flight" in line:
            break
    proc.send_signal(signal.SIGINT)
    _, rest = proc.communicate(timeout=120)
    assert proc.returncode == 130, "".join(lines) + rest
    assert rest.strip().splitlines()[-1] == "error: interrupted" and "Traceback" not in rest
    assert not out.exists() or not [p for p in out.iterdir() if not p.name.startswith(".")]
    rerun = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=600)
    assert rerun.returncode == 0, rerun.stderr
    assert not [p.name for p in out.iterdir() if p.name.startswith(".")]  # leftovers removed


def test_data_without_cross_hands_cannot_make_q_and_u(tmp_path):
    sim = otf_config(spw_ids=(3,), correlations="parallel")
    sky, _ = otf_sources(sim, quicklook_placements(sim)[:1])
    ms = simulate_observation(sim, sky, tmp_path / "parallel.ms")
    proc = _run("--ms", str(ms), "--phasecenter", PHASE_CENTER, "--out", str(tmp_path / "o"),
                "--preset", "small")
    assert_one_error(proc, "Stokes Q needs the correlations RL and LR; the data have RR, LL "
                           "(missing RL, LR)")
    assert not (tmp_path / "o").exists()
