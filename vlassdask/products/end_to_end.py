"""The main job: simulate a small VLASS-like observation, image it, write Zarr + FITS + PNG.

Driven by a pipeline YAML (``pipelines/end_to_end.yaml``) with sections ``simulate`` and ``sky``
(as :mod:`vlassdask.simulate` reads them) and ``imaging`` (:class:`ImagingConfig`). Outputs in
``out_dir``: ``obs.ms``, ``dirty.zarr``, ``dirty.fits``, ``dirty.png``.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from vlassdask.errors import reject_unknown_keys
from vlassdask.imaging.config import ImagingConfig
from vlassdask.io.atomic import check_can_write
from vlassdask.io.config_files import read_yaml_mapping
from vlassdask.products.dirty import make_dirty_product
from vlassdask.products.simulation import simulate_observation
from vlassdask.simulate import from_dict
from vlassdask.simulate.sky import random_sky, sky_from_records

SECTIONS = ("simulate", "sky", "imaging")


def read_pipeline_config(path: str | os.PathLike) -> dict[str, Any]:
    """Read and check the sections of a pipeline YAML (``yaml.safe_load``)."""
    doc = read_yaml_mapping(path, what="pipeline configuration")
    reject_unknown_keys(doc, SECTIONS, f"{path}: unknown section(s)")
    return doc


def run_end_to_end(
    config: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    overwrite: bool = False,
    progress: bool = True,
    log=print,
) -> dict[str, Any]:
    """Run the main job and return a summary (paths, timings, image statistics).

    Raises
    ------
    ProductExistsError
        If an output exists and ``overwrite`` is false (checked before anything is written).
    """
    doc = read_pipeline_config(config)
    sim = from_dict(doc.get("simulate") or {})
    sky = (sky_from_records(doc["sky"], f"sky: section of {config}") if doc.get("sky")
           else random_sky(10, ra_deg=sim.ra_deg, dec_deg=sim.dec_deg, seed=sim.seed))
    imaging = ImagingConfig.from_mapping(doc.get("imaging") or {})
    out = Path(out_dir)
    paths = {name: out / name for name in ("obs.ms", "dirty.zarr", "dirty.fits", "dirty.png")}
    for path in paths.values():
        check_can_write(path, overwrite=overwrite)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    log(f"simulating {len(sky)} sources -> {paths['obs.ms']}")
    simulate_observation(sim, sky, paths["obs.ms"], overwrite=overwrite)
    t1 = time.perf_counter()
    log(f"imaging -> {paths['dirty.zarr']}")
    product = make_dirty_product(paths["obs.ms"], paths["dirty.zarr"], imaging,
                                 overwrite=overwrite, fits=paths["dirty.fits"],
                                 preview=paths["dirty.png"], command=f"vlassdask run {config}",
                                 progress=progress)
    t2 = time.perf_counter()
    return {"outputs": {k: str(v) for k, v in paths.items()},
            "seconds": {"simulate": round(t1 - t0, 2), "image": round(t2 - t1, 2)},
            **product.summary}
