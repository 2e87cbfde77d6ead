"""Pre-flight memory check: a job that cannot fit is refused before anything is computed."""

from __future__ import annotations

import subprocess
import sys

import pytest
from distributed import Client, LocalCluster

from vlassdask.deconvolution.config import CleanConfig
from vlassdask.deconvolution.major_cycle import client_images
from vlassdask.errors import InputError
from vlassdask.imaging.config import ImagingConfig
from vlassdask.imaging.imaging_operator import ImagingOperator
from vlassdask.imaging.memory import (
    check_memory,
    estimate_device_memory,
    estimate_imaging_memory,
)
from vlassdask.imaging.wplan import good_grid_size
from vlassdask.io.ms_read import open_measurement_set
from vlassdask.testing.ms import make_test_ms

CONFIG = ImagingConfig(imsize=(256, 256), cell_arcsec=3.0, weighting="briggs", row_chunks=500)


@pytest.fixture(scope="module")
def ms(tmp_path_factory):
    return make_test_ms(tmp_path_factory.mktemp("memory"), name="m.ms", nchan_per_spw=2)


def test_device_estimate_model(ms):
    """Device memory: the prepared blocks (48 bytes per visibility, or only the row chunks in
    flight with a block cache), accumulators + FFT + model grids and two float64 images."""
    vis = open_measurement_set(ms)
    n_vis = sum(ds.sizes["row"] * ds.sizes["chan"] for ds in vis.datasets)
    config = CONFIG.replace(padding=2.0, accumulators=2, row_chunks=10)
    est = estimate_device_memory(vis.datasets, config)
    assert est.visibilities == 48 * n_vis
    assert est.grids == (2 + 2) * 8 * good_grid_size(512) ** 2
    assert est.images == 2 * 8 * 256 * 256
    chans = max(ds.sizes["chan"] for ds in vis.datasets)
    cached = estimate_device_memory(vis.datasets, config, cached=True)
    assert cached.visibilities == 48 * min(n_vis, 2 * 10 * chans)
    with pytest.raises(InputError, match="but the device has 1 MiB available"):
        check_memory(est, 1 << 20, what="imaging", where="the device has")


def test_estimate_model(ms):
    vis = open_measurement_set(ms)
    n_vis = sum(ds.sizes["row"] * ds.sizes["chan"] for ds in vis.datasets)
    n_rows = sum(ds.sizes["row"] for ds in vis.datasets)
    est = estimate_imaging_memory(vis.datasets, CONFIG.replace(padding=2.0, accumulators=3),
                                  client_images=4)
    assert est.visibilities == 48 * n_vis + 32 * n_rows
    assert est.grids == (3 + 2) * 8 * good_grid_size(512) ** 2
    assert est.images == 5 * 8 * 256 * 256  # beats the 3 density grids of Briggs weighting
    assert est.total == est.visibilities + est.grids + est.images
    natural = estimate_imaging_memory(vis.datasets, CONFIG.replace(weighting="natural",
                                                                   accumulators=8))
    assert natural.images == 2 * 8 * 256 * 256
    briggs = estimate_imaging_memory(vis.datasets, CONFIG.replace(accumulators=8))
    assert briggs.images == 8 * 8 * 256 * 256


def test_estimate_is_a_lower_bound_of_what_the_operator_holds(ms):
    """The estimate assumes the smallest grid and counts flagged data: it never exceeds the
    operator's real grid, and its visibilities bound the persisted blocks from above."""
    vis = open_measurement_set(ms)
    operator = ImagingOperator.build(vis.datasets, CONFIG)
    est = estimate_imaging_memory(vis.datasets, CONFIG)
    assert est.grids <= (CONFIG.accumulators + 2) * 8 * operator.plan.ngrid ** 2
    assert est.visibilities >= operator.block_bytes


def test_multiscale_holds_more_images():
    assert client_images(CleanConfig()) == 10
    assert client_images(CleanConfig(scales=(0, 5, 15))) == 10 + 6 + 5


def test_check_memory_message():
    est = estimate_imaging_memory([], ImagingConfig(imsize=(32000, 32000)))
    with pytest.raises(InputError) as info:
        check_memory(est, 8 << 30, what="imaging 32000x32000")
    message = str(info.value)
    assert message.startswith("imaging 32000x32000 needs at least ")
    assert "GiB (grids " in message and "8 GiB available" in message
    check_memory(est, est.total, what="fits exactly")


def test_operator_refuses_before_computing_on_small_workers(ms):
    """Memory available is what the distributed workers may use (their limits), not the
    machine's: a 4096^2 image (at least 0.7 GiB) does not fit two 300 MB workers."""
    vis = open_measurement_set(ms)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, memory_limit="300MB",
                      dashboard_address=None) as cluster, Client(cluster):
        with pytest.raises(InputError, match=r"workers have 572 MiB available"):
            ImagingOperator.build(vis.datasets, CONFIG.replace(imsize=(4096, 4096)))


@pytest.mark.parametrize("command", ["image", "clean"])
def test_cli_refuses_huge_image_at_once(command, ms, tmp_path):
    out = tmp_path / "huge.zarr"
    proc = subprocess.run([sys.executable, "-m", "vlassdask.cli.main", command, "--ms", str(ms),
                           "--out", str(out), "--imsize", "200000", "--scheduler", "threads"],
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "Traceback" not in proc.stderr
    assert "needs at least" in lines[0] and "TiB" in lines[0] and "available" in lines[0]
    assert list(tmp_path.iterdir()) == []
