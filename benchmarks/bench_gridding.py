"""Dirty-image speed and memory: vlassdask against ducc0's wgridder on the same visibilities.

Run by hand (not in CI); record results in benchmarks/RESULTS.md::

    python benchmarks/bench_gridding.py                 # all cases, 1e7 visibilities
    python benchmarks/bench_gridding.py --cases 2d --nvis 2e6
    python benchmarks/bench_gridding.py --cases memory  # peak RSS of a 12500^2 dirty image

Cases (each times the *whole* dirty image: gridding + FFT + grid correction, same image size,
cell and requested accuracy for both codes):

* ``2d``: VLA B configuration over 2-4 GHz, 0.6" cells (the SE cell), 4096^2 image, no w term,
  against ``ducc0.wgridder.experimental.vis2dirty(do_wgridding=False)``.
* ``w``: a 2 deg field at zenith distance ~60 deg (3600^2 x 2" cells; inner pads W/E/N 04-20,
  2-3 GHz so that the 2" grid holds every baseline), w-projection against ducc0's w-stacking.
* ``memory``: a 12500^2 x 0.6" dirty image from >= 1e7 visibilities in a fresh process; prints the
  peak resident memory (``ru_maxrss``).

Single-threaded runs use the in-memory operator (:func:`vlassdask.imaging.operator.dirty_image`)
against ducc0 with ``nthreads=1``. The two-thread runs use the dask graph
(:func:`vlassdask.imaging.dirty.make_dirty_image`, two accumulator chains, FFT with 2 threads) on
the threaded scheduler against ducc0 with ``nthreads=2``.
"""

from __future__ import annotations

import argparse
import math
import resource
import subprocess
import sys
import time

import dask
import ducc0
import numpy as np
import xarray as xr

from vlassdask.imaging.config import ImagingConfig
from vlassdask.imaging.dirty import make_dirty_image
from vlassdask.imaging.operator import dirty_image
from vlassdask.imaging.wplan import plan_gridding
from vlassdask.kernels.constants import SPEED_OF_LIGHT
from vlassdask.simulate.array import load_vla_b_configuration, select_antennas
from vlassdask.simulate.observation import time_at_hour_angle
from vlassdask.simulate.uvw import baseline_uvw, uvw_projection_matrices

ARCSEC = math.pi / 180 / 3600
INNER = tuple(f"{arm}{d:02d}" for arm in "WEN" for d in (4, 8, 12, 16, 20))


def vla_track(nvis: float, freq: np.ndarray, *, dec_deg: float, hour_angle_h: float,
              stations: tuple[str, ...] = ()) -> np.ndarray:
    """uvw (row, 3) metres of a VLA B-configuration track with >= nvis row x channel samples."""
    array = select_antennas(load_vla_b_configuration(), stations)
    a1, a2 = array.baselines()
    ntime = math.ceil(nvis / (a1.size * freq.size))
    start = time_at_hour_angle(150.0, dec_deg, "2019-06-01", hour_angle_h)
    times = start + np.arange(ntime) * 0.45 * (30.0 if ntime > 2000 else 1.0) / 86400.0
    proj = uvw_projection_matrices(times, np.full(ntime, math.radians(150.0)),
                                   np.full(ntime, math.radians(dec_deg)))
    tidx = np.repeat(np.arange(ntime), a1.size)
    return baseline_uvw(proj, array.positions_itrf_m, tidx, np.tile(a1, ntime),
                        np.tile(a2, ntime))


def timed(fn, repeat: int = 2):
    best, out = math.inf, None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def as_datasets(uvw: np.ndarray, freq: np.ndarray, vis: np.ndarray, chunks: int) -> list:
    """The visibilities as one dask-ms-like Dataset (RR = LL = vis, unit weights)."""
    nrow = uvw.shape[0]
    data = np.repeat(vis[..., None], 4, axis=2)
    ds = xr.Dataset(
        {
            "DATA": (("row", "chan", "corr"), data),
            "FLAG": (("row", "chan", "corr"), np.zeros(data.shape, bool)),
            "WEIGHT": (("row", "corr"), np.full((nrow, 4), 0.5, np.float32)),
            "UVW": (("row", "uvw"), uvw),
            "TIME": (("row",), np.zeros(nrow)),
            "FIELD_ID": (("row",), np.zeros(nrow, np.int32)),
        },
        coords={"chan_freq": ("chan", freq)},
        attrs={"DATA_DESC_ID": 0, "field_ids": [0], "corr_types": [5, 6, 7, 8], "spw_id": 0,
               "field_phase_centers_rad": [[math.radians(150.0), math.radians(-22.0)]]},
    ).chunk({"row": chunks})
    return [ds]


