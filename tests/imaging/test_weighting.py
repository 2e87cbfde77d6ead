"""Imaging weights: natural, uniform and Briggs robust weighting, and the Gaussian uv taper.

Uniform weighting is checked against an independent numpy binning of the visibilities on the
density grid (uv cell 1 / field of view, w < 0 counted at (-u, -v)): the imaging weights of every
occupied cell must add up to the same total, so the dask path's sum of weights equals the number
of occupied cells. Briggs weighting must tend to natural for robust +2 and to uniform for robust
-2; a taper must widen the PSF main lobe to at least the taper's FWHM.
"""

from __future__ import annotations

import numpy as np
import pytest
from casacore.tables import table

from vlassdask.cli.main import main
from vlassdask.errors import ConfigError
from vlassdask.imaging.config import ImagingConfig
from vlassdask.imaging.dirty import make_dirty_image
from vlassdask.imaging.weighting import WeightingScheme, imaging_weight_factors
from vlassdask.io.ms_read import open_measurement_set
from vlassdask.testing.ms import make_test_ms

INNER = ["W04", "W08", "W12", "W16", "E04", "E08", "E12", "E16", "N04", "N08", "N12", "N16"]
SPEED_OF_LIGHT = 299_792_458.0
NPIX, CELL_ARCSEC = 128, 2.0
BASE = ImagingConfig(imsize=(NPIX, NPIX), cell_arcsec=CELL_ARCSEC, gridder="2d", row_chunks=400,
                     accumulators=2)


@pytest.fixture(scope="module")
def weighting_ms(tmp_path_factory):
    """12 antennas, 20 integrations, 2 windows x 3 channels: cells with very unequal density."""
    return make_test_ms(tmp_path_factory.mktemp("weighting"), name="weighting.ms",
                        spw_ids=[0, 7], nchan_per_spw=3, antennas=INNER, duration_s=9.0)


@pytest.fixture(scope="module")
def datasets(weighting_ms):
    return open_measurement_set(weighting_ms, row_chunks=BASE.row_chunks).datasets


@pytest.fixture(scope="module")
def psfs(datasets):
    """PSFs (and results) for the weightings compared below, on the threaded scheduler."""
    cases = {"natural": {"weighting": "natural"}, "uniform": {"weighting": "uniform"},
             "briggs+2": {"weighting": "briggs", "robust": 2.0},
             "briggs0": {"weighting": "briggs", "robust": 0.0},
             "briggs-2": {"weighting": "briggs", "robust": -2.0},
             "natural-taper": {"weighting": "natural", "taper_arcsec": 30.0}}
    out = {}
    for name, options in cases.items():
        result = make_dirty_image(datasets, BASE.replace(**options), weight_column="WEIGHT")
        out[name] = (result, result.psf.compute())
    return out


def _stokes_i_weights(ms):
    """Per spectral window: uvw (row, 3), freq (chan,), w1 + w2 (row, chan), from casacore."""
    with table(str(ms), ack=False) as tab:
        uvw, weight = tab.getcol("UVW"), tab.getcol("WEIGHT")
        flag, ddid = tab.getcol("FLAG"), tab.getcol("DATA_DESC_ID")
    with table(f"{ms}::DATA_DESCRIPTION", ack=False) as dd:
        dd_spw = dd.getcol("SPECTRAL_WINDOW_ID")
    with table(f"{ms}::SPECTRAL_WINDOW", ack=False) as spw:
        chan_freq = [spw.getcell("CHAN_FREQ", r) for r in range(spw.nrows())]
    assert not flag.any()
    for d in np.unique(ddid):
        rows = ddid == d
        freq = np.asarray(chan_freq[dd_spw[d]], dtype=np.float64)
        wsum = np.repeat((weight[rows, 0] + weight[rows, 3])[:, None], freq.size, axis=1)
        yield uvw[rows], freq, wsum.astype(np.float32)


def _density_cells(uvw, freq, shape, cell_rad):
    """Flat density-grid index of every visibility (row, chan), binned with numpy."""
    scale = freq[None, :] / SPEED_OF_LIGHT
    sign = np.where(uvw[:, 2] < 0, -1.0, 1.0)[:, None]
    u, v = sign * uvw[:, 0:1] * scale, sign * uvw[:, 1:2] * scale
    iu = np.floor(u * shape[0] * cell_rad + 0.5).astype(int) + shape[0] // 2
    iv = np.floor(v * shape[1] * cell_rad + 0.5).astype(int) + shape[1] // 2
    assert iu.min() >= 0 and iu.max() < shape[0] and iv.min() >= 0 and iv.max() < shape[1]
    return np.ravel_multi_index((iu, iv), shape)


