"""Background maps: unbiased on Gaussian noise, constant where the noise is flat (as PyBDSF),
a map where it varies."""

from __future__ import annotations

import dask
import numpy as np

from vlassdask.catalog.background import background_maps
from vlassdask.catalog.config import CatalogConfig, min_island_pixels
from vlassdask.catalog.regions import RegionReader
from vlassdask.kernels.box_stats import clipped_normal_std
from vlassdask.testing.sources import make_source_image

BEAM_AREA = 1.1331 * 3.0 * 2.5  # pixels: make_source_image's default beam in 1" pixels


def _noise(seed: int = 11) -> np.ndarray:
    ds, _ = make_source_image(nx=1024, ny=1024, n_sources=0, seed=seed)
    return ds["SKY"].values[0, 0, 0].astype(np.float64)


def _maps(image: np.ndarray):
    with dask.config.set(scheduler="threads"):
        reader = RegionReader(dask.array.from_array(image, chunks=512))
        bg = background_maps(reader, CatalogConfig(), beam_area_pixels=BEAM_AREA)
    return bg.maps(0, image.shape[0], 0, image.shape[1])


def test_flat_noise_gets_constant_unbiased_maps():
    image = _noise()
    mean, rms = _maps(image)
    assert np.ptp(rms) == 0 and np.ptp(mean) == 0
    assert abs(rms[0, 0] / image.std() - 1) < 0.01  # clipping bias (1.5%) corrected
    assert abs(clipped_normal_std(3.0) - 0.98485) < 1e-4


def test_varying_noise_gets_a_map_that_follows_it():
    image = _noise()
    gain = np.linspace(1.0, 2.0, image.shape[0])[:, None]
    _, rms = _maps(image * gain)
    sigma = image.std()
    assert abs(np.median(rms[100:150]) / (sigma * gain[125, 0]) - 1) < 0.05
    assert abs(np.median(rms[-150:-100]) / (sigma * gain[-125, 0]) - 1) < 0.05


def test_minimum_island_size_follows_pybdsf():
    assert min_island_pixels(CatalogConfig(), 7.9) == 6
    assert min_island_pixels(CatalogConfig(), 60.0) == 20
    assert min_island_pixels(CatalogConfig(minpix_isl=2), 60.0) == 2
