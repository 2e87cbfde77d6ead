"""GPU gridding, degridding, dirty image and major cycle against ducc0 on all CPU cores.

One prepared script for a device machine (one H100/H200, 16 CPU cores), under ~8 minutes::

    python benchmarks/bench_gpu.py                       # >= 1e8 visibilities, all cases
    python benchmarks/bench_gpu.py --cases 2d-4096 w-4096 --nvis 1e8
    python benchmarks/bench_gpu.py --smoke               # tiny, anywhere (see below)

Cases (VLA B-configuration tracks, complex64 visibilities, ``epsilon`` 1e-5):

* ``2d-4096``, ``2d-12500``: 2-4 GHz, 0.6" cells, no w term;
* ``w-4096``, ``w-12500``: a field at zenith distance ~60 deg (inner pads, 2-3 GHz), 1.8" and
  0.6" cells, w-projection (the planner's w-layers) against ducc0's w-stacking.

For each case the visibilities are sorted once on the host and moved to the device once (the
imaging operator's prepared blocks; not timed), then, best of ``--repeat`` runs, each ended by a
device synchronisation:

* ``grid``: the gridding kernel over every w-layer (visibilities per second);
* ``degrid``: the degridding kernel over every w-layer, from a model grid;
* ``dirty``: the whole dirty image from the device-resident visibilities: gridding, cuFFT, layer
  accumulation, grid correction, the image back on the host;
* ``major cycle``: the residual image of a model with the fused degrid-subtract-grid kernel,
  from the model on the host to the residual image on the host.

ducc0 (``ducc0.wgridder.experimental``) runs on all cores in the same process on the same
visibilities: ``vis2dirty`` (compared with ``grid`` and ``dirty``), ``dirty2vis`` (with
``degrid``) and ``dirty2vis`` + subtraction + ``vis2dirty`` (with ``major cycle``).

Backends: ``cupy`` when a GPU is usable; ``--backend simulator`` with ``NUMBA_ENABLE_CUDASIM=1``
runs the CUDA kernels in numba-cuda's simulator (correctness only, not a timing); ``numpy`` runs
the same code on the CPU kernels. ``--smoke`` (a 64^2 image and 2e3 visibilities) uses ``auto``:
cupy, else the simulator when ``NUMBA_ENABLE_CUDASIM=1``, else numpy with a message saying the
GPU part was skipped.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass

import ducc0
import numpy as np
from bench_gridding import ARCSEC, INNER, timed, vla_track

from vlassdask.imaging.backend import NUMPY_BACKEND, Backend, resolve_backend
from vlassdask.imaging.operator import (
    add_layer_to_image,
    apply_grid_correction,
    grid_layer,
    grid_residual_layer,
    model_layer_grids,
    sort_for_plan,
    to_backend,
)
from vlassdask.imaging.wplan import GridPlan, plan_gridding
from vlassdask.kernels.constants import SPEED_OF_LIGHT


@dataclass(frozen=True)
class Case:
    """One benchmark geometry."""

    name: str
    npix: int
    cell_arcsec: float
    gridder: str
    fmin: float
    fmax: float
    dec_deg: float
    hour_angle_h: float
    stations: tuple[str, ...]


CASES = {
    "2d-4096": Case("2d-4096", 4096, 0.6, "2d", 2e9, 4e9, 34.0, -1.0, ()),
    "2d-12500": Case("2d-12500", 12500, 0.6, "2d", 2e9, 4e9, 34.0, -1.0, ()),
    "w-4096": Case("w-4096", 4096, 1.8, "wproject", 2e9, 3e9, -22.0, -1.5, INNER),
    "w-12500": Case("w-12500", 12500, 0.6, "wproject", 2e9, 3e9, -22.0, -1.5, INNER),
}


def pick_backend(name: str) -> tuple[Backend, str]:
    """The backend to measure and a note on what its numbers mean."""
    if name in ("auto", "cupy"):
        backend = resolve_backend("auto" if name == "auto" else "gpu")
        if backend is not NUMPY_BACKEND:
            return backend, "GPU (cupy + numba-cuda)"
    if name == "simulator" or (name == "auto" and os.environ.get("NUMBA_ENABLE_CUDASIM")):
        from vlassdask.imaging.backend_cuda import SIMULATOR_BACKEND

        return SIMULATOR_BACKEND, "CUDA simulator: the device code path, NOT a timing"
    return NUMPY_BACKEND, "no usable GPU: the GPU part is skipped, the CPU kernels are timed"


def synchronizer(backend: Backend):
    """A function that waits for the device (kernel launches are asynchronous)."""
    if backend.name == "cupy":
        import cupy

        return cupy.cuda.runtime.deviceSynchronize
    return lambda: None


def grid_all(backend: Backend, sv, plan: GridPlan) -> None:
    grid = None
    for layer in range(plan.n_layers):
        grid, _ = grid_layer(sv, 0, plan, layer, grid)
        if grid is not None:
            grid[...] = 0


def degrid_all(backend: Backend, sv, plan: GridPlan, model_grids, out) -> None:
    for layer in range(plan.n_layers):
        lo, hi = int(sv.bounds[layer]), int(sv.bounds[layer + 1])
        backend.degrid(sv.pu, sv.pv, sv.w, sv.index, model_grids, table=plan.table,
                       w_layer=float(plan.layer_centers[layer]), chirp=plan.chirp,
                       span=(lo, hi), out=out)


def dirty(backend: Backend, sv, plan: GridPlan, nthreads: int) -> np.ndarray:
    image = backend.zeros((plan.nx, plan.ny), dtype=np.float64)
    for layer in range(plan.n_layers):
        grid, _ = grid_layer(sv, 0, plan, layer)
        if grid is not None:
            add_layer_to_image(image, grid, plan, layer, nthreads=nthreads)
    return backend.to_numpy(apply_grid_correction(image, plan))


def residual(backend: Backend, sv, plan: GridPlan, model: np.ndarray,
             nthreads: int) -> np.ndarray:
    corrected = apply_grid_correction(backend.asarray(model.copy()), plan)
    image = backend.zeros((plan.nx, plan.ny), dtype=np.float64)
    for layer in range(plan.n_layers):
        grids = model_layer_grids(corrected, plan, layer, nthreads=nthreads)
        grid, _ = grid_residual_layer(sv, grids, plan, layer)
        if grid is not None:
            add_layer_to_image(image, grid, plan, layer, nthreads=nthreads)
    return backend.to_numpy(apply_grid_correction(image, plan))


def run_case(case: Case, nvis: float, backend: Backend, cores: int, repeat: int,
             rows: list) -> None:
    freq = np.linspace(case.fmin, case.fmax, 16)
    t0 = time.perf_counter()
    uvw = vla_track(nvis, freq, dec_deg=case.dec_deg, hour_angle_h=case.hour_angle_h,
                    stations=case.stations)
    rng = np.random.default_rng(0)
    shape = (uvw.shape[0], freq.size)
    vis = (rng.normal(size=shape) + 1j * rng.normal(size=shape)).astype(np.complex64)
    cell = case.cell_arcsec * ARCSEC
    w_max = np.abs(uvw[:, 2]).max() * freq.max() / SPEED_OF_LIGHT
    plan = plan_gridding(case.npix, case.npix, cell, w_max, gridder=case.gridder,
                         epsilon=1e-5, n_vis=vis.size)
    sv = to_backend(sort_for_plan(uvw, freq, (vis, np.ones_like(vis)), plan), backend)
    print(f"\n== {case.name}: {vis.size:.3g} visibilities, {case.npix}^2 x "
          f"{case.cell_arcsec}\"; plan {plan.describe()}; prepared in "
          f"{time.perf_counter() - t0:.1f} s", flush=True)
    sync = synchronizer(backend)
    model = np.zeros((case.npix, case.npix))
    model[case.npix // 2, case.npix // 2] = 1.0
    model[case.npix // 5, 3 * case.npix // 4] = 0.3
    model_grids = model_layer_grids(apply_grid_correction(backend.asarray(model.copy()), plan),
                                    plan, 0)
    out = backend.zeros(shape, dtype=np.complex64)
    dirty(backend, sv, plan, cores)  # compile the kernels
    sync()

    def measure(fn):
        def run():
            result = fn()
            sync()
            return result
        return timed(run, repeat)

    ducc = {"uvw": uvw, "freq": freq, "pixsize_x": cell, "pixsize_y": cell, "epsilon": 1e-5,
            "do_wgridding": case.gridder != "2d", "flip_v": True, "divide_by_n": False,
            "nthreads": cores}
    t_d2v, _ = timed(lambda: ducc0.wgridder.experimental.dirty2vis(dirty=model, **ducc), 1)
    t_v2d, ref = timed(lambda: ducc0.wgridder.experimental.vis2dirty(
        vis=vis, npix_x=case.npix, npix_y=case.npix, **ducc), 1)
    t_grid, _ = measure(lambda: grid_all(backend, sv, plan))
    t_degrid, _ = measure(lambda: degrid_all(backend, sv, plan, model_grids, out))
    t_dirty, image = measure(lambda: dirty(backend, sv, plan, cores))
    t_major, _ = measure(lambda: residual(backend, sv, plan, model, cores))
    err = np.abs(image - ref).max() / np.abs(ref).max()
    t_ducc_major = t_d2v + t_v2d  # dirty2vis, subtract (negligible), vis2dirty
    for what, ours, theirs in (("grid", t_grid, t_v2d), ("degrid", t_degrid, t_d2v),
                               ("dirty image", t_dirty, t_v2d),
                               ("major cycle", t_major, t_ducc_major)):
        rows.append((case.name, what, vis.size / ours, vis.size / theirs, theirs / ours, err))
        print(f"   {what:12s} {vis.size / ours:10.3g} vis/s ({ours:7.3f} s)   ducc0 "
              f"{vis.size / theirs:10.3g} vis/s ({theirs:7.3f} s)   speed-up "
              f"{theirs / ours:6.2f}", flush=True)
    print(f"   dirty image max|diff|/peak vs ducc0 {err:.1e}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nvis", type=float, default=1e8)
    parser.add_argument("--cases", nargs="+", default=list(CASES), choices=list(CASES))
    parser.add_argument("--backend", default="auto",
                        choices=["auto", "cupy", "simulator", "numpy"])
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--smoke", action="store_true",
                        help="64^2 images and 2e3 visibilities: check that it runs")
    args = parser.parse_args(argv)
    backend, note = pick_backend(args.backend)
    cores = os.cpu_count() or 1
    cases = [CASES[c] for c in args.cases]
    if args.smoke:
        cases = [Case(f"{c.name} (smoke 64^2)", 64, c.cell_arcsec, c.gridder,
                      c.fmin, c.fmax, c.dec_deg, c.hour_angle_h, c.stations)
                 for c in cases[:1] + [c for c in cases if c.gridder != "2d"][:1]]
        args.nvis, args.repeat = 2e3, 1
    print(f"backend {backend.name}: {note}; ducc0 {ducc0.__version__} on {cores} cores; "
          f"python {sys.version.split()[0]}", flush=True)
    start = time.perf_counter()
    rows: list = []
    for case in cases:
        run_case(case, args.nvis, backend, cores, args.repeat, rows)
    print(f"\n| Case | Step | {backend.name} vis/s | ducc0 ({cores} cores) vis/s | Speed-up |")
    print("|---|---|---|---|---|")
    for name, what, ours, theirs, ratio, _ in rows:
        print(f"| {name} | {what} | {ours:.3g} | {theirs:.3g} | {ratio:.2f} |")
    print(f"\ntotal {time.perf_counter() - start:.0f} s ({note})")


if __name__ == "__main__":
    main()
