"""Cluster specs (``cluster/*.yaml``) and the one function that turns a spec into a Client.

The SLURM and PBS specs are checked by building the dask-jobqueue cluster object from the spec's
``cluster:`` keyword arguments and reading its generated batch script; no job is ever submitted.
"""

from __future__ import annotations

import math
import re
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from dask.utils import format_bytes, parse_bytes

from vlassdask.cluster import SMALL_JOB_BYTES, default_local_spec, load_cluster_spec, open_client
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


def test_default_spec_by_job_size():
    small, why_small = default_local_spec(50 << 20, cores=8)
    assert small == {"kind": "local", "n_workers": 1, "threads_per_worker": 8,
                     "processes": False, "profile": False}
    assert why_small.startswith("embedded cluster: 1 in-process worker x 8 threads (small job")
    large, why_large = default_local_spec(SMALL_JOB_BYTES, cores=8)
    assert (large["n_workers"], large["threads_per_worker"], large["processes"]) == (4, 2, True)
    assert "4 worker processes x 2 threads" in why_large and "1.0 GiB" in why_large
    assert default_local_spec(5 << 30, cores=1)[0]["n_workers"] == 1


def test_in_process_cluster_serves_its_dashboard_on_localhost_and_says_so():
    """distributed builds an in-process cluster's link from the machine's network address;
    the link printed must be the address the dashboard listens on, and it must answer."""
    lines: list[str] = []
    spec, _ = default_local_spec(0, cores=2)
    with open_client(spec=spec, announce=lines.append) as client:
        assert client.scheduler.address.startswith("inproc://")
        assert client.submit(sum, [1, 2]).result() == 3
        (line,) = lines
        link = line.removeprefix("dask dashboard: ")
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/status", link)
        with urllib.request.urlopen(link, timeout=10) as response:
            assert response.status == 200
        port = client.scheduler_info()["services"]["dashboard"]
        assert all(s.getsockname()[0] == "127.0.0.1" for s in
                   _listening_sockets(client)), "a service listens beyond localhost"
        assert f":{port}/" in link


def _listening_sockets(client):
    """The TCP sockets the in-process scheduler's and worker's HTTP servers listen on."""
    scheduler = client.cluster.scheduler
    servers = [scheduler.http_server] + [w.http_server for w in client.cluster.workers.values()]
    return [sock for server in servers for sock in server._sockets.values()]


def test_embedded_clusters_close_without_noise():
    """Closing prints nothing: no "Worker process still alive", no heartbeat or cancelled-feed
    tracebacks (a progress bar's feed is what makes distributed log one at close)."""
    code = (
        "import dask.array as da\n"
        "from distributed import progress\n"
        "from vlassdask.cluster import open_client\n"
        "if __name__ == '__main__':\n"
        "    for spec in ({'kind': 'local', 'n_workers': 1, 'processes': False},\n"
        "                 {'kind': 'local', 'n_workers': 2, 'processes': True}):\n"
        "        with open_client(spec=spec, announce=lambda line: None) as client:\n"
        "            x = client.persist(da.ones((400, 400), chunks=100).sum())\n"
        "            progress(x, notebook=False)\n"
        "            assert x.compute() == 160000\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=180)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    noise = [line for line in proc.stderr.replace("\r", "\n").splitlines()
             if line.strip() and not line.startswith("[")]  # the bar itself
    assert noise == []
