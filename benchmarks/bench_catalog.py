"""Source-finding benchmark: vlassdask against PyBDSF on the same images, in one run.

Usage::

    python benchmarks/bench_catalog.py [--sources 2000] [--sizes ql se [ql4]] [--noise N]
        [--workdir DIR]

Two seeded images with injected sources (:func:`vlassdask.testing.sources.make_source_image`,
~``--sources`` point and Gaussian sources of peak S/N 4-1000, 30% extended up to 6"), written as
VLASS-style FITS files:

* ``ql``: 3722^2 pixels of 1" (a Quick Look sub-image), beam 2.9" x 2.4";
* ``se``: 6202^2 pixels of 0.6" (a Single Epoch sub-image), beam 2.5" x 2.1";
* ``ql4`` (not run by default): 7444^2 pixels of 1" with four times the sources, the QL's pixels
  and source density over four times the area (is peak memory flat in image size?).

``--noise N`` also counts the components each finder finds in N noise-only 4096^2 QL-pixel
images (false detections per 10^6 beams) beside the Gaussian-random-field expectation; vlassdask
runs twice there, with its defaults and without PyBDSF's island size cut (``minpix_isl=1``).

Each finder runs in its own subprocess (so that its peak RSS is its own), on the same FITS file:
vlassdask's :func:`~vlassdask.catalog.find.find_sources` on dask's threaded scheduler (all
cores) and PyBDSF's ``process_image`` with the VLASS settings (``rms_box=(60, 20)``,
``rms_box_bright=(20, 6)``, ``adaptive_rms_box=True``, ``thresh_isl=3``, ``thresh_pix=5``; its
default ``ncores``, all cores). Reported per image and finder: wall time, components, completeness
against the injected sources above 7 sigma (1.5" match), and for vlassdask the fraction of
PyBDSF's components above 7 sigma matched within 1" and the median total-flux ratio.

Prints a Markdown table (copy it into ``benchmarks/RESULTS.md``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import astropy.units as u
import numpy as np
import pandas as pd
from astropy.coordinates import SkyCoord
from astropy.table import Table

SIZES = {"ql": {"nx": 3722, "cell_arcsec": 1.0, "beam_arcsec": (2.9, 2.4, 20.0)},
         "se": {"nx": 6202, "cell_arcsec": 0.6, "beam_arcsec": (2.5, 2.1, 20.0)},
         # four QL areas at the QL pixel and source density: is peak memory flat in image size?
         "ql4": {"nx": 7444, "cell_arcsec": 1.0, "beam_arcsec": (2.9, 2.4, 20.0),
                 "source_scale": 4}}  # fmt: skip
#: Catalog columns the benchmark compares.
COLUMNS = ("RA", "DEC", "Total_flux", "Peak_flux", "Isl_rms")
#: Side of the noise-only images of the false-detection count (QL pixels and beam).
NOISE_SIDE = 4096


def _made(size: str, sources: int, workdir: Path) -> tuple[Path, Path]:
    """Make the image of ``size`` in a subprocess (so that this process, which the finders'
    subprocesses are forked from, never holds an image: a forked child's peak RSS counts the
    parent's pages); return the FITS and truth paths."""
    subprocess.run([sys.executable, __file__, "--make", size, str(sources), str(workdir)],
                   check=True)
    return workdir / f"{size}.fits", workdir / f"{size}.truth.parquet"


def _make(size: str, sources: int, workdir: Path) -> tuple[Path, Path]:
    from vlassdask.testing.fits import write_vlass_fits
    from vlassdask.testing.sources import make_source_image

    noise = size.startswith("noise")  # noise<k>: a noise-only QL-pixel image, seed 500 + k
    spec = SIZES["ql" if noise else size]
    n = NOISE_SIDE if noise else spec["nx"]
    sources = 0 if noise else int(sources * spec.get("source_scale", 1))
    ds, truth = make_source_image(nx=n, ny=n, cell_arcsec=spec["cell_arcsec"],
                                  beam_arcsec=spec["beam_arcsec"], n_sources=sources,
                                  snr_range=(4.0, 1000.0), min_separation_beams=8.0,
                                  seed=500 + int(size[5:]) if noise else 2024)  # fmt: skip
    image = write_vlass_fits(workdir / f"{size}.fits", ds["SKY"].values[0, 0, 0],
                             cell_arcsec=spec["cell_arcsec"], beam_arcsec=spec["beam_arcsec"])
    truth_path = workdir / f"{size}.truth.parquet"
    truth.to_parquet(truth_path)
    return image, truth_path


def _false_detections(count: int, workdir: Path) -> None:
    """Components found by each finder in ``count`` noise-only QL-pixel images, per 10^6 beams,
    beside the Gaussian-random-field expectation at thresh_pix 5 (Euler characteristic density
    ``4 ln 2 / (2 pi)^1.5 u exp(-u^2 / 2)`` per beam FWHM^2, times the beam area 1.133 FWHM^2)."""
    spec = SIZES["ql"]
    bmaj, bmin, _ = spec["beam_arcsec"]
    beams = count * NOISE_SIDE**2 / (1.1331 * bmaj * bmin / spec["cell_arcsec"] ** 2)
    found = dict.fromkeys(("vlassdask", "vlassdask-no-size-cut", "pybdsf"), 0)
    for k in range(count):
        image, _ = _made(f"noise{k}", 0, workdir)
        for finder in found:
            out = workdir / f"noise{k}.{finder}.parquet"
            _timed(finder, image, out)
            found[finder] += len(pd.read_parquet(out))
    theory = 4 * np.log(2) / (2 * np.pi) ** 1.5 * 5 * np.exp(-12.5) * 1.1331 * 1e6
    print(f"\nFalse detections in {count} noise-only {NOISE_SIDE}^2 images "
          f"({beams / 1e6:.2f} M beams), per 10^6 beams: " + ", ".join(
              f"{f} {n / beams * 1e6:.2f} ({n})" for f, n in found.items())
          + f"; Gaussian-field expectation {theory:.2f}")


def _run_vlassdask(image: Path, out: Path, size_cut: bool = True) -> None:
    """vlassdask's finder with the default config (``size_cut=False``: without PyBDSF's island
    size cut, ``minpix_isl=1``)."""
    import dask

    from vlassdask.catalog.config import CatalogConfig
    from vlassdask.catalog.find import find_sources
    from vlassdask.io.fits_import import open_fits_image

    config = CatalogConfig() if size_cut else CatalogConfig(minpix_isl=1)
    with dask.config.set(scheduler="threads"):
        table = find_sources(open_fits_image(image), config, image_name=image.stem)
    table[list(COLUMNS)].to_parquet(out)


def _run_pybdsf(image: Path, out: Path) -> None:
    import bdsf

    result = bdsf.process_image(str(image), rms_box=(60, 20), rms_box_bright=(20, 6),
                                adaptive_rms_box=True, thresh_isl=3.0, thresh_pix=5.0,
                                quiet=True)  # fmt: skip
    fits = out.with_suffix(".fits")
    result.write_catalog(outfile=str(fits), format="fits", catalog_type="srl", clobber=True)
    if not fits.exists():  # no source found (a noise-only image): PyBDSF writes no file
        pd.DataFrame({c: np.zeros(0) for c in COLUMNS}).to_parquet(out)
        return
    table = Table.read(fits).to_pandas()
    for column in ("Total_flux", "Peak_flux", "Isl_rms"):
        table[column] *= 1e3  # Jy -> mJy
    table[list(COLUMNS)].to_parquet(out)


def _timed(finder: str, image: Path, out: Path) -> tuple[float, float]:
    """Run one finder in a subprocess: (wall seconds, peak RSS GiB)."""
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, __file__, "--run", finder, str(image), str(out)])
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if status != 0:
        raise SystemExit(f"{finder} failed on {image} (status {status})")
    return wall, usage.ru_maxrss / 2**20  # KiB -> GiB


