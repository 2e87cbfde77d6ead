"""On-the-fly mosaicking data: every FIELD has its own phase centre; imaging re-phases them all to
the image centre. A point source must land at its true sky position with the flux the direct
DFT of the re-phased data gives."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from casacore.tables import table

from vlassdask.imaging.config import ImagingConfig
from vlassdask.imaging.visibilities import rotate_phase_center
from vlassdask.kernels.dft import dft_dirty_image
from vlassdask.products.dirty import make_dirty_product
from vlassdask.simulate.sky import SkyModel
from vlassdask.testing.ms import make_test_ms

from .conftest import INNER_STATIONS

RA0, DEC0 = 150.0, 30.0
SOURCE = (150.03, 30.02)  # ~1.6' E, 1.2' N of the raster centre


@pytest.fixture(scope="module")
def otf(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("otf")
    sky = SkyModel(pd.DataFrame({"ra_deg": [SOURCE[0]], "dec_deg": [SOURCE[1]],
                                 "flux_jy": [1.0]}))
    ms = make_test_ms(tmp, name="otf.ms", sky=sky, mode="otf", ra_deg=RA0, dec_deg=DEC0,
                      duration_s=7.2, spw_ids=[7], nchan_per_spw=2,
                      antennas=list(INNER_STATIONS), noise_sigma_jy=0.0)
    config = ImagingConfig(imsize=(256, 256), cell_arcsec=2.0, weighting="natural",
                           phase_center_deg=(RA0, DEC0), row_chunks=500)
    made = make_dirty_product(ms, tmp / "otf.zarr", config, progress=False)
    return ms, made, config


def test_otf_ms_has_one_field_per_phase_centre(otf):
    ms, _, _ = otf
    with table(f"{ms}::FIELD", ack=False) as field:
        assert field.nrows() >= 4


def test_every_field_is_rephased_to_the_image_centre(otf):
    ms, made, config = otf
    sky = xr.open_zarr(made.store).SKY.values[0, 0, 0]
    n, cell = config.imsize[0], config.cell_rad
    ra, dec = np.radians(SOURCE)
    ra0, dec0 = np.radians((RA0, DEC0))
    l_true = math.cos(dec) * math.sin(ra - ra0)
    m_true = math.sin(dec) * math.cos(dec0) - math.cos(dec) * math.sin(dec0) * math.cos(ra - ra0)
    px, py = np.unravel_index(np.argmax(sky), sky.shape)
    assert abs(-(px - n // 2) * cell - l_true) <= cell
    assert abs((py - n // 2) * cell - m_true) <= cell
    # independent reference: re-phase each field's rows with numpy/casacore and DFT them
    with table(str(ms), ack=False) as tab:
        uvw, data, fid = tab.getcol("UVW"), tab.getcol("DATA"), tab.getcol("FIELD_ID")
        weight = tab.getcol("WEIGHT")
    with table(f"{ms}::FIELD", ack=False) as field:
        centres = field.getcol("PHASE_DIR")[:, 0, :]
    with table(f"{ms}::SPECTRAL_WINDOW", ack=False) as spw:
        freq = spw.getcell("CHAN_FREQ", 0)
    vis = (weight[:, 0:1] * data[..., 0] + weight[:, 3:4] * data[..., 3]) / \
        (weight[:, 0:1] + weight[:, 3:4])
    new_uvw, new_vis = np.empty_like(uvw), np.empty_like(vis)
    for f in np.unique(fid):
        rows = fid == f
        new_uvw[rows], new_vis[rows] = rotate_phase_center(uvw[rows], vis[rows], freq,
                                                           tuple(centres[f]), (ra0, dec0))
    wts = np.broadcast_to(weight[:, 0:1] + weight[:, 3:4], vis.shape)
    ref = dft_dirty_image(new_uvw, freq, new_vis, wts, np.array([-(px - n // 2) * cell]),
                          np.array([(py - n // 2) * cell]))
    assert sky[px, py] == pytest.approx(ref[0], rel=1e-3)
    assert 0.5 < sky[px, py] < 1.01  # primary-beam attenuated 1 Jy source