def test_uniform_weights_make_density_flat(weighting_ms, psfs):
    shape = (NPIX, NPIX)
    scheme = WeightingScheme("uniform", 0.0, 0.0, shape, BASE.cell_rad)
    blocks = list(_stokes_i_weights(weighting_ms))
    density = np.zeros(NPIX * NPIX)
    for uvw, freq, wsum in blocks:
        np.add.at(density, _density_cells(uvw, freq, shape, BASE.cell_rad), wsum)
    density = density.reshape(shape)
    imaging = np.zeros(NPIX * NPIX)
    for uvw, freq, wsum in blocks:
        factors = imaging_weight_factors(uvw, freq, wsum, density, scheme, 0.0)
        np.add.at(imaging, _density_cells(uvw, freq, shape, BASE.cell_rad), wsum * factors)
    occupied = density.ravel() > 0
    assert occupied.sum() > 100
    counts = np.bincount(np.concatenate([_density_cells(u, f, shape, BASE.cell_rad).ravel()
                                         for u, f, _ in blocks]))
    assert counts.max() >= 4 * counts[counts > 0].min()  # natural density is far from flat
    np.testing.assert_allclose(imaging[occupied], 1.0, rtol=1e-5)
    assert not imaging[~occupied].any()
    # the dask path grids exactly these weights: one unit of weight per occupied cell
    result, _ = psfs["uniform"]
    assert result.sum_of_weights == pytest.approx(occupied.sum(), rel=1e-5)


def test_briggs_limits(psfs):
    natural, uniform = psfs["natural"][1], psfs["uniform"][1]
    for psf in (natural, uniform, psfs["briggs+2"][1], psfs["briggs-2"][1]):
        assert psf.max() == pytest.approx(1.0, abs=1e-5)
    assert np.abs(natural - uniform).max() > 0.05  # the two limits are far apart
    assert np.abs(psfs["briggs+2"][1] - natural).max() < 1e-2
    assert np.abs(psfs["briggs-2"][1] - uniform).max() < 1e-2
    # robust 0 lies in between
    distance = {name: np.abs(psfs[name][1] - natural).max()
                for name in ("briggs+2", "briggs0", "briggs-2")}
    assert distance["briggs+2"] < distance["briggs0"] < distance["briggs-2"]


def _half_max_diameter(line: np.ndarray) -> float:
    """Width (pixels) at half maximum of a cut through the PSF centre (index NPIX // 2)."""
    centre = NPIX // 2
    radii = []
    for side in (line[centre:], line[centre::-1]):
        k = int(np.argmax(side < 0.5))
        radii.append(k - 1 + (side[k - 1] - 0.5) / (side[k - 1] - side[k]))
    return sum(radii)


def test_taper_widens_main_lobe(psfs):
    plain, tapered = psfs["natural"][1], psfs["natural-taper"][1]
    c = NPIX // 2
    for axis in (0, 1):
        cut = (slice(None), c) if axis == 0 else (c, slice(None))
        width = _half_max_diameter(plain[cut]) * CELL_ARCSEC
        width_tapered = _half_max_diameter(tapered[cut]) * CELL_ARCSEC
        # a Gaussian taper convolves the PSF with a Gaussian of the taper's FWHM (30")
        assert width_tapered > 1.5 * width
        assert 0.95 * 30.0 < width_tapered < 1.2 * np.hypot(30.0, width)
    assert (tapered > 0.5).sum() > 3 * (plain > 0.5).sum()
    assert psfs["natural-taper"][0].sum_of_weights < psfs["natural"][0].sum_of_weights


@pytest.mark.parametrize("weighting", ["superuniform", "Natural", ""])
def test_unknown_weighting(weighting, tmp_path, capsys):
    with pytest.raises(ConfigError, match="weighting must be one of"):
        ImagingConfig(weighting=weighting)
    with pytest.raises(ConfigError, match="weighting must be one of"):
        ImagingConfig.from_mapping({"weighting": weighting})
    rc = main(["image", "--ms", str(tmp_path / "any.ms"), "--out", str(tmp_path / "x.zarr"),
               "--weighting", weighting, "--scheduler", "threads"])
    assert rc == 2
    assert "weighting must be one of" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
