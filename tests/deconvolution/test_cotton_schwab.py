"""Cotton-Schwab CLEAN end to end on simulated Measurement Sets.

Truth is the simulator's sky: apparent flux = flux x the primary beam averaged over the channels
(equal weights per channel), positions from the image's own WCS. Noise-free point sources are
placed at pixel centres so that the restored peak is the flux; the extended source is a Gaussian.
"""

from __future__ import annotations

import dask
import numpy as np
import pandas as pd
import pytest
from astropy.wcs import WCS

from vlassdask.deconvolution.config import CleanConfig
from vlassdask.deconvolution.major_cycle import STOP_CODES, cotton_schwab
from vlassdask.errors import ConfigError, InputError
from vlassdask.imaging.config import ImagingConfig
from vlassdask.imaging.imaging_operator import ImagingOperator
from vlassdask.imaging.primary_beam import vla_primary_beam
from vlassdask.io.image_schema import celestial_wcs
from vlassdask.io.ms_read import open_measurement_set
from vlassdask.products.clean import clean_image
from vlassdask.simulate import SkyModel
from vlassdask.testing.ms import make_test_ms

RA0, DEC0 = 150.0, 34.0
N, CELL = 256, 0.4
IMAGING = ImagingConfig(imsize=(N, N), cell_arcsec=CELL, weighting="briggs", robust=1.0,
                        accumulators=2, row_chunks=4000)
#: point sources: pixel offset (dx, dy) from the centre and flux (Jy)
POINTS = [((0, 0), 0.5), ((-30, 12), 0.2), ((17, -25), 0.1)]


