"""CLEAN side by side: vlassdask against WSClean and CASA tclean on one simulated VLASS-like MS.

Run by hand (not in CI), after ``bash ../shared/tools/reference-imagers.sh DIR``; record the
results in benchmarks/RESULTS.md::

    python benchmarks/bench_clean.py --refimagers /work/refimagers            # everything
    python benchmarks/bench_clean.py --nvis 2e6 --imagers vlassdask wsclean   # a quick look
    python benchmarks/bench_clean.py --parts cycle                            # major cycle only

Parts:

* ``imagers``: each imager in its own process on the same MS with the same image (2048^2 x 1"),
  weighting (Briggs robust 1), and stopping (niter 20000, nsigma 4.5; vlassdask and tclean also
  cycleniter 500, nmajor 220 as VLASS QL; WSClean's nearest equivalent is ``-auto-threshold 4.5
  -mgain 0.8``). Printed for each: wall time of the process, major cycles, the final residual's
  robust rms (1.4826 x MAD of its FITS residual, measured here the same way for all), the
  restored peaks at the five brightest sources, and the process's peak RSS (``wait4``).
* ``cycle``: one vlassdask major cycle (``ImagingOperator.residual`` on a model of the sky's
  components, 2 accumulators) against ducc0's ``dirty2vis`` + ``vis2dirty`` on the same
  visibilities, imaging weights, image and accuracy (``nthreads=2``), and the persisted
  visibilities' memory model (bytes per visibility, stated and measured as the RSS growth of
  building the operator).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import dask
import numpy as np
import pandas as pd
from astropy.io import fits
from astropy.wcs import WCS

RA0, DEC0 = 150.0, 34.0
IMSIZE, CELL_ARCSEC = 2048, 1.0
STOP = {"niter": 20000, "cycleniter": 500, "nsigma": 4.5, "nmajor": 220}
N_SOURCES = 40


def make_sky(seed: int = 7) -> pd.DataFrame:
    """Point sources of 2-200 mJy (power law) within 14' of the centre (in the 2048" image)."""
    rng = np.random.default_rng(seed)
    radius = 14.0 / 60.0 * np.sqrt(rng.uniform(0.0, 1.0, N_SOURCES))
    angle = rng.uniform(0.0, 2 * np.pi, N_SOURCES)
    dec = DEC0 + radius * np.cos(angle)
    ra = RA0 + radius * np.sin(angle) / np.cos(np.radians(DEC0))
    flux = 0.002 * (rng.pareto(1.0, N_SOURCES) + 1.0)
    flux = np.minimum(flux, 0.2)
    zeros = np.zeros(N_SOURCES)
    return pd.DataFrame({"ra_deg": ra, "dec_deg": dec, "flux_jy": flux, "spectral_index": zeros,
                         "major_arcsec": zeros, "minor_arcsec": zeros, "pa_deg": zeros,
                         "pol_fraction": zeros, "pol_angle_deg": zeros})


def simulate(path: Path, nvis: float, sky: pd.DataFrame) -> Path:
    """A VLASS-like snapshot near transit: 27 antennas, 16 spw x 4 channels, 0.45 s."""
    from vlassdask.products.simulation import simulate_observation

    per_integration = 351 * 64
    duration = math.ceil(nvis / per_integration) * 0.45
    config = {"ra_deg": RA0, "dec_deg": DEC0, "date": "2019-06-01", "hour_angle_h": -0.03,
              "duration_s": duration, "integration_s": 0.45, "spw_ids": list(range(16)),
              "nchan_per_spw": 4, "noise_sigma_jy": 0.5, "flag_fraction": 0.02, "seed": 3,
              "rows_per_chunk": 20000}
    if not path.exists():
        simulate_observation(config, sky, path)
    return path


