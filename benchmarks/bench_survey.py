"""Survey runs: scheduler overhead per product task, whole-sky planning, SLURM vs LocalCluster.

Run by hand (not in CI); record the results in benchmarks/RESULTS.md::

    python benchmarks/bench_survey.py --work /tmp/bench_survey [--slurm]

* **Overhead**: 10^4 ``noop`` products (each writes only its marker file) through
  :func:`vlassdask.products.survey_run.run_survey` on a LocalCluster of 2 worker processes:
  wall time per product task, manifest writes included.
* **Plan**: ``vlassdask survey plan --tiles all`` (35,446 rows), timed as a user runs it.
* **SLURM vs local** (``--slurm``; needs ``bash tools/slurm-single-node.sh start``): the same
  3-phase-centre Quick Look survey as the tests (``tests/survey/runs.py``) with
  ``vlassdask survey run`` on the default embedded cluster and with
  ``--cluster cluster/slurm-local.yaml``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.survey.runs import COVERED, make_survey_ms  # noqa: E402
from vlassdask.io.survey_manifest import read_manifest, write_manifest  # noqa: E402
from vlassdask.products.survey_run import plan_survey, run_survey  # noqa: E402

N_TASKS = 10_000


def overhead(work: Path) -> dict:
    """Wall time per no-op product task through the runner."""
    from distributed import Client, LocalCluster

    survey = work / "noop"
    rows = plan_survey(survey, "noop", ms="none.ms", tiles=["all"])
    write_manifest(survey, rows[:N_TASKS])
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        client.run(lambda: None)  # workers up
        t0 = time.perf_counter()
        summary = run_survey(survey, client, max_concurrent=64)
        wall = time.perf_counter() - t0
    done = sum(r["state"] == "done" for r in read_manifest(survey))
    return {"tasks": N_TASKS, "done": done, "made": len(summary.made), "wall_s": round(wall, 2),
            "ms_per_task": round(1000 * wall / N_TASKS, 3)}


def plan_time(work: Path) -> dict:
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "vlassdask.cli.main", "survey", "plan", "--ms",
                           "/data/{tile}.ms", "--tiles", "all", "--out", str(work / "sky")],
                          capture_output=True, text=True, check=True)
    return {"rows": len(read_manifest(work / "sky")), "wall_s": round(time.perf_counter() - t0, 2),
            "output": proc.stderr.strip()}


def survey_wall(work: Path, name: str, extra: list[str]) -> float:
    ms, config = make_survey_ms(work) if not (work / "tile.ms").exists() else \
        (work / "tile.ms", work / "ql.yaml")
    survey = work / name
    subprocess.run([sys.executable, "-m", "vlassdask.cli.main", "survey", "plan", "--ms",
                    str(ms), "--out", str(survey), "--phasecenters", ",".join(COVERED),
                    "--config", str(config)], check=True, capture_output=True)
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "vlassdask.cli.main", "survey", "run", str(survey),
                    *extra], check=True, capture_output=True)
    return round(time.perf_counter() - t0, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, required=True, help="Scratch directory (new).")
    parser.add_argument("--slurm", action="store_true", help="Also SLURM vs LocalCluster.")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=False)
    result = {"machine": os.uname().nodename, "cpus": os.cpu_count(),
              "plan": plan_time(args.work), "overhead": overhead(args.work)}
    if args.slurm:
        result["local_s"] = survey_wall(args.work, "local", [])
        result["slurm_s"] = survey_wall(args.work, "slurm", [
            "--cluster", str(ROOT / "cluster" / "slurm-local.yaml")])
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
