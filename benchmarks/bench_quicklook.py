"""Quick Look images: wall time, core-hours and peak memory, and CASA tclean (mosaic) alongside.

Run by hand (not in CI); record the results in benchmarks/RESULTS.md::

    python benchmarks/bench_quicklook.py --size small --refimagers /work/refimagers
    python benchmarks/bench_quicklook.py --size full

* ``small``: the main job's OTF raster (``pipelines/simulate_otf.yaml``: 5 rows x 17 phase
  centres, 16 spectral windows x 2 channels) imaged with ``vlassdask quicklook --preset small``
  (1536^2 x 1"), and, with ``--refimagers``, CASA tclean on the same MS with the mosaic gridder
  and the same image, weighting and stopping (niter 20000, cycleniter 500, nsigma 4.5, nmajor
  220, pblimit 0.2).
* ``full``: an OTF raster covering a full 7290^2 x 1" QL image (19 rows x 44 phase centres,
  836 fields, 12.5 minutes of data) imaged with the VLASS defaults.

Each imager runs in its own process (``--scheduler threads``: one process, so ``wait4`` sees its
peak RSS); core-hours = wall time x the cores used. The extrapolation to a VLASS QL image
assumes 323 million visibilities (351 baselines x 900 integrations of 0.45 s, the ~6.75 minutes
of OTF data whose pointings reach a 1 deg^2 image plus its primary-beam margin at ~20 deg^2/h,
x 1024 channels) and scales the whole run linearly with the visibility count (an upper bound:
the image-size costs, FFTs and minor cycles, do not grow with it).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).parent))
from bench_clean import run_measured  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PHASE_CENTER = "J095953+203000"
VLASS_QL_VISIBILITIES = 351 * 900 * 1024
PAPER_CORE_HOURS = 48.0

CASA_SCRIPT = """
import json, sys
from casatasks import tclean
ms, name, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
result = tclean(vis=ms, imagename=name, imsize=[n, n], cell="1arcsec",
                phasecenter="J2000 09h59m53.909s +20d30m00.000s", specmode="mfs",
                gridder="mosaic", weighting="briggs", robust=1.0, deconvolver="hogbom",
                niter=20000, cycleniter=500, nsigma=4.5, nmajor=220, gain=0.1, stokes="I",
                pblimit=0.2, pbcor=True, fullsummary=False)
print("SUMMARY", json.dumps({"nmajordone": result.get("nmajordone"),
                             "iterdone": result.get("iterdone"),
                             "stopcode": result.get("stopcode")}))
"""


def simulate(ms: Path, size: str) -> int:
    """Simulate the benchmark's MS (once); return its visibility count."""
    from vlassdask.products.simulation import simulate_observation
    from vlassdask.simulate import from_dict
    from vlassdask.simulate.sky import sky_from_records

    doc = yaml.safe_load((ROOT / "pipelines" / "simulate_otf.yaml").read_text())
    sim = dict(doc["simulate"])
    if size == "full":
        sim.update(otf_rows=19, duration_s=19 * 44 * 2 * 0.45, rows_per_chunk=40000)
    config = from_dict(sim)
    if not ms.exists():
        simulate_observation(config, sky_from_records(doc["sky"], "sky"), ms)
    n_int = int(config.duration_s / config.integration_s)
    return 351 * n_int * len(config.spw_ids) * config.nchan_per_spw


def run_vlassdask(ms: Path, work: Path, size: str, cores: int) -> dict:
    out = work / "vd"
    argv = [sys.executable, "-m", "vlassdask.cli.main", "quicklook", "--ms", str(ms),
            "--phasecenter", PHASE_CENTER, "--out", str(out), "--scheduler", "threads",
            "--json"] + (["--preset", "small"] if size == "small" else [])
    wall, rss, text = run_measured(argv, work / "vd.log")
    summary = json.loads(text.strip().splitlines()[-1])
    last = summary["attempts"][-1]
    return {"wall_s": round(wall, 1), "core_hours": round(wall * cores / 3600, 4),
            "rss_gib": round(rss, 2), "attempts": len(summary["attempts"]),
            "decision": summary["decision"], "major_cycles": last["major_cycles"],
            "iterations": last["iterations"], "stop": last["stop_reason"],
            "fields": len(summary["fields"])}


def run_casa(ms: Path, work: Path, refimagers: Path, n: int, cores: int) -> dict:
    script = work / "casa_ql.py"
    script.write_text(CASA_SCRIPT)
    argv = [str(refimagers / "casa-python"), str(script), str(ms), str(work / "casa"), str(n)]
    wall, rss, text = run_measured(argv, work / "casa.log")
    summary = json.loads(text.split("SUMMARY ", 1)[1].splitlines()[0]) if "SUMMARY" in text \
        else {}
    return {"wall_s": round(wall, 1), "core_hours": round(wall * cores / 3600, 4),
            "rss_gib": round(rss, 2), "major_cycles": summary.get("nmajordone"),
            "iterations": summary.get("iterdone"), "stop": summary.get("stopcode")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=("small", "full"), default="small")
    parser.add_argument("--refimagers", type=Path, default=None,
                        help="Folder of reference-imagers.sh (CASA, small size only)")
    parser.add_argument("--work", type=Path, default=None)
    parser.add_argument("--cores", type=int, default=None, help="Cores the run uses")
    args = parser.parse_args()
    cores = args.cores or os.cpu_count() or 1
    work = args.work or Path(tempfile.mkdtemp(prefix=f"bench_ql_{args.size}_"))
    work.mkdir(parents=True, exist_ok=True)
    ms = work / "tile.ms"
    nvis = simulate(ms, args.size)
    print(f"{args.size}: {nvis / 1e6:.2f} M visibilities in {ms}", flush=True)
    results = {"size": args.size, "visibilities": nvis, "cores": cores}
    shutil.rmtree(work / "vd", ignore_errors=True)
    results["vlassdask"] = run_vlassdask(ms, work, args.size, cores)
    print("vlassdask", results["vlassdask"], flush=True)
    if args.size == "full":
        scale = VLASS_QL_VISIBILITIES / nvis
        extrapolated = results["vlassdask"]["core_hours"] * scale
        results["vlass_ql_extrapolation"] = {
            "visibilities": VLASS_QL_VISIBILITIES, "scale": round(scale, 2),
            "core_hours": round(extrapolated, 2), "paper_core_hours": PAPER_CORE_HOURS,
            "ratio_to_paper": round(extrapolated / PAPER_CORE_HOURS, 3)}
        print("extrapolated to a VLASS QL image", results["vlass_ql_extrapolation"])
    if args.refimagers is not None and args.size == "small":
        results["casa_mosaic"] = run_casa(ms, work, args.refimagers, 1536, cores)
        print("casa", results["casa_mosaic"], flush=True)
        results["vlassdask_over_casa_wall"] = round(
            results["vlassdask"]["wall_s"] / results["casa_mosaic"]["wall_s"], 3)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
