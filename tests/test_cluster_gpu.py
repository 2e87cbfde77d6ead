"""GPU cluster specs: one dask worker per GPU (dask-cuda locally, one SLURM job per GPU)."""

from __future__ import annotations

from pathlib import Path

import pytest

from vlassdask.cluster import load_cluster_spec
from vlassdask.errors import ConfigError

SPEC_DIR = Path(__file__).resolve().parent.parent / "cluster"


def test_local_gpu_spec_is_a_cuda_cluster():
    spec = load_cluster_spec(SPEC_DIR / "gpu.yaml")
    assert spec["kind"] == "cuda"
    assert spec["dashboard_address"].startswith("127.0.0.1:")


def test_cuda_spec_rejects_cpu_only_keys(tmp_path):
    path = tmp_path / "spec.yaml"
    path.write_text("kind: cuda\nthreads_per_worker: 4\n")
    with pytest.raises(ConfigError, match="unknown key"):
        load_cluster_spec(path)


def test_slurm_gpu_job_script_asks_for_one_gpu_per_worker():
    dask_jobqueue = pytest.importorskip("dask_jobqueue")
    spec = load_cluster_spec(SPEC_DIR / "slurm-gpu.yaml")
    kwargs = dict(spec["cluster"])
    options = kwargs.pop("scheduler_options")
    with dask_jobqueue.SLURMCluster(scheduler_options={**options,
                                                       "dashboard_address": "127.0.0.1:0"},
                                    **kwargs) as cluster:
        script = cluster.job_script()
    assert "#SBATCH --gres=gpu:1\n" in script
    assert "#SBATCH --cpus-per-task=8\n" in script
    assert "--nthreads 1" in script and "--resources GPU=1" in script