def apparent_fluxes(ms: Path, sky: pd.DataFrame, count: int = 5) -> list[float]:
    """The ``count`` brightest sources' flux times the primary beam averaged over channels."""
    from casacore.tables import table

    from vlassdask.imaging.primary_beam import vla_primary_beam

    with table(f"{ms}::SPECTRAL_WINDOW", ack=False) as spw:
        freqs = np.concatenate([spw.getcell("CHAN_FREQ", r) for r in range(spw.nrows())])
    out = []
    ra0, dec0 = np.radians([RA0, DEC0])
    for _, row in sky.nlargest(count, "flux_jy").iterrows():
        ra, dec = np.radians([row.ra_deg, row.dec_deg])
        cos_sep = np.sin(dec) * np.sin(dec0) + np.cos(dec) * np.cos(dec0) * np.cos(ra - ra0)
        beam = vla_primary_beam(np.arccos(min(cos_sep, 1.0)), freqs)
        out.append(float(row.flux_jy * beam.mean()))
    return out


def run_measured(argv: list[str], log: Path, env: dict | None = None) -> tuple[float, float, str]:
    """Run ``argv``; return (wall seconds, peak RSS GiB, output text)."""
    start = time.perf_counter()
    with open(log, "w") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    text = log.read_text()
    if os.waitstatus_to_exitcode(status) not in (0, 3):
        raise RuntimeError(f"{argv[0]} failed; see {log}:\n{text[-3000:]}")
    return wall, usage.ru_maxrss / 2**20, text


def robust_rms(path: Path) -> float:
    data = np.asarray(fits.getdata(path), dtype=np.float64).squeeze()
    data = data[np.isfinite(data)]
    return 1.4826 * float(np.median(np.abs(data - np.median(data))))


def restored_peaks(path: Path, sky: pd.DataFrame, count: int = 5) -> list[float]:
    """Max of the restored image within 2 pixels of each of the ``count`` brightest sources."""
    with fits.open(path) as hdul:
        data = np.asarray(hdul[0].data, dtype=np.float64).squeeze()
        wcs = WCS(hdul[0].header).celestial
    peaks = []
    for _, row in sky.nlargest(count, "flux_jy").iterrows():
        x, y = (int(round(float(v))) for v in wcs.world_to_pixel_values(row.ra_deg, row.dec_deg))
        peaks.append(float(data[y - 2:y + 3, x - 2:x + 3].max()))
    return peaks


def run_vlassdask(ms: Path, work: Path, threads: int) -> dict:
    out = work / "vd.zarr"
    argv = [sys.executable, "-m", "vlassdask.cli.main", "clean", "--ms", str(ms), "--out",
            str(out), "--imsize", str(IMSIZE), "--cell", f"{CELL_ARCSEC}arcsec", "--weighting",
            "briggs", "--robust", "1", "--niter", str(STOP["niter"]), "--cycleniter",
            str(STOP["cycleniter"]), "--nsigma", str(STOP["nsigma"]), "--nmajor",
            str(STOP["nmajor"]), "--fits", str(work / "vd.fits"), "--no-preview",
            "--scheduler", "threads", "--overwrite"]
    env = {**os.environ, "DASK_NUM_WORKERS": str(threads)}
    wall, rss, _ = run_measured(argv, work / "vd.log", env)
    summary = json.loads((work / "vd.clean.json").read_text())
    return {"wall_s": wall, "rss_gib": rss, "major_cycles": summary["major_cycles"],
            "iterations": summary["iterations"], "stop": summary["stop_reason"],
            "residual": work / "vd.residual.fits", "image": work / "vd.sky.fits"}


def run_wsclean(ms: Path, work: Path, threads: int) -> dict:
    name = work / "ws"
    argv = ["wsclean", "-j", str(threads), "-use-wgridder", "-weight", "briggs", "1",
            "-pol", "I", "-size", str(IMSIZE), str(IMSIZE), "-scale", f"{CELL_ARCSEC}asec",
            "-niter", str(STOP["niter"]), "-auto-threshold", str(STOP["nsigma"]), "-mgain", "0.8",
            "-gain", "0.1", "-nmiter", str(STOP["nmajor"]), "-name", str(name), str(ms)]
    wall, rss, text = run_measured(argv, work / "ws.log")
    cycles = len(re.findall(r"== Converting model image to visibilities ==", text))
    return {"wall_s": wall, "rss_gib": rss, "major_cycles": cycles,
            "residual": Path(f"{name}-residual.fits"), "image": Path(f"{name}-image.fits")}


