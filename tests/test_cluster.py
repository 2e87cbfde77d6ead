"""Cluster specs (``cluster/*.yaml``) and the one function that turns a spec into a Client.

The SLURM and PBS specs are checked by building the dask-jobqueue cluster object from the spec's
``cluster:`` keyword arguments and reading its generated batch script; no job is ever submitted.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest
from dask.utils import format_bytes, parse_bytes

from vlassdask.cluster import load_cluster_spec, open_client
from vlassdask.errors import ConfigError, InputError

SPEC_DIR = Path(__file__).resolve().parent.parent / "cluster"
JOBQUEUE_SPECS = {"slurm": "SLURMCluster", "pbs": "PBSCluster"}


@pytest.mark.parametrize("name", ["local", "slurm", "pbs"])
def test_repository_specs_validate(name):
    spec = load_cluster_spec(SPEC_DIR / f"{name}.yaml")
    assert spec["kind"] == name
    if name == "local":
        assert int(spec["n_workers"]) >= 1 and int(spec["threads_per_worker"]) >= 1
        assert spec["dashboard_address"].startswith("127.0.0.1:")
    else:
        assert int(spec["jobs"]) >= 1
        assert {"cores", "memory", "walltime"} <= set(spec["cluster"])
        dashboard = spec["cluster"]["scheduler_options"]["dashboard_address"]
        assert dashboard.startswith("127.0.0.1:")


def test_unknown_kind(tmp_path):
    path = tmp_path / "spec.yaml"
    path.write_text("kind: kubernetes\nn_workers: 2\n")
    with pytest.raises(ConfigError, match="unknown kind 'kubernetes'"):
        load_cluster_spec(path)


def test_missing_file_and_not_a_mapping(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        load_cluster_spec(tmp_path / "nope.yaml")
    listing = tmp_path / "list.yaml"
    listing.write_text("- local\n- slurm\n")
    with pytest.raises(InputError, match="not a YAML mapping"):
        load_cluster_spec(listing)


def test_local_client_works_and_announces_dashboard():
    lines: list[str] = []
    spec = {"kind": "local", "n_workers": 1, "threads_per_worker": 1}
    with open_client(spec=spec, announce=lines.append) as client:
        assert client.submit(sum, [1, 2, 3]).result() == 6
        assert len(client.scheduler_info()["workers"]) == 1
        link = client.dashboard_link
        assert client.scheduler.address.startswith("tcp://127.0.0.1:")
    assert lines == [f"dask dashboard: {link}"]
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/status", link)
    assert client.status == "closed"


@pytest.mark.parametrize("kind", ["slurm", "pbs"])
def test_jobqueue_job_script(kind):
    dask_jobqueue = pytest.importorskip("dask_jobqueue")
    spec = load_cluster_spec(SPEC_DIR / f"{kind}.yaml")
    kwargs = dict(spec["cluster"])
    options = kwargs.pop("scheduler_options")
    cls = getattr(dask_jobqueue, JOBQUEUE_SPECS[kind])
    with cls(scheduler_options={**options, "dashboard_address": "127.0.0.1:0"},
             **kwargs) as cluster:
        script = cluster.job_script()
        assert cluster.workers == {}  # nothing was submitted
    cores, processes = int(kwargs["cores"]), int(kwargs["processes"])
    walltime, queue = kwargs["walltime"], kwargs["queue"]
    memory = parse_bytes(kwargs["memory"])
    memory_gib = math.ceil(memory / 2**30)  # dask-jobqueue rounds the job's memory up to GiB
    if kind == "slurm":
        assert f"#SBATCH --cpus-per-task={cores}\n" in script
        assert f"#SBATCH --mem={memory_gib}G\n" in script
        assert f"#SBATCH -t {walltime}\n" in script
        assert f"#SBATCH -p {queue}\n" in script
    else:
        assert f"#PBS -l select=1:ncpus={cores}:mem={memory_gib}GB\n" in script
        assert f"#PBS -l walltime={walltime}\n" in script
        assert f"#PBS -q {queue}\n" in script
    # each job starts `processes` workers sharing the job's cores and memory
    assert f" --nworkers {processes} " in script
    assert f" --nthreads {cores // processes} " in script
    assert f" --memory-limit {format_bytes(memory / processes).replace(' ', '')} " in script
    assert f" --local-directory {kwargs['local_directory']}" in script