def run_case(name: str, uvw, freq, npix: int, cell: float, epsilon: float, gridder: str,
             threads: list[int]) -> None:
    rng = np.random.default_rng(0)
    vis = (rng.normal(size=(uvw.shape[0], freq.size))
           + 1j * rng.normal(size=(uvw.shape[0], freq.size))).astype(np.complex64)
    w_max = np.abs(uvw[:, 2]).max() * freq.max() / SPEED_OF_LIGHT
    wgrid = gridder != "2d"
    plan = plan_gridding(npix, npix, cell, w_max, epsilon=epsilon, gridder=gridder,
                         n_vis=vis.size)
    print(f"\n== {name}: {vis.size:.3g} visibilities, {npix}^2 x {cell / ARCSEC:.2f}\", "
          f"epsilon {epsilon:g}, max |w| {w_max:.0f} wavelengths")
    print(f"   plan: {plan.describe()}")
    dirty_image(uvw[:10], freq, vis[:10], plan)  # numba compilation (cached on disk)
    for nthreads in threads:
        t_ducc, ref = timed(lambda n=nthreads: ducc0.wgridder.experimental.vis2dirty(
            uvw=uvw, freq=freq, vis=vis, npix_x=npix, npix_y=npix, pixsize_x=cell,
            pixsize_y=cell, epsilon=epsilon, do_wgridding=wgrid, flip_v=True,
            divide_by_n=False, nthreads=n))
        if nthreads == 1:
            t_ours, ours = timed(lambda: dirty_image(uvw, freq, vis, plan)[0])
        else:
            config = ImagingConfig(imsize=(npix, npix), cell_arcsec=cell / ARCSEC,
                                   weighting="natural", gridder=gridder, epsilon=epsilon,
                                   row_chunks=max(1, uvw.shape[0] // (4 * nthreads)),
                                   accumulators=nthreads, fft_threads=nthreads,
                                   make_psf=False)
            datasets = as_datasets(uvw, freq, vis, config.row_chunks)

            def dask_image(cfg=config, ds=datasets):
                with dask.config.set(scheduler="threads", num_workers=cfg.accumulators):
                    result = make_dirty_image(ds, cfg)
                    return result.dirty.compute() * result.sum_of_weights
            t_ours, ours = timed(dask_image)
        err = np.abs(ours - ref).max() / np.abs(ref).max()
        print(f"   threads={nthreads}: vlassdask {t_ours:7.2f} s   ducc0 {t_ducc:7.2f} s   "
              f"ratio {t_ours / t_ducc:5.2f}   max|diff|/peak {err:.1e}")


def memory_case(nvis: float) -> None:
    freq = np.linspace(2.0e9, 4.0e9, 16)
    uvw = vla_track(nvis, freq, dec_deg=34.0, hour_angle_h=-1.0)
    vis = np.ones((uvw.shape[0], freq.size), np.complex64)
    npix, cell = 12500, 0.6 * ARCSEC
    plan = plan_gridding(npix, npix, cell, 1.0, epsilon=1e-5, gridder="2d")
    t0 = time.perf_counter()
    image, dropped = dirty_image(uvw, freq, vis, plan, nthreads=1)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    print(f"== memory: {vis.size:.3g} visibilities -> {npix}^2 dirty image (grid "
          f"{plan.ngrid}^2 complex64) in {time.perf_counter() - t0:.1f} s, {dropped} off the "
          f"grid; peak RSS {peak:.2f} GB")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nvis", type=float, default=1e7)
    parser.add_argument("--epsilon", type=float, default=1e-5)
    parser.add_argument("--cases", nargs="+", default=["2d", "w", "memory"],
                        choices=["2d", "w", "memory", "memory-child"])
    parser.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    args = parser.parse_args(argv)
    if "memory-child" in args.cases:
        memory_case(args.nvis)
        return
    if "2d" in args.cases:
        freq = np.linspace(2.0e9, 4.0e9, 16)
        uvw = vla_track(args.nvis, freq, dec_deg=34.0, hour_angle_h=-1.0)
        run_case("2-D", uvw, freq, 4096, 0.6 * ARCSEC, args.epsilon, "2d", args.threads)
    if "w" in args.cases:
        freq = np.linspace(2.0e9, 3.0e9, 16)
        uvw = vla_track(args.nvis, freq, dec_deg=-22.0, hour_angle_h=-1.5, stations=INNER)
        run_case("w-projection, 2 deg at ZD 60", uvw, freq, 3600, 2.0 * ARCSEC, args.epsilon,
                 "wproject", args.threads)
    if "memory" in args.cases:
        subprocess.run([sys.executable, __file__, "--cases", "memory-child", "--nvis",
                        str(args.nvis)], check=True)


if __name__ == "__main__":
    main()