CASA_SCRIPT = """
import json, sys
from casatasks import tclean, exportfits
ms, name, stop = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
result = tclean(vis=ms, imagename=name, imsize=[{n}, {n}], cell="{cell}arcsec",
                specmode="mfs", gridder="{gridder}", wprojplanes=-1, weighting="briggs",
                robust=1.0, deconvolver="hogbom", niter=stop["niter"],
                cycleniter=stop["cycleniter"], nsigma=stop["nsigma"], nmajor=stop["nmajor"],
                gain=0.1, stokes="I", pblimit=-1e-4, fullsummary=False)
for kind in ("image", "residual"):
    exportfits(imagename=name + "." + kind, fitsimage=name + "." + kind + ".fits",
               overwrite=True)
print("SUMMARY", json.dumps({{"nmajordone": result.get("nmajordone"),
                             "iterdone": result.get("iterdone"),
                             "stopcode": result.get("stopcode")}}))
"""


def run_casa(ms: Path, work: Path, refimagers: Path, gridder: str) -> dict:
    script = work / "casa_clean.py"
    script.write_text(CASA_SCRIPT.format(n=IMSIZE, cell=CELL_ARCSEC, gridder=gridder))
    name = work / "casa"
    argv = [str(refimagers / "casa-python"), str(script), str(ms), str(name), json.dumps(STOP)]
    wall, rss, text = run_measured(argv, work / "casa.log")
    match = re.search(r"SUMMARY (\{.*\})", text)
    summary = json.loads(match.group(1)) if match else {}
    return {"wall_s": wall, "rss_gib": rss, "major_cycles": summary.get("nmajordone"),
            "iterations": summary.get("iterdone"), "stop": summary.get("stopcode"),
            "residual": Path(f"{name}.residual.fits"), "image": Path(f"{name}.image.fits")}


def rss_gib() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 2**20
    return math.nan


