"""A survey on a real single-node SLURM through dask-jobqueue (``cluster/slurm-local.yaml``).

The session starts SLURM with ``tools/slurm-single-node.sh start`` (``tools/system-deps.sh``,
part of the README's test command, installs it); the tests skip, saying why, only where SLURM
cannot be started (not installed, not root and no sudo, daemons that do not come up).
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from tests.survey.runs import (
    COVERED,
    TINY_QL,
    kill_after_first_product,
    make_survey_ms,
    manifest,
    plan_covered,
    sky_images,
    start_runner,
    vlassdask,
)

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "cluster" / "slurm-local.yaml"
#: Slow enough (40 major cycles of 20 iterations) that a batch job can be cancelled mid-product.
SLOW_QL = {**TINY_QL, "clean": {"nsigma": 0.0, "threshold_jy": 1e-7, "niter": 100000,
                                "nmajor": 40},
           "qa": {**TINY_QL["qa"], "product_types": {"QL": {
               **TINY_QL["qa"]["product_types"]["QL"], "cycleniter": 20}}}}


@pytest.fixture(scope="module")
def slurm():
    """A running single-node SLURM, or a skip that says why there is none."""
    if shutil.which("sbatch") is None or shutil.which("slurmctld") is None:
        pytest.skip("SLURM is not installed (bash tools/system-deps.sh installs it)")
    started = subprocess.run(["bash", str(ROOT / "tools" / "slurm-single-node.sh"), "start"],
                             capture_output=True, text=True, timeout=180, check=False)
    if started.returncode != 0:
        pytest.skip(f"SLURM could not be started here: {started.stderr.strip()[-300:]}")
    yield True
    subprocess.run(["scancel", "--name", "dask-worker"], check=False)  # nothing left behind


@pytest.fixture(scope="module")
def plan(tmp_path_factory):
    base = tmp_path_factory.mktemp("slurm_survey")
    ms, _ = make_survey_ms(base)
    config = base / "slow.yaml"
    config.write_text(yaml.safe_dump(SLOW_QL))
    return base, ms, config


def _running_jobs() -> list[str]:
    out = subprocess.run(["squeue", "-h", "-t", "R", "-o", "%i"], capture_output=True,
                         text=True, check=False).stdout
    return out.split()


def test_scancel_of_a_worker_job_is_retried_and_changes_nothing(slurm, plan):
    base, ms, config = plan
    reference = plan_covered(ms, config, base / "local")
    local = vlassdask("survey", "run", str(reference), "--max-concurrent", "3")
    assert local.returncode == 0, local.stderr
    survey = plan_covered(ms, config, base / "slurm")
    runner = start_runner(survey, "--cluster", str(SPEC), "--max-concurrent", "3",
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 300
    while time.time() < deadline and not _running_jobs():
        time.sleep(0.5)
    jobs = _running_jobs()
    assert jobs, "no SLURM job started"
    time.sleep(8.0)  # the job's worker connected and is making a product
    subprocess.run(["scancel", jobs[0]], check=True)
    _, err = runner.communicate(timeout=900)
    assert runner.returncode == 0, err
    assert "adaptive scaling: 1 to 2 batch job(s)" in err
    assert "worker lost, submitted again (1/2)" in err, err
    rows = manifest(survey)
    assert all(r["state"] == "done" for r in rows.values())
    assert sum(r["attempts"] for r in rows.values()) >= 4  # the lost product ran again
    assert all(r["runs"] == 1 for r in rows.values())
    ours, theirs = sky_images(survey), sky_images(reference)
    assert sorted(ours) == sorted(theirs) == sorted(COVERED)
    for name in COVERED:  # the same images as the undisturbed run on the LocalCluster
        assert np.abs(ours[name] - theirs[name]).max() == 0



def test_killed_runner_on_slurm_resumes_without_recomputing(slurm, plan):
    base, ms, _ = plan
    fast = base / "fast.yaml"
    fast.write_text(yaml.safe_dump(TINY_QL))
    survey = plan_covered(ms, fast, base / "resume")
    runner = start_runner(survey, "--cluster", str(SPEC), "--max-concurrent", "1",
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    first = kill_after_first_product(runner, survey)
    subprocess.run(["scancel", "--name", "dask-worker"], check=False)  # its orphaned job
    assert 1 <= len(first) < 3
    stamps = {n: (survey / r["marker"]).stat().st_mtime_ns for n, r in first.items()}
    proc = vlassdask("survey", "run", str(survey), "--cluster", str(SPEC))
    assert proc.returncode == 0, proc.stderr
    rows = manifest(survey)
    assert all(r["state"] == "done" for r in rows.values())
    for name in first:  # finished before the kill: its marker untouched, made once
        assert rows[name]["runs"] == 1
        assert (survey / rows[name]["marker"]).stat().st_mtime_ns == stamps[name]
    assert sum(r["runs"] for r in rows.values()) == 3
