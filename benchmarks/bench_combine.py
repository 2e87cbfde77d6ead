"""Combined-epoch speed and memory: vlassdask against reproject_and_coadd and in-memory scipy.

Run by hand (not in CI; needs ``pip install -e ".[bench]"`` for reproject); record results in
benchmarks/RESULTS.md::

    python benchmarks/bench_combine.py                     # SE (6202^2) and QL (3722^2) cases
    python benchmarks/bench_combine.py --sizes 3722 --workdir /tmp/bench-combine

Each case makes three epochs of the same sky on the same pixel grid (point sources convolved with
three different elliptical beams, different noise levels and a noise map that rises towards the
edges like a mosaic's), stored as Zarr image stores with SKY and RMS. Then, on the same inputs:

* ``vlassdask``: :func:`vlassdask.products.combined.combine_products` from the three stores to a
  combined store (common beam, convolution to it, RMS-weighted mean, combined rms, coverage) on
  dask's threaded scheduler with all cores, **including** reading and writing Zarr (after a
  warm-up run on 256^2 inputs that loads the modules and numba's cached kernels).

Every method runs in a fresh process, which reports its time and its peak resident memory
(``VmHWM``).
* ``vlassdask-memory``: the same graph (:func:`vlassdask.combine.epochs.combine_epochs`) on the
  inputs already loaded into memory, computed to numpy arrays: no Zarr I/O, like the scipy path.
* ``scipy``: the same arithmetic in memory on numpy arrays already loaded: for each epoch
  ``scipy.signal.fftconvolve`` with the same difference kernels (one thread), then the weighted
  mean; I/O **excluded**. Compared per core.
* ``reproject``: ``reproject.reproject_and_coadd`` (``reproject_interp``, ``combine_function=
  "mean"``, weights 1/rms^2) on the loaded arrays onto the same grid; no convolution; I/O
  excluded.

Throughput is input pixels (epochs x N^2) per second of wall time. The result of the vlassdask
run is compared with the scipy reference (max |difference| over pixels away from the edges).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from vlassdask.io.image_schema import make_image_dataset
from vlassdask.io.image_store import write_image_store

ARCSEC = math.pi / 180 / 3600
CELL_ARCSEC = {6202: 0.6, 3722: 1.0}
BEAMS = ((2.6, 2.2, 30.0), (3.0, 2.3, -25.0), (2.8, 2.7, 80.0))  # major", minor", pa deg (SE)
NOISE_JY = (1.2e-4, 1.5e-4, 1.3e-4)
N_SOURCES = 3000


def _gaussian_fft(shape: tuple[int, int], beam: tuple[float, float, float], cell: float):
    """Fourier transform (rfft2 layout) of a unit-peak elliptical Gaussian on [x, y] pixels."""
    major, minor, pa = beam
    s_maj = major / cell / math.sqrt(8 * math.log(2))
    s_min = minor / cell / math.sqrt(8 * math.log(2))
    theta = math.radians(pa)  # east of north; x points west (RA decreases), y north
    u = np.fft.fftfreq(shape[0])[:, None]
    v = np.fft.rfftfreq(shape[1])[None, :]
    # Rotate (u, v) into the beam frame: major axis along PA, measured from +y towards -x.
    a = -u * math.sin(theta) + v * math.cos(theta)
    b = u * math.cos(theta) + v * math.sin(theta)
    g = np.exp(-2 * math.pi**2 * ((s_maj * a) ** 2 + (s_min * b) ** 2))
    return (2 * math.pi * s_maj * s_min * g).astype(np.complex64)


def make_epochs(npix: int, workdir: Path) -> list[Path]:
    """Write three epoch stores of ``npix^2`` pixels; reuse them when they exist."""
    import scipy.fft

    cell = CELL_ARCSEC.get(npix, 0.6)
    paths = [workdir / f"epoch{i}_{npix}.zarr" for i in range(3)]
    if all(p.exists() for p in paths):
        return paths
    rng = np.random.default_rng(npix)
    points = np.zeros((npix, npix), np.float32)
    xy = rng.integers(64, npix - 64, size=(N_SOURCES, 2))
    points[xy[:, 0], xy[:, 1]] = (1e-3 * rng.pareto(1.5, N_SOURCES) + 5e-4).astype(np.float32)
    spectrum = scipy.fft.rfft2(points, workers=-1)
    r = np.hypot(*np.meshgrid(np.arange(npix) - npix / 2, np.arange(npix) - npix / 2,
                              indexing="ij")) / (npix / 2)  # fmt: skip
    profile = (1.0 + 2.0 * r**4).astype(np.float32)  # noise rises towards the edges
    for i, (beam, sigma) in enumerate(zip(BEAMS, NOISE_JY, strict=True)):
        kernel = _gaussian_fft((npix, npix), beam, cell)  # a point of S Jy peaks at S Jy/beam
        sky = scipy.fft.irfft2(spectrum * kernel, s=(npix, npix), workers=-1).astype(np.float32)
        sky += rng.normal(0, 1, (npix, npix)).astype(np.float32) * (sigma * profile)
        ds = make_image_dataset(
            {"SKY": sky, "RMS": sigma * profile},
            cell_rad=cell * ARCSEC,
            phase_center_rad=(math.radians(150.0), math.radians(30.0)),
            frequency_hz=[3.0e9],
            product_kind="image",
            attrs={"restoring_beam": {"major_arcsec": beam[0], "minor_arcsec": beam[1],
                                      "pa_deg": beam[2]}},
        )  # fmt: skip
        write_image_store(ds, paths[i], overwrite=True)
    return paths


def _peak_rss_gb() -> float:
    """Peak resident memory of this process since it started (``VmHWM``; unlike ``ru_maxrss``
    it does not carry over the parent's pages across fork + exec)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024**2
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def _load(paths: list[Path]) -> tuple[list[np.ndarray], list[np.ndarray], list, list[dict]]:
    """Images and rms maps in memory as numpy arrays ``[y, x]`` (FITS order), WCS and beams."""
    import xarray as xr

    from vlassdask.io.image_schema import celestial_wcs

    skies, rmss, wcss, beams = [], [], [], []
    for path in paths:
        ds = xr.open_zarr(path)
        skies.append(np.ascontiguousarray(ds["SKY"].values[0, 0, 0].T))
        rmss.append(np.ascontiguousarray(ds["RMS"].values[0, 0, 0].T))
        wcss.append(celestial_wcs(ds))
        beams.append(ds.attrs["restoring_beam"])
    return skies, rmss, wcss, beams


def run_vlassdask(paths: list[Path], out: Path) -> None:
    """Zarr stores in, combined Zarr store out, threaded scheduler with every core."""
    import dask

    from vlassdask.products.combined import combine_products

    with dask.config.set(scheduler="threads"):
        combine_products(paths, out, overwrite=True, progress=False)


def run_vlassdask_in_memory(paths: list[Path]) -> float:
    """The same graph on inputs already in memory, computed to numpy (no Zarr I/O): the
    like-for-like comparison with the scipy path. Returns the compute time."""
    import dask

    from vlassdask.combine.config import CombineConfig
    from vlassdask.combine.epochs import combine_epochs
    from vlassdask.io.image_store import open_image_store

    config = CombineConfig()
    images = [open_image_store(p).load().chunk({"l": config.chunk_pixels,
                                                "m": config.chunk_pixels}) for p in paths]
    with dask.config.set(scheduler="threads"):
        combine_epochs(images[:1] * 2, config)["SKY"].isel(l=slice(0, 256), m=slice(0, 256)).load()
        t0 = time.perf_counter()
        dask.compute(*(v.data for v in combine_epochs(images, config).data_vars.values()))
        return time.perf_counter() - t0


def run_scipy(paths: list[Path], out: Path) -> float:
    """The in-memory reference; returns its time (loading excluded) and saves the image."""
    import astropy.units as u
    from radio_beam import Beam, Beams
    from scipy.signal import fftconvolve

    from vlassdask.combine.beam import GaussianBeam, noise_scale

    skies, rmss, wcss, beams = _load(paths)
    cell = abs(wcss[0].wcs.cdelt[1]) * 3600.0
    t0 = time.perf_counter()
    rb = [Beam(b["major_arcsec"] * u.arcsec, b["minor_arcsec"] * u.arcsec, b["pa_deg"] * u.deg)
          for b in beams]  # fmt: skip
    common = Beams(beams=rb).common_beam()
    numerator = np.zeros_like(skies[0])
    weight_sum = np.zeros_like(skies[0])
    for sky, rms, beam, raw in zip(skies, rmss, rb, beams, strict=True):
        convolved = fftconvolve(sky, _kernel_image(common.deconvolve(beam), cell), mode="same")
        convolved *= np.float32(common.sr / beam.sr)
        scale = noise_scale(GaussianBeam(common.major.to_value(u.arcsec),
                                         common.minor.to_value(u.arcsec),
                                         common.pa.to_value(u.deg)),
                            GaussianBeam(raw["major_arcsec"], raw["minor_arcsec"],
                                         raw["pa_deg"]))  # fmt: skip
        weight = 1.0 / (rms * np.float32(scale)) ** 2
        numerator += weight * convolved
        weight_sum += weight
    combined = numerator / weight_sum
    seconds = time.perf_counter() - t0
    np.save(out, combined)
    return seconds


def _kernel_image(beam, cell: float, half: int = 32) -> np.ndarray:
    """Unit-sum kernel image ``[y, x]`` of a Gaussian, band-limited (exact for sub-pixel widths).

    Sampling a Gaussian narrower than a pixel at pixel centres does not smooth by the right
    amount; the inverse FFT of its analytic transfer function does.
    """
    import astropy.units as u

    n = 2 * half + 1
    spectrum = _gaussian_fft((n, n), (beam.major.to_value(u.arcsec), beam.minor.to_value(u.arcsec),
                                      beam.pa.to_value(u.deg)), cell)  # fmt: skip
    kernel_xy = np.fft.fftshift(np.fft.irfft2(spectrum, s=(n, n)))
    return (kernel_xy / kernel_xy.sum()).T.astype(np.float32)


def run_reproject(paths: list[Path]) -> float:
    """``reproject_and_coadd`` of the three epochs onto the first grid, weights 1/rms^2."""
    from reproject import reproject_interp
    from reproject.mosaicking import reproject_and_coadd

    skies, rmss, wcss, _ = _load(paths)
    t0 = time.perf_counter()
    reproject_and_coadd(list(zip(skies, wcss, strict=True)), wcss[0], shape_out=skies[0].shape,
                        input_weights=[1.0 / r**2 for r in rmss],
                        reproject_function=reproject_interp, combine_function="mean")  # fmt: skip
    return time.perf_counter() - t0


def child(method: str, npix: int, workdir: Path) -> None:
    """Run one method in this (fresh) process and print its time and peak memory as JSON."""
    paths = make_epochs(npix, workdir)
    if method == "vlassdask":
        # Warm up on a small set first: imports and numba's cached kernels load once per process.
        run_vlassdask(make_epochs(256, workdir), workdir / "warmup.zarr")
        t0 = time.perf_counter()
        run_vlassdask(paths, workdir / f"combined_{npix}.zarr")
        seconds = time.perf_counter() - t0
    elif method == "vlassdask-memory":
        seconds = run_vlassdask_in_memory(paths)
    elif method == "scipy":
        seconds = run_scipy(paths, workdir / f"scipy_{npix}.npy")
    else:
        seconds = run_reproject(paths)
    print(json.dumps({"method": method, "seconds": seconds, "peak_gb": _peak_rss_gb()}))


def _in_fresh_process(method: str, npix: int, workdir: Path) -> dict:
    cmd = [sys.executable, __file__, "--child", method, "--sizes", str(npix),
           "--workdir", str(workdir)]  # fmt: skip
    result = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def compare(npix: int, workdir: Path) -> float:
    """max |vlassdask - scipy| / max |scipy| over pixels at least 64 from the edges."""
    import xarray as xr

    ours = xr.open_zarr(workdir / f"combined_{npix}.zarr")["SKY"].values[0, 0, 0].T
    ref = np.load(workdir / f"scipy_{npix}.npy")
    inner = (slice(64, -64), slice(64, -64))
    return float(np.nanmax(np.abs(ours[inner] - ref[inner])) / np.nanmax(np.abs(ref[inner])))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="6202,3722", help="image sizes (pixels per side)")
    parser.add_argument("--workdir", type=Path, default=Path("benchmarks/out/combine"))
    parser.add_argument("--methods", default="vlassdask,vlassdask-memory,scipy,reproject")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--keep", action="store_true", help="keep the inputs and outputs")
    args = parser.parse_args(argv)
    args.workdir.mkdir(parents=True, exist_ok=True)
    sizes = [int(s) for s in args.sizes.split(",")]
    if args.child:
        child(args.child, sizes[0], args.workdir)
        return
    cores = os.cpu_count() or 1
    print(f"cores: {cores}")
    print("| Case | Method | Time | Throughput (Mpix/s) | Per core | Peak RSS |")
    print("|---|---|---|---|---|---|")
    for npix in sizes:
        make_epochs(npix, args.workdir)
        results = {m: _in_fresh_process(m, npix, args.workdir) for m in args.methods.split(",")}
        mpix = 3 * npix**2 / 1e6
        for method, r in results.items():
            threads = cores if method.startswith("vlassdask") else 1
            rate = mpix / r["seconds"]
            print(f"| 3 x {npix}^2 | {method} | {r['seconds']:.2f} s | {rate:.1f} | "
                  f"{rate / threads:.1f} | {r['peak_gb']:.2f} GB |")  # fmt: skip
        for mine in ("vlassdask", "vlassdask-memory"):
            for ref in ("reproject", "scipy"):
                if mine in results and ref in results:
                    ratio = results[ref]["seconds"] / results[mine]["seconds"]
                    per_core = f" ({ratio / cores:.2f} per core)" if ref == "scipy" else ""
                    print(f"  {npix}^2: {mine} throughput / {ref} = {ratio:.2f}{per_core}")
        if "vlassdask" in results and "scipy" in results:
            print(f"  {npix}^2: max |vlassdask - scipy| / peak = {compare(npix, args.workdir):.2e}")
    if not args.keep:
        shutil.rmtree(args.workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
