"""Coarse cubes: wall time, core-hours and peak memory, scaling with workers, and the VLASS cost.

Run by hand (not in CI); record the results in benchmarks/RESULTS.md::

    python benchmarks/bench_coarse_cube.py --work /tmp/bench_cube

* The MS is the main job's OTF raster (``pipelines/simulate_otf.yaml``: 5 rows x 17 phase
  centres, 16 spectral windows x 2 channels, 76.5 s), simulated once into ``--work``.
* Cases: the ``small`` preset (16 planes x I, Q, U of 512^2) and 2048^2 planes (sub-image
  1536^2), each on an embedded LocalCluster of 1 and of 2 worker processes with one thread each
  (``--cluster``): one plane in flight per worker.
* Each run is ``vlassdask coarse-cube`` in its own process; peak memory is the largest peak RSS
  of that process and its workers (``wait4``); core-hours = wall time x worker threads.

Extrapolation to a VLASS cube: the two image sizes give ``t = a + b x pixels`` per run (on the
same visibilities); ``a`` (per-visibility work: preparing, gridding, degridding) is scaled by
the visibilities of a VLASS cube, ``b`` (per-pixel work: FFTs, minor cycles, noise images,
writing) by the pixels of 16 planes of 7290^2. A VLASS cube images the same data as a Quick Look
image (323 million visibilities: ``bench_quicklook.py``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).parent))
from bench_clean import run_measured  # noqa: E402
from bench_quicklook import PHASE_CENTER, VLASS_QL_VISIBILITIES, simulate  # noqa: E402

from vlassdask.products.coarse_cube_config import CoarseCubeConfig  # noqa: E402

VLASS_IMSIZE = 7290
PLAN_CORE_HOURS = 300.0  # seeds: 36 M CPU hours for 120,000 cube jobs
TARGET_CORE_HOURS = 30.0
CASES = {"small": {"preset": "small"},
         "2048": {"config": {"cube": {"imsize": 2048, "subimage_size": 1536}}}}


def run_cube(ms: Path, work: Path, case: str, workers: int) -> dict:
    """One ``vlassdask coarse-cube`` run; its wall time, peak RSS and plane statuses."""
    name = f"{case}-w{workers}"
    out = work / name
    cluster = work / f"cluster-{workers}.yaml"
    cluster.write_text(yaml.safe_dump({"kind": "local", "n_workers": workers,
                                       "threads_per_worker": 1, "processes": True}))
    argv = [sys.executable, "-m", "vlassdask.cli.main", "coarse-cube", "--ms", str(ms),
            "--phasecenter", PHASE_CENTER, "--out", str(out), "--cluster", str(cluster),
            "--json", "--overwrite"]
    spec = CASES[case]
    if "preset" in spec:
        argv += ["--preset", spec["preset"]]
    else:
        config = work / f"{case}.yaml"
        config.write_text(yaml.safe_dump(spec["config"]))
        argv += ["--config", str(config)]
    wall, rss, text = run_measured(argv, work / f"{name}.log")
    summary = json.loads(text.strip().splitlines()[-1])
    imsize = CoarseCubeConfig.from_document(spec.get("config"), preset=spec.get("preset")).imsize
    return {"case": case, "workers": workers, "wall_s": round(wall, 1),
            "core_hours": round(wall * workers / 3600, 4), "peak_rss_gib": round(rss, 2),
            "imsize": imsize, "accepted": summary["accepted"],
            "planes": len(summary["planes"])}


def extrapolate(rows: list[dict], n_vis: int) -> dict:
    """VLASS core-hours per cube from the two sizes on 2 workers (module docstring)."""
    two = {r["case"]: r for r in rows if r["workers"] == 2}
    small, large = two["small"], two["2048"]
    p_small, p_large = small["imsize"] ** 2, large["imsize"] ** 2
    b = (large["core_hours"] - small["core_hours"]) / (p_large - p_small)
    a = small["core_hours"] - b * p_small
    vis_part = max(a, 0.0) * VLASS_QL_VISIBILITIES / n_vis
    pixel_part = b * VLASS_IMSIZE**2
    total = vis_part + pixel_part
    return {"per_visibility_core_hours": round(vis_part, 2),
            "per_pixel_core_hours": round(pixel_part, 2), "vlass_cube_core_hours": round(total, 2),
            "plan_core_hours": PLAN_CORE_HOURS, "target_core_hours": TARGET_CORE_HOURS,
            "fraction_of_plan": round(total / PLAN_CORE_HOURS, 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, required=True, help="Scratch directory (kept).")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    ms = args.work / "tile.ms"
    n_vis = simulate(ms, "small")
    rows = []
    for case in CASES:
        for workers in args.workers:
            rows.append(run_cube(ms, args.work, case, workers))
            print(json.dumps(rows[-1]), flush=True)
    result = {"machine": os.uname().nodename, "cpus": os.cpu_count(), "visibilities": n_vis,
              "runs": rows}
    if 2 in args.workers:
        result["extrapolation"] = extrapolate(rows, n_vis)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
