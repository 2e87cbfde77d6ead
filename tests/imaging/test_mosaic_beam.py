"""The mosaic primary beam from per-field weights, against a direct per-pixel sum."""

from __future__ import annotations

import dataclasses
import math

import dask
import numpy as np
import pytest
import xarray as xr

from vlassdask.imaging.mosaic_beam import (
    FieldWeights,
    fields_reaching,
    merge_field_weights,
    mosaic_primary_beam,
    null_radius_rad,
    relative_beams,
)
from vlassdask.imaging.node_grid import interpolate_nodes, node_count
from vlassdask.imaging.primary_beam import vla_primary_beam
from vlassdask.qa.config import QAConfig
from vlassdask.qa.detectors.high_weights import detect_high_weights
from vlassdask.qa.detectors.pb_holes import detect_pb_holes
from vlassdask.qa.types import QAImages

ARCMIN = math.pi / (180 * 60)
CELL = 6.0 / 3600 * math.pi / 180  # 6" pixels keep the images small
CENTER = (math.radians(150.0), math.radians(20.0))
FREQS = np.array([2.2e9, 2.9e9, 3.6e9])


def raster(n_ra: int = 31, n_rows: int = 9, step_arcmin: float = 2.98,
           row_arcmin: float = 7.2) -> np.ndarray:
    """Pointings (RA, Dec) of a VLASS-like OTF raster centred on CENTER."""
    ra0, dec0 = CENTER
    centers = []
    for r in range(n_rows):
        dec = dec0 + (r - (n_rows - 1) / 2) * row_arcmin * ARCMIN
        for k in range(n_ra):
            centers.append((ra0 + (k - (n_ra - 1) / 2) * step_arcmin * ARCMIN / math.cos(dec),
                            dec))
    return np.array(centers)


def uniform_table(centers: np.ndarray) -> FieldWeights:
    weights = np.tile(np.array([1.0, 1.3, 0.8]), (len(centers), 1))
    return FieldWeights(np.arange(len(centers)), FREQS, weights)


