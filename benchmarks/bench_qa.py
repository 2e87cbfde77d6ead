"""QA detector benchmark: detection and false-alarm rates per artifact class, and QA throughput.

Usage::

    python benchmarks/bench_qa.py [--n-per-class 200] [--size 1024] [--workers 1]
    python benchmarks/bench_qa.py --throughput-only

1. **Rates.** For each class (clean, pb_hole, high_weights, rfi, stripes, poor_deconvolution)
   ``--n-per-class`` seeded synthetic images (:func:`vlassdask.testing.artifacts.make_qa_case`,
   seeds ``--seed-offset`` + 0, 1, ...; default 100000, disjoint from the tuning seeds 0-199
   and the tests' 5000-7000) of ``--size``^2 pixels are made and all five detectors run on
   each. The images are QL full fields (2.025 deg) at reduced resolution: cells of 7290" /
   size (7.1" at 1024), beam ~2.5 pixels, sub-image the central 51%. The table gives, per
   class, how often each detector fired: the class's own detector is its detection rate; the
   others, where they should stay quiet, are false alarms. Expected quiet: every detector on
   clean images; each detector on the other artifact classes, except the deconvolution
   detector on PB holes (the masked source's spikes *are* deconvolution artifacts).
2. **Throughput.** The full QA (:func:`vlassdask.qa.statistics.image_statistics` and
   :func:`vlassdask.qa.detectors.run_detectors`) of a 3722^2 sub-image at 1" (a VLASS QL
   archive image) in memory on one thread, best and median of ``--repeat`` runs, and once
   more with the planes as dask arrays (2048^2 chunks) on the synchronous scheduler.

Prints Markdown tables (copy them into ``benchmarks/RESULTS.md``).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor

os.environ.setdefault("OMP_NUM_THREADS", "1")

import dask  # noqa: E402
import numpy as np  # noqa: E402

from vlassdask.qa.detectors import DETECTORS, DetectorConfig, run_detectors  # noqa: E402
from vlassdask.qa.statistics import image_statistics  # noqa: E402
from vlassdask.testing.artifacts import KINDS, make_qa_case  # noqa: E402
from vlassdask.testing.synthetic_field import make_synthetic_field  # noqa: E402

OWN = {"pb_hole": "pb_holes", "high_weights": "high_weights", "rfi": "rfi",
       "stripes": "bad_baselines", "poor_deconvolution": "deconvolution"}  # fmt: skip
#: (detector, class) pairs where firing is not a false alarm besides the class's own detector.
NOT_FALSE_ALARMS = {("deconvolution", "pb_hole")}
#: Injection parameter reported for detection against strength.
STRENGTH = {"pb_hole": "flux_jy", "high_weights": "gain", "rfi": "rms_factor",
            "stripes": "amplitude_sigma", "poor_deconvolution": "leftover_sigma"}  # fmt: skip


def _strength(kind: str, truth: dict) -> float:
    if kind == "poor_deconvolution":
        return max(s["leftover_sigma"] for s in truth["sources"])
    return float(truth[STRENGTH[kind]]) if kind in STRENGTH else float("nan")


def _run(task: tuple[str, int, int]) -> tuple[str, int, dict[str, bool], float, float, float]:
    kind, seed, size = task
    start = time.perf_counter()
    images, truth = make_qa_case(kind, seed, size)
    made = time.perf_counter()
    results = run_detectors(images, DetectorConfig())
    done = time.perf_counter()
    fired = {r.name: bool(r.detected) for r in results}
    return kind, seed, fired, _strength(kind, truth), made - start, done - made


def rates(n: int, size: int, seed_offset: int, workers: int) -> None:
    tasks = [(kind, seed_offset + i, size) for kind in KINDS for i in range(n)]
    start = time.perf_counter()
    with dask.config.set(scheduler="synchronous"):
        if workers > 1:
            with ProcessPoolExecutor(workers) as pool:
                rows = list(pool.map(_run, tasks, chunksize=4))
        else:
            rows = [_run(task) for task in tasks]
    wall = time.perf_counter() - start
    names = list(DETECTORS)
    print(f"\n{n} images per class, {size}^2 pixels, seeds {seed_offset}-{seed_offset + n - 1}, "
          f"{workers} process(es), {wall:.0f} s wall; mean per image: making "
          f"{np.mean([r[4] for r in rows]):.2f} s, QA {np.mean([r[5] for r in rows]):.3f} s\n")
    print("| class | " + " | ".join(names) + " | detection | worst false alarm |")
    print("|---|" + "---|" * (len(names) + 2))
    for kind in KINDS:
        sel = [r for r in rows if r[0] == kind]
        cells, false_alarms = [], []
        for name in names:
            rate = np.mean([r[2][name] for r in sel])
            own = OWN.get(kind) == name
            if not own and (name, kind) not in NOT_FALSE_ALARMS:
                false_alarms.append(rate)
            cells.append(f"**{rate:.1%}**" if own else f"{rate:.1%}")
        detection = f"{np.mean([r[2][OWN[kind]] for r in sel]):.1%}" if kind in OWN else "-"
        print(f"| {kind} | " + " | ".join(cells) + f" | {detection} | {max(false_alarms):.1%} |")
    print("\nDetection against injected strength (own detector):\n")
    print("| class | parameter | weakest third | middle third | strongest third |")
    print("|---|---|---|---|---|")
    for kind, name in OWN.items():
        sel = sorted((r for r in rows if r[0] == kind), key=lambda r: r[3])
        thirds = np.array_split(np.array([r[2][name] for r in sel]), 3)
        bounds = np.array_split(np.array([r[3] for r in sel]), 3)
        cells = [f"{t.mean():.1%} ({b.min():.3g}-{b.max():.3g})" for t, b in zip(thirds, bounds,
                                                                                  strict=True)]
        print(f"| {kind} | {STRENGTH[kind]} | " + " | ".join(cells) + " |")
    missed = [(r[0], r[1]) for r in rows if r[0] in OWN and not r[2][OWN[r[0]]]]
    print(f"\nmissed (class, seed): {missed[:20]}{' ...' if len(missed) > 20 else ''}")


def throughput(repeat: int) -> None:
    field = make_synthetic_field(n=3722, seed=1, field_arcsec=3722.0, subimage_fraction=1.0)
    images = field.images(name="J000000+000000 synthetic QL sub-image")
    config = DetectorConfig()

    def one(planes) -> float:
        start = time.perf_counter()
        image_statistics(planes)
        run_detectors(planes, config)
        return time.perf_counter() - start

    with dask.config.set(scheduler="synchronous"):
        times = [one(images) for _ in range(repeat)]
        chunked = type(images)(**{**images.__dict__, **{
            role: getattr(images, role).chunk({"l": 2048, "m": 2048})
            for role in ("sky", "residual", "rms", "pb")}})  # fmt: skip
        lazy = [one(chunked) for _ in range(repeat)]
    print(f"\nFull QA of a 3722^2 sub-image (1\" cells), one thread, {repeat} runs:\n")
    print("| planes | best | median | target |")
    print("|---|---|---|---|")
    print(f"| numpy (in memory) | {min(times):.2f} s | {statistics.median(times):.2f} s | "
          f"<= 2 s |")
    print(f"| dask, 2048^2 chunks, synchronous | {min(lazy):.2f} s | "
          f"{statistics.median(lazy):.2f} s | <= 2 s |")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n-per-class", type=int, default=200)
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--seed-offset", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=1, help="processes for the rates")
    parser.add_argument("--repeat", type=int, default=5, help="throughput runs")
    parser.add_argument("--throughput-only", action="store_true")
    parser.add_argument("--rates-only", action="store_true")
    args = parser.parse_args(argv)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"Python {sys.version.split()[0]}, numpy {np.__version__}")
    if not args.throughput_only:
        rates(args.n_per_class, args.size, args.seed_offset, args.workers)
    if not args.rates_only:
        throughput(args.repeat)


if __name__ == "__main__":
    main()