def major_cycle_part(ms: Path, sky: pd.DataFrame, threads: int) -> None:
    """One vlassdask major cycle vs ducc0 dirty2vis + vis2dirty; memory model."""
    import ducc0

    from vlassdask.imaging.config import ImagingConfig
    from vlassdask.imaging.imaging_operator import ImagingOperator
    from vlassdask.io.ms_read import open_measurement_set

    config = ImagingConfig(imsize=(IMSIZE, IMSIZE), cell_arcsec=CELL_ARCSEC, weighting="briggs",
                           robust=1.0, accumulators=threads, fft_threads=threads)
    vis = open_measurement_set(ms, row_chunks=config.row_chunks)
    with dask.config.set(scheduler="threads", num_workers=threads):
        before = rss_gib()
        operator = ImagingOperator.build(vis.datasets, config, weight_column=vis.weight_column)
        grown = rss_gib() - before
        model = np.zeros(operator.shape)
        wcs = WCS(naxis=2)
        wcs.wcs.ctype = ["RA---SIN", "DEC--SIN"]
        wcs.wcs.crval = [math.degrees(v) for v in operator.phase_center_rad]
        wcs.wcs.crpix = [IMSIZE // 2 + 1] * 2
        wcs.wcs.cdelt = [-CELL_ARCSEC / 3600, CELL_ARCSEC / 3600]
        for _, row in sky.iterrows():
            x, y = (int(round(float(v))) for v in wcs.world_to_pixel_values(row.ra_deg,
                                                                             row.dec_deg))
            model[x, y] += row.flux_jy
        operator.residual(model).compute()  # warm up (numba caches, scatter)
        times = []
        for _ in range(2):
            start = time.perf_counter()
            operator.residual(model).compute()
            times.append(time.perf_counter() - start)
    ours = min(times)
    # ducc0 on the same visibilities: uvw, frequencies and the imaging weights vlassdask used
    uvw, freq, wgt = _ducc_inputs(operator)  # (nvis, 3), (1,), (nvis, 1)
    cell = math.radians(CELL_ARCSEC / 3600)
    common = {"pixsize_x": cell, "pixsize_y": cell, "epsilon": config.epsilon,
              "do_wgridding": operator.plan.w_projection, "nthreads": threads, "flip_v": True}
    ducc_times = []
    for _ in range(2):
        start = time.perf_counter()
        predicted = ducc0.wgridder.experimental.dirty2vis(
            uvw=uvw, freq=freq, dirty=model.astype(np.float32), wgt=None, **common)
        ducc0.wgridder.experimental.vis2dirty(uvw=uvw, freq=freq, vis=predicted, wgt=wgt,
                                              npix_x=IMSIZE, npix_y=IMSIZE, **common)
        ducc_times.append(time.perf_counter() - start)
    ducc = min(ducc_times)
    gridded = operator.counts["gridded"]
    print(f"major cycle: vlassdask residual(model) {ours:.2f} s, ducc0 dirty2vis + vis2dirty "
          f"{ducc:.2f} s, ratio {ours / ducc:.2f} (target <= 1.5); {gridded:.3g} visibilities, "
          f"gridder {'w' if operator.plan.w_projection else '2-D'}, "
          f"{operator.plan.n_layers} layer(s)")
    print(f"memory model: {operator.block_bytes / gridded:.1f} bytes per visibility stated "
          f"({operator.block_bytes / 2**30:.2f} GiB); RSS grew {grown:.2f} GiB on building the "
          f"operator ({grown * 2**30 / gridded:.1f} bytes per visibility measured)")


def _ducc_inputs(operator):
    """All prepared visibilities as one ducc0 call's input: one (row, channel) per uvw row,
    scaled to a single reference frequency, with vlassdask's imaging weights."""
    from vlassdask.imaging.imaging_operator import _load

    reference = operator.frequency_hz
    uvws, wgts = [], []
    for item in dask.compute(*operator.blocks):
        wb = _load(item, operator.cache)
        nchan = wb.freq.size
        rows, chans = np.divmod(wb.sorted.index, nchan)
        uvws.append(wb.uvw[rows] * (wb.freq[chans] / reference)[:, None])
        wgts.append(np.abs(wb.sorted.values[1]).astype(np.float32))
    return (np.concatenate(uvws), np.array([reference]),
            np.concatenate(wgts)[:, None])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--nvis", type=float, default=1.0e7)
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "bench_clean")
    parser.add_argument("--refimagers", type=Path, default=Path("/work/refimagers"))
    parser.add_argument("--imagers", nargs="+", default=["vlassdask", "wsclean", "casa"])
    parser.add_argument("--parts", nargs="+", default=["imagers", "cycle"])
    parser.add_argument("--casa-gridder", default="wproject")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    sky = make_sky()
    ms = simulate(args.work / f"bench_{args.nvis:.0e}.ms", args.nvis, sky)
    print(f"MS {ms}; {args.threads} threads; {IMSIZE}^2 x {CELL_ARCSEC}\"; briggs 1; {STOP}")
    if "imagers" in args.parts:
        runners = {"vlassdask": lambda d: run_vlassdask(ms, d, args.threads),
                   "wsclean": lambda d: run_wsclean(ms, d, args.threads),
                   "casa": lambda d: run_casa(ms, d, args.refimagers, args.casa_gridder)}
        results = {}
        for name in args.imagers:
            work = args.work / name
            shutil.rmtree(work, ignore_errors=True)
            work.mkdir()
            result = runners[name](work)
            result["rms_jy"] = robust_rms(result["residual"])
            result["peaks_jy"] = restored_peaks(result["image"], sky)
            results[name] = result
            print(f"{name:10s} wall {result['wall_s']:8.1f} s  major cycles "
                  f"{result['major_cycles']}  residual rms {result['rms_jy'] * 1e6:8.1f} uJy  "
                  f"peaks [mJy] {', '.join(f'{p * 1e3:.2f}' for p in result['peaks_jy'])}  "
                  f"peak RSS {result['rss_gib']:.2f} GiB  ({result.get('stop', '')})")
        print("truth [mJy] (flux x primary beam, channel mean): "
              + ", ".join(f"{f * 1e3:.2f}" for f in apparent_fluxes(ms, sky)))
        if "vlassdask" in results:
            for ref in ("wsclean", "casa"):
                if ref in results:
                    print(f"vlassdask / {ref} wall time: "
                          f"{results['vlassdask']['wall_s'] / results[ref]['wall_s']:.2f}")
    if "cycle" in args.parts:
        major_cycle_part(ms, sky, args.threads)


if __name__ == "__main__":
    main()
