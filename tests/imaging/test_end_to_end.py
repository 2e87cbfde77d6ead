"""Measurement Set -> dask graph -> Zarr store -> FITS, checked against a direct DFT of the MS."""

from __future__ import annotations

import math

import numpy as np
import pytest
import xarray as xr
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.wcs import WCS
from casacore.tables import table

from vlassdask.imaging.config import ImagingConfig
from vlassdask.io.atomic import is_complete
from vlassdask.kernels.dft import dft_dirty_image
from vlassdask.products.dirty import make_dirty_product
from vlassdask.testing.ms import make_test_ms, sample_sky

from .conftest import INNER_STATIONS, ZD60


@pytest.fixture(scope="module")
def product(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("e2e")
    ms = make_test_ms(tmp, name="sky.ms", **ZD60, duration_s=9.0, spw_ids=[0, 8],
                      nchan_per_spw=3, antennas=list(INNER_STATIONS), noise_sigma_jy=0.05,
                      flag_fraction=0.1, sky=sample_sky(ZD60["ra_deg"], ZD60["dec_deg"]))
    config = ImagingConfig(imsize=(384, 384), cell_arcsec=2.0, weighting="natural",
                           row_chunks=700, accumulators=2)
    made = make_dirty_product(ms, tmp / "dirty.zarr", config, fits=tmp / "dirty.fits",
                              preview=tmp / "dirty.png", progress=False)
    return ms, made, config


def _ms_stokes_i(ms):
    with table(str(ms), ack=False) as tab:
        uvw, data = tab.getcol("UVW"), tab.getcol("DATA")
        flag, weight = tab.getcol("FLAG"), tab.getcol("WEIGHT")
        ddid = tab.getcol("DATA_DESC_ID")
    with table(f"{ms}::SPECTRAL_WINDOW", ack=False) as spw:
        freqs = [spw.getcell("CHAN_FREQ", r) for r in range(spw.nrows())]
    ok = ~(flag[..., 0] | flag[..., 3])
    w = (weight[:, 0] + weight[:, 3])[:, None] * ok
    vis = (weight[:, 0:1] * data[..., 0] + weight[:, 3:4] * data[..., 3]) / (w + (w == 0))
    return uvw, np.stack([freqs[d] for d in ddid]), vis, w


def test_dirty_image_of_the_ms_equals_its_direct_dft(product):
    ms, made, config = product
    ds = xr.open_zarr(made.store)
    sky = ds.SKY.values[0, 0, 0]
    uvw, freq_rows, vis, w = _ms_stokes_i(ms)
    n, cell = config.imsize[0], config.cell_rad
    rng = np.random.default_rng(0)
    x, y = rng.integers(0, n, 400), rng.integers(0, n, 400)
    px, py = np.unravel_index(np.argmax(sky), sky.shape)
    x, y = np.append(x, px), np.append(y, py)
    l, m = -(x - n // 2) * cell, (y - n // 2) * cell
    ref = np.zeros(x.size)
    for f in np.unique(freq_rows, axis=0):  # rows of one spw share their channel frequencies
        rows = np.all(freq_rows == f, axis=1)
        ref += dft_dirty_image(uvw[rows], f, vis[rows], w[rows], l, m) * w[rows].sum()
    ref /= w.sum()
    assert np.abs(sky[x, y] - ref).max() <= 1e-3 * np.abs(ref).max()
    assert float(ds.SUM_OF_WEIGHTS.values.ravel()[0]) == pytest.approx(w.sum(), rel=1e-6)
    psf = ds.POINT_SPREAD_FUNCTION.values[0, 0, 0]
    assert psf[n // 2, n // 2] == pytest.approx(1.0, abs=1e-5)
    assert is_complete(made.store)
    assert made.preview.is_file() and made.preview.stat().st_size > 10_000


def test_fits_export_puts_the_brightest_source_at_its_sky_position(product):
    _, made, _ = product
    (path,) = made.fits
    with fits.open(path) as hdul:
        data, header = hdul[0].data[0, 0], hdul[0].header
    wcs = WCS(header).celestial
    yy, xx = np.unravel_index(np.nanargmax(data), data.shape)
    found = wcs.pixel_to_world(xx, yy)
    src = sample_sky(ZD60["ra_deg"], ZD60["dec_deg"]).table.iloc[0]
    true = SkyCoord(src.ra_deg, src.dec_deg, unit="deg")
    assert found.separation(true).arcsec < 2.0  # one pixel
    center = wcs.pixel_to_world(header["CRPIX1"] - 1, header["CRPIX2"] - 1)
    expected = SkyCoord(ZD60["ra_deg"], ZD60["dec_deg"], unit="deg", frame="fk5")
    assert center.separation(expected).arcsec < 1e-6  # crpix is the phase centre
    assert header["CDELT1"] < 0 < header["CDELT2"]
    assert math.isclose(-header["CDELT1"] * 3600, 2.0)