def direct_beam(table: FieldWeights, centers: np.ndarray, shape, step: int) -> np.ndarray:
    """sum_f sum_nu W PB(r, nu) / sum W at the pixels x = 0, step, ... (exact distances)."""
    nx, ny = shape
    x = np.arange(0, nx, step)
    y = np.arange(0, ny, step)
    lv, mv = np.meshgrid(-(x - nx // 2) * CELL, (y - ny // 2) * CELL, indexing="ij")
    nv = np.sqrt(1 - lv**2 - mv**2)
    ra0, dec0 = CENTER
    dec = np.arcsin(mv * math.cos(dec0) + nv * math.sin(dec0))
    ra = ra0 + np.arctan2(lv, nv * math.cos(dec0) - mv * math.sin(dec0))
    total = np.zeros(lv.shape)
    for f, (fra, fdec) in zip(table.field_ids, centers[table.field_ids], strict=True):
        cos_r = np.sin(dec) * math.sin(fdec) + np.cos(dec) * math.cos(fdec) * np.cos(ra - fra)
        r = np.arccos(np.clip(cos_r, -1, 1))
        for j, nu in enumerate(table.freq_hz):
            total += table.weights[f, j] * vla_primary_beam(r, nu)
    return total / table.weights.sum()


def compute(beam):
    return dask.compute(beam.beam, beam.peak_sensitivity, scheduler="threads")


@pytest.fixture(scope="module")
def uniform():
    centers = raster()
    table = uniform_table(centers)
    beam = mosaic_primary_beam(table, centers, shape=(720, 720), cell_rad=CELL,
                               center_rad=CENTER, step=2, chunks=256)
    pb, peak = compute(beam)
    return centers, table, pb, peak


def test_matches_the_direct_sum_over_fields_and_frequencies(uniform):
    centers, table, pb, peak = uniform
    reference = direct_beam(table, centers, (720, 720), 24)
    assert np.allclose(pb[::24, ::24] * peak, reference, rtol=0, atol=2e-3 * reference.max())
    assert peak == pytest.approx(reference.max(), rel=2e-3)


def test_uniform_raster_is_flat_inside_and_falls_at_the_edge(uniform):
    _, _, pb, _ = uniform
    # the raster spans +-44.7' in RA and +-28.8' in Dec; the image +-36'
    interior = pb[360 - 150:360 + 150, 360 - 100:360 + 100]  # +-15' x +-10'
    assert interior.min() > 0.98 * interior.max()
    assert pb.max() == pytest.approx(1.0)
    edge = pb[360, 360:]          # along Dec, out past the last row at +28.8'
    row_edge = 360 + int(28.8 * 10)
    assert edge[row_edge - 360] < 0.75
    assert np.all(np.diff(edge[row_edge - 360 - 20:]) < 1e-6)


def test_pb_hole_from_down_weighted_fields_is_found_by_qa():
    centers = raster()
    table = uniform_table(centers)
    hole_at = (CENTER[0], CENTER[1] + 5 * ARCMIN)
    sep = np.hypot((centers[:, 0] - hole_at[0]) * math.cos(hole_at[1]),
                   centers[:, 1] - hole_at[1])
    low = {int(f): 1e-4 for f in np.flatnonzero(sep < 13 * ARCMIN)}
    beam = mosaic_primary_beam(table.scaled(low), centers, shape=(720, 720), cell_rad=CELL,
                               center_rad=CENTER, step=2, chunks=256)
    pb, _ = compute(beam)
    hx, hy = 360, 360 + 50
    assert pb[hx, hy] < 0.2 < pb[360, 360 - 150]
    config = QAConfig().detectors
    config = dataclasses.replace(config, pb_holes=dataclasses.replace(
        config.pb_holes, require_artifacts=False))
    images = _images(pb)
    result = detect_pb_holes(images, config)
    assert result.detected
    assert any(abs(loc.x - hx) < 30 and abs(loc.y - hy) < 30 for loc in result.locations)
    assert not detect_pb_holes(_images(compute(mosaic_primary_beam(
        table, centers, shape=(720, 720), cell_rad=CELL, center_rad=CENTER, step=2,
        chunks=256))[0]), config).detected


def test_two_over_weighted_fields_raise_the_high_weights_flag(uniform):
    centers, table, pb_uniform, _ = uniform
    middle = int(np.argmin(np.hypot(centers[:, 0] - CENTER[0], centers[:, 1] - CENTER[1])))
    beam = mosaic_primary_beam(table.scaled({middle: 40.0, middle + 1: 40.0}), centers,
                               shape=(720, 720), cell_rad=CELL, center_rad=CENTER, step=2,
                               chunks=256)
    pb, _ = compute(beam)
    config = QAConfig().detectors
    assert detect_high_weights(_images(pb), config).detected
    assert not detect_high_weights(_images(pb_uniform), config).detected


def _images(pb: np.ndarray) -> QAImages:
    plane = xr.DataArray(pb, dims=("l", "m"))
    rng = np.random.default_rng(3)
    noise = xr.DataArray(rng.normal(0, 1e-4, pb.shape).astype(np.float32), dims=("l", "m"))
    return QAImages(sky=noise, residual=noise, rms=None, pb=plane, cell_arcsec=6.0,
                    restoring_beam={"major_arcsec": 12.0, "minor_arcsec": 12.0, "pa_deg": 0.0},
                    subimage=(60, 660, 60, 660))


def _relative(table, centers, parts):
    return dask.compute(*relative_beams(table, centers, parts, shape=(720, 720),
                                        cell_rad=CELL, center_rad=CENTER, step=4, chunks=256),
                        scheduler="threads")


def _share_weighted_mean(table, parts, factors):
    return sum(p.weights.sum() / table.weights.sum() * f
               for p, f in zip(parts, factors, strict=True))


def test_relative_beams_average_to_one_and_follow_frequency(uniform):
    centers, table, _, _ = uniform
    parts = [table.at_frequencies([f]) for f in FREQS]
    factors = _relative(table, centers, parts)
    inside = np.s_[200:520, 200:520]
    assert np.allclose(_share_weighted_mean(table, parts, factors)[inside], 1.0, atol=1e-6)
    # the low frequencies see more of the sky: their beams are wider
    assert factors[0][inside].mean() > 1.0 > factors[2][inside].mean()


def test_relative_beams_of_pointing_groups(uniform):
    """Frequency x field parts: the factors still average to 1, and each pointing group's
    factor is largest on its own fields' side of the raster."""
    centers, table, _, _ = uniform
    east = table.field_ids[centers[table.field_ids, 0] > CENTER[0]]
    west = np.setdiff1d(table.field_ids, east)
    parts = [table.at_frequencies([f]).at_fields(g) for f in FREQS for g in (east, west)]
    parts.append(FieldWeights(np.array([], dtype=np.int64), table.freq_hz,
                              np.zeros((0, table.freq_hz.size))))
    factors = _relative(table, centers, parts)
    inside = np.s_[200:520, 200:520]
    assert np.allclose(_share_weighted_mean(table, parts, factors)[inside], 1.0, atol=1e-6)
    assert np.all(factors[-1] == 1.0)
    # l (RA) decreases along x: east is at small x
    assert factors[0][200:300, 360].mean() > 1.0 > factors[0][420:520, 360].mean()
    assert factors[1][420:520, 360].mean() > 1.0 > factors[1][200:300, 360].mean()


def test_field_selection_and_merging():
    centers = raster(n_ra=5, n_rows=1)
    far = np.array([[CENTER[0] + math.radians(3.0), CENTER[1]]])
    chosen, nearest = fields_reaching(np.vstack([centers, far]), CENTER, 10 * ARCMIN, 2.0e9)
    assert chosen.tolist() == list(range(5))
    assert nearest == pytest.approx(0.0, abs=1e-9)
    assert null_radius_rad(2.0e9) > null_radius_rad(4.0e9)
    a = FieldWeights(np.array([0, 2]), np.array([1e9, 2e9]), np.ones((2, 2)))
    b = FieldWeights(np.array([2, 5]), np.array([2e9]), np.full((2, 1), 3.0))
    merged = merge_field_weights(a, None, b)
    assert merged.field_ids.tolist() == [0, 2, 5]
    assert merged.weights.tolist() == [[1, 1], [1, 4], [0, 3]]
    assert merged.at_frequencies([2e9]).weights.tolist() == [[1], [4], [3]]


def test_node_interpolation_is_exact_on_nodes_and_linear_between():
    nodes = np.add.outer(np.arange(node_count(50, 7)) * 2.0, np.arange(node_count(40, 7)) * 3.0)
    image = interpolate_nodes(nodes, (50, 40), 7, chunks=16, dtype=np.float64).compute()
    x, y = np.meshgrid(np.arange(50), np.arange(40), indexing="ij")
    assert np.allclose(image, 2.0 * x / 7 + 3.0 * y / 7)