def _coords(t: pd.DataFrame, ra: str = "RA", dec: str = "DEC") -> SkyCoord:
    return SkyCoord(t[ra].to_numpy() * u.deg, t[dec].to_numpy() * u.deg)


def _completeness(truth: pd.DataFrame, table: pd.DataFrame) -> float:
    bright = truth[truth["snr"] > 7]
    _, sep, _ = _coords(bright, "ra", "dec").match_to_catalog_sky(_coords(table))
    return float(np.mean(sep.arcsec <= 1.5))


def _against_pybdsf(ours: pd.DataFrame, theirs: pd.DataFrame) -> tuple[float, float]:
    bright = theirs[theirs["Peak_flux"] > 7 * theirs["Isl_rms"]]
    index, sep, _ = _coords(bright).match_to_catalog_sky(_coords(ours))
    hit = sep.arcsec <= 1.0
    ratio = ours["Total_flux"].to_numpy()[index[hit]] / bright["Total_flux"].to_numpy()[hit]
    return float(hit.mean()), float(np.median(ratio))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sources", type=int, default=2000)
    parser.add_argument("--sizes", nargs="*", default=["ql", "se"], choices=list(SIZES),
                        help="images to run (none: only the --noise count)")
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--noise", type=int, default=0, metavar="N",
                        help="also count false detections in N noise-only images")
    parser.add_argument("--run", nargs=3, metavar=("FINDER", "IMAGE", "OUT"),
                        help=argparse.SUPPRESS)
    parser.add_argument("--make", nargs=3, metavar=("SIZE", "SOURCES", "WORKDIR"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.make:
        size, sources, workdir = args.make
        _make(size, int(sources), Path(workdir))
        return
    if args.run:
        finder, image, out = args.run
        if finder == "pybdsf":
            _run_pybdsf(Path(image), Path(out))
        else:
            _run_vlassdask(Path(image), Path(out), size_cut=finder != "vlassdask-no-size-cut")
        return
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bench_catalog_"))
    workdir.mkdir(parents=True, exist_ok=True)
    print(f"machine: {platform.node()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}; workdir {workdir}", file=sys.stderr)
    rows = []
    for size in args.sizes:
        image, truth_path = _made(size, args.sources, workdir)
        truth = pd.read_parquet(truth_path)
        results = {}
        for finder in ("vlassdask", "pybdsf"):
            out = workdir / f"{size}.{finder}.parquet"
            wall, rss = _timed(finder, image, out)
            results[finder] = (wall, rss, pd.read_parquet(out))
            print(f"{size} {finder}: {wall:.1f} s, {rss:.2f} GiB", file=sys.stderr)
        matched, ratio = _against_pybdsf(results["vlassdask"][2], results["pybdsf"][2])
        for finder, (wall, rss, table) in results.items():
            rows.append({"image": f"{size} {SIZES[size]['nx']}^2", "finder": finder,
                         "injected": len(truth), "wall_s": wall, "peak_rss_gib": rss,
                         "components": len(table),
                         "complete_7sigma": _completeness(truth, table),
                         "matched_pybdsf_7sigma": matched if finder == "vlassdask" else None,
                         "flux_ratio_median": ratio if finder == "vlassdask" else None})
        speedup = results["pybdsf"][0] / results["vlassdask"][0]
        print(f"{size}: vlassdask {speedup:.1f}x faster than PyBDSF", file=sys.stderr)
    if rows:
        _print_table(rows)
    if args.noise:
        _false_detections(args.noise, workdir)


def _print_table(rows: list[dict]) -> None:
    print(json.dumps(rows, indent=1), file=sys.stderr)
    print("| Image | Finder | Wall time | Peak RSS | Components | Complete > 7 sigma | "
          "PyBDSF > 7 sigma matched | Median flux ratio |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        extra = (f"{r['matched_pybdsf_7sigma']:.3f} | {r['flux_ratio_median']:.4f}"
                 if r["finder"] == "vlassdask" else "- | -")
        print(f"| {r['image']} | {r['finder']} | {r['wall_s']:.1f} s | "
              f"{r['peak_rss_gib']:.2f} GiB | {r['components']} | {r['complete_7sigma']:.3f} | "
              f"{extra} |")


if __name__ == "__main__":
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    main()