def _grid_wcs() -> WCS:
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---SIN", "DEC--SIN"]
    wcs.wcs.crval = [RA0, DEC0]
    wcs.wcs.crpix = [N // 2 + 1, N // 2 + 1]
    wcs.wcs.cdelt = [-CELL / 3600, CELL / 3600]
    return wcs


def _sky(rows: list[dict]) -> SkyModel:
    defaults = {"spectral_index": 0.0, "major_arcsec": 0.0, "minor_arcsec": 0.0, "pa_deg": 0.0,
                "pol_fraction": 0.0, "pol_angle_deg": 0.0}
    return SkyModel(pd.DataFrame([{**defaults, **r} for r in rows]))


def _point_rows() -> list[dict]:
    wcs = _grid_wcs()
    rows = []
    for (dx, dy), flux in POINTS:
        ra, dec = wcs.pixel_to_world_values(N // 2 + dx, N // 2 + dy)
        rows.append({"ra_deg": float(ra), "dec_deg": float(dec), "flux_jy": flux})
    return rows


def _apparent(ms_datasets, ra_deg: float, dec_deg: float, flux: float) -> float:
    """Flux times the primary beam, averaged over the channels (all weighted equally)."""
    freqs = np.concatenate([ds.chan_freq.values for ds in ms_datasets])
    ra, dec, ra0, dec0 = np.radians([ra_deg, dec_deg, RA0, DEC0])
    cos_sep = np.sin(dec) * np.sin(dec0) + np.cos(dec) * np.cos(dec0) * np.cos(ra - ra0)
    return flux * float(vla_primary_beam(np.arccos(min(cos_sep, 1.0)), freqs).mean())


@pytest.fixture(scope="module")
def point_vis(tmp_path_factory):
    ms = make_test_ms(tmp_path_factory.mktemp("points"), name="points.ms", sky=_sky(_point_rows()))
    return open_measurement_set(ms, row_chunks=IMAGING.row_chunks)


@pytest.fixture(scope="module")
def point_operator(point_vis):
    with dask.config.set(scheduler="threads"):
        yield ImagingOperator.build(point_vis.datasets, IMAGING,
                                    weight_column=point_vis.weight_column)


def _peak_position(image: np.ndarray, x: int, y: int) -> tuple[float, float]:
    """Sub-pixel peak near (x, y) by a parabola through the maximum and its neighbours."""
    box = image[x - 3:x + 4, y - 3:y + 4]
    i, j = np.unravel_index(np.argmax(box), box.shape)
    px, py = x - 3 + i, y - 3 + j

    def vertex(a, b, c):
        return 0.5 * (a - c) / (a - 2 * b + c)

    return (px + vertex(image[px - 1, py], image[px, py], image[px + 1, py]),
            py + vertex(image[px, py - 1], image[px, py], image[px, py + 1]))


@pytest.mark.parametrize("deconvolver", ["hogbom", "clark", "multiscale"])
def test_point_sources_flux_and_position(point_vis, deconvolver):
    clean = CleanConfig(deconvolver=deconvolver, niter=3000, threshold_jy=2e-4,
                        scales=(0, 3, 8) if deconvolver == "multiscale" else (0,))
    with dask.config.set(scheduler="threads"):
        ds = clean_image(point_vis.datasets, IMAGING, clean, weight_column=point_vis.weight_column)
    assert ds.attrs["stop_code"] in (1, 2)
    wcs = celestial_wcs(ds)
    restored = ds.SKY.values[0, 0, 0]
    model = ds.MODEL.values[0, 0, 0]
    for row in _point_rows():
        truth = _apparent(point_vis.datasets, row["ra_deg"], row["dec_deg"], row["flux_jy"])
        x, y = (float(v) for v in wcs.world_to_pixel_values(row["ra_deg"], row["dec_deg"]))
        xi, yi = round(x), round(y)
        assert restored[xi, yi] == pytest.approx(truth, rel=0.01)
        assert model[xi - 6:xi + 7, yi - 6:yi + 7].sum() == pytest.approx(truth, rel=0.01)
        px, py = _peak_position(restored, xi, yi)
        assert np.hypot(px - x, py - y) * CELL <= 0.05


def test_extended_gaussian_flux_with_multiscale(tmp_path):
    source = {"ra_deg": RA0, "dec_deg": DEC0, "flux_jy": 0.3, "major_arcsec": 8.0,
              "minor_arcsec": 5.0, "pa_deg": 30.0}
    ms = make_test_ms(tmp_path, name="gauss.ms", sky=_sky([source]))
    vis = open_measurement_set(ms, row_chunks=IMAGING.row_chunks)
    clean = CleanConfig(deconvolver="multiscale", niter=2000, scales=(0, 4, 10),
                        threshold_jy=5e-4)
    with dask.config.set(scheduler="threads"):
        ds = clean_image(vis.datasets, IMAGING, clean, weight_column=vis.weight_column)
    truth = _apparent(vis.datasets, RA0, DEC0, 0.3)
    assert float(ds.MODEL.sum()) == pytest.approx(truth, rel=0.03)
    beam = ds.attrs["restoring_beam"]
    beam_pixels = np.pi * beam["major_arcsec"] * beam["minor_arcsec"] / (4 * np.log(2)) / CELL**2
    assert float(ds.SKY.sum()) / beam_pixels == pytest.approx(truth, rel=0.03)


@pytest.fixture(scope="module")
def noisy_operator(tmp_path_factory):
    sigma = 0.05
    ms = make_test_ms(tmp_path_factory.mktemp("noisy"), name="noisy.ms", noise_sigma_jy=sigma,
                      sky=_sky(_point_rows()), duration_s=9.0, seed=5)
    vis = open_measurement_set(ms, row_chunks=IMAGING.row_chunks)
    config = IMAGING.replace(weighting="natural")
    with dask.config.set(scheduler="threads"):
        yield ImagingOperator.build(vis.datasets, config, weight_column=vis.weight_column)


def test_noisy_residual_reaches_the_thermal_noise(noisy_operator):
    # natural weights w = 1 / sigma^2 per hand: image noise = 1 / sqrt(sum of weights)
    thermal = 1.0 / np.sqrt(noisy_operator.sum_of_weights)
    clean = CleanConfig(niter=5000, cycleniter=500, nsigma=3.0)
    with dask.config.set(scheduler="threads"):
        result = cotton_schwab(noisy_operator, clean)
    assert result.stop_code == 8, result.stop_reason
    assert result.cycles[-1].peak_residual <= 3.0 * result.cycles[-1].rms
    assert np.std(result.residual) == pytest.approx(thermal, rel=0.10)
    assert result.cycles[-1].rms == pytest.approx(thermal, rel=0.10)
    assert result.cycles[0].rms > 1.5 * thermal  # the sources' sidelobes were there before


@pytest.mark.parametrize(("options", "code"), [
    ({"niter": 40}, 1),
    ({"niter": 5000, "threshold_jy": 0.02}, 2),
    ({"niter": 5000, "nsigma": 8.0}, 8),
    ({"niter": 5000, "nmajor": 2}, 9),
])
def test_stop_codes(noisy_operator, options, code):
    with dask.config.set(scheduler="threads"):
        result = cotton_schwab(noisy_operator, CleanConfig(cycleniter=100, **options))
    assert result.stop_code == code, result.stop_reason
    assert result.stop_reason == STOP_CODES[code]
    last = result.cycles[-1]
    if code == 1:
        assert result.iterations == 40
    elif code == 2:
        assert last.peak_residual <= 0.02 < result.cycles[-2].peak_residual
    elif code == 8:
        assert last.peak_residual <= 8.0 * last.rms
    else:
        assert result.major_cycles == 2
    assert [c.major for c in result.cycles] == list(range(len(result.cycles)))


def test_corrupted_psf_diverges_and_says_so(point_operator):
    """A PSF twice too narrow makes each minor cycle over-subtract: the true residual grows."""
    with dask.config.set(scheduler="threads"):
        psf = point_operator.psf()[0].compute().astype(np.float64)
    n = N // 2
    x = np.arange(N) - n
    narrow = psf[np.clip(n + 2 * x, 0, N - 1)][:, np.clip(n + 2 * x, 0, N - 1)]
    clean = CleanConfig(niter=100000, cycleniter=2000, gain=0.5)
    with dask.config.set(scheduler="threads"):
        result = cotton_schwab(point_operator, clean, psf=narrow)
    assert result.diverged and result.stop_code in (5, 6), result.stop_reason
    assert result.major_cycles <= 6  # caught within a few major cycles, never runs on
    peaks = [c.peak_residual for c in result.cycles]
    assert peaks[-1] > clean.divergence_factor * min(peaks[:-1])


def test_mask_limits_components(point_operator):
    mask = np.zeros((N, N), dtype=bool)
    mask[N // 2 - 5:N // 2 + 6, N // 2 - 5:N // 2 + 6] = True  # the central source only
    with dask.config.set(scheduler="threads"):
        result = cotton_schwab(point_operator, CleanConfig(niter=500), mask=mask)
    assert not result.model[~mask].any()
    assert result.model[mask].sum() == pytest.approx(0.5, rel=0.02)


def test_bad_masks_and_options(point_operator):
    with pytest.raises(InputError, match="selects no pixel"):
        cotton_schwab(point_operator, CleanConfig(niter=10), mask=np.zeros((N, N)))
    with pytest.raises(InputError, match="mask"):
        cotton_schwab(point_operator, CleanConfig(niter=10), mask=np.ones((N, N + 2)))
    with pytest.raises(ConfigError, match="scale"):
        cotton_schwab(point_operator, CleanConfig(niter=10, deconvolver="multiscale",
                                                  scales=(0, 4 * N)))
    with pytest.raises(ConfigError, match="niter"):
        CleanConfig(niter=-1)
    for gain in (0.0, 2.0, -0.1, 2.5):
        with pytest.raises(ConfigError, match="gain"):
            CleanConfig(gain=gain)
    with pytest.raises(ConfigError, match="unknown clean option"):
        CleanConfig.from_mapping({"nitre": 10})
    with pytest.raises(ConfigError, match="integer"):
        CleanConfig.from_mapping({"niter": "many"})
