"""Shared pieces of the survey-run tests: a raster covering three phase centres, a tiny Quick
Look configuration, and the CLI as a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr
import yaml

from vlassdask.products.simulation import simulate_observation
from vlassdask.testing.otf import otf_config

INNER = ["W04", "W08", "W12", "W16", "E04", "E08", "E12", "E16", "N04", "N08", "N12", "N16"]
#: Three neighbouring phase centres of tile T16t14 (1.06 deg apart), all covered by the raster.
COVERED = ["J095538+203000", "J095953+203000", "J100409+203000"]
#: A phase centre the raster does not reach (its product fails on bad input).
UNCOVERED = "J100824+203000"
TINY_QL = {
    "imaging": {"cell_arcsec": 2.0},
    # the inner antennas' beam is ~9": QA's limit for an abnormal beam follows it
    "qa": {"decision": {"detector_actions": {"bad_baselines": "ignore"},
                        "beam_major_max_arcsec": 12.0},
           "product_types": {"QL": {"cell_arcsec": 2.0, "imsize": 256, "subimage_size": 192,
                                    "cycleniter": 500, "retry_ladder": []}}},
}


def make_survey_ms(base: Path) -> tuple[Path, Path]:
    """One OTF row of 49 phase centres (2.4 deg) through the three phase centres, a source at
    each; and the tiny Quick Look YAML."""
    sim = otf_config(rows=1, fields_per_row=49, antennas=INNER, spw_ids=(2, 12),
                     noise_sigma_jy=0.01, seed=11)
    ra = [146.782089 + 1.064178 * k for k in (1, 2, 3)]
    sky = pd.DataFrame({"ra_deg": ra, "dec_deg": [20.51] * 3, "flux_jy": [0.3, 0.5, 0.4]})
    ms = simulate_observation(sim, sky, base / "tile.ms")
    config = base / "ql.yaml"
    config.write_text(yaml.safe_dump(TINY_QL))
    return ms, config


def vlassdask(*args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    """``vlassdask ARGS`` as a user runs it."""
    return subprocess.run([sys.executable, "-m", "vlassdask.cli.main", *args],
                          capture_output=True, text=True, check=False, timeout=timeout)


def manifest(survey: Path) -> dict[str, dict]:
    """The manifest rows by phase-centre name."""
    rows = [json.loads(line) for line in (survey / "manifest.jsonl").read_text().splitlines()]
    return {r["name"]: r for r in rows}


def sky_images(survey: Path) -> dict[str, np.ndarray]:
    """The restored SKY of every finished Quick Look product."""
    out = {}
    for name, row in manifest(survey).items():
        if row["state"] == "done":
            store = next((survey / row["out"]).glob("*.zarr"))
            out[name] = xr.open_zarr(store)["SKY"].values
    return out


def plan_covered(ms: Path, config: Path, survey: Path) -> Path:
    """``vlassdask survey plan`` of the three covered phase centres."""
    proc = vlassdask("survey", "plan", "--ms", str(ms), "--out", str(survey), "--phasecenters",
                     ",".join(COVERED), "--config", str(config))
    assert proc.returncode == 0, proc.stderr
    return survey


def start_runner(survey: Path, *args: str, **popen) -> subprocess.Popen:
    """``vlassdask survey run SURVEY ARGS`` started in the background."""
    return subprocess.Popen([sys.executable, "-m", "vlassdask.cli.main", "survey", "run",
                             str(survey), *args], **popen)


def kill_after_first_product(runner: subprocess.Popen, survey: Path) -> dict[str, dict]:
    """SIGKILL the runner once a product is done; the rows done by then."""
    deadline = time.time() + 600
    while time.time() < deadline and not any(r["state"] == "done"
                                              for r in manifest(survey).values()):
        time.sleep(0.2)
    runner.kill()
    runner.wait()
    return {n: r for n, r in manifest(survey).items() if r["state"] == "done"}
