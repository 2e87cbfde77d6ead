"""Artifacts made in the visibilities, imaged with the imaging core, found by the detectors.

* one corrupted baseline (a constant offset, dask-ms) -> stripes: the bad-baseline detector
  fires on the dirty image at that baseline's (u, v) and stays quiet before the corruption;
* a burst of noise during a few seconds of an on-the-fly observation -> an RFI patch: the
  fields observed then are noisier, and the linear mosaic of the fields' dirty images shows
  the patch where they lie.

The Measurement Sets hold noise only, so a dirty image is also its residual.
"""

from __future__ import annotations

import math

import dask
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from casacore.tables import table

from vlassdask.imaging.config import ImagingConfig
from vlassdask.imaging.dirty import make_dirty_image
from vlassdask.imaging.primary_beam import vla_primary_beam
from vlassdask.io.ms_read import open_measurement_set
from vlassdask.qa.detectors import DetectorConfig, detect_bad_baselines, detect_rfi
from vlassdask.qa.types import QAImages
from vlassdask.testing.ms import make_test_ms
from vlassdask.testing.ms_corruption import add_noise_burst, corrupt_baseline
from vlassdask.testing.synthetic_field import box_rms

NO_SOURCES = pd.DataFrame({"ra_deg": [150.0], "dec_deg": [34.0], "flux_jy": [0.0]})
INNER = ("W04", "W08", "W12", "W16", "E04", "E08", "E12", "E16", "N04", "N08", "N12", "N16")
CONFIG = DetectorConfig()
ARCSEC = math.pi / (180 * 3600)


def _plane(values: np.ndarray) -> xr.DataArray:
    return xr.DataArray(values.astype(np.float32), dims=("l", "m"))


def _dirty(ms, imsize, cell, *, psf: bool = False, **options):
    """The dirty image (and, with ``psf``, the PSF) of ``ms``."""
    vis = open_measurement_set(ms, fields=options.get("fields"))
    config = ImagingConfig(imsize=imsize, cell_arcsec=cell, weighting="natural",
                           make_psf=psf, **options)  # fmt: skip
    result = make_dirty_image(vis.datasets, config, weight_column=vis.weight_column)
    if psf:
        return tuple(np.asarray(a) for a in dask.compute(result.dirty, result.psf))
    return np.asarray(result.dirty.compute())


@pytest.mark.parametrize("with_psf", [False, True])
def test_corrupted_baseline_makes_stripes_at_its_uv(tmp_path, with_psf):
    """Found with the ring background alone and with the PSF's noise spectrum."""
    ms = make_test_ms(tmp_path, sky=NO_SOURCES, spw_ids=list(range(16)), nchan_per_spw=2,
                      noise_sigma_jy=1.0, duration_s=9.0)  # fmt: skip

    def assess():
        image, psf = _dirty(ms, (512, 512), 1.0, psf=True)
        images = QAImages(sky=_plane(image), residual=_plane(image), rms=None, pb=None,
                          cell_arcsec=1.0, restoring_beam=None, subimage=(0, 512, 0, 512),
                          psf=_plane(psf) if with_psf else None)  # fmt: skip
        return detect_bad_baselines(images, CONFIG)

    before = assess()
    assert not before.detected
    assert before.details["psf_whitened"] == with_psf
    rows = corrupt_baseline(ms, 3, 17, offset_jy=2.0 + 1.0j)
    assert rows == 16 * 20  # 20 integrations in each of 16 spectral windows
    after = assess()
    assert after.detected and after.score > (5 if with_psf else 10) * before.score
    with table(str(ms), ack=False) as main:
        select = (main.getcol("ANTENNA1") == 3) & (main.getcol("ANTENNA2") == 17)
        uvw = main.getcol("UVW")[select].mean(axis=0)
    found = np.asarray(after.details["uv_lambda"])
    baseline = uvw[:2] / np.linalg.norm(uvw[:2])
    # the same direction (either sign) and a length within the band, 1.965-4.013 GHz
    assert abs(found @ baseline) / np.linalg.norm(found) > 0.999
    wavelengths = np.linalg.norm(found) / np.linalg.norm(uvw[:2])  # = frequency / c
    assert 1.9e9 < wavelengths * 299_792_458.0 < 4.1e9


@pytest.fixture(scope="module")
def otf_ms(tmp_path_factory):
    """Two 18 s scan rows (40 phase centres 2.98' apart, rows 7.2' apart), inner array."""
    return make_test_ms(tmp_path_factory.mktemp("otf"), sky=NO_SOURCES, mode="otf", otf_rows=2,
                        duration_s=36.0, spw_ids=[0, 5, 10, 15], nchan_per_spw=1,
                        noise_sigma_jy=1.0, antennas=list(INNER))  # fmt: skip


def _linear_mosaic(ms, shape=(512, 256), cell=8.0, groups=8):
    """Dirty images of consecutive groups of fields, combined as sum(PB I) / sum(PB^2)."""
    centers = np.asarray(open_measurement_set(ms).datasets[0].attrs["field_phase_centers_rad"])
    ra0, dec0 = math.radians(150.0), math.radians(34.0)
    l = -(np.arange(shape[0]) - shape[0] // 2)[:, None] * cell * ARCSEC
    m = (np.arange(shape[1]) - shape[1] // 2)[None, :] * cell * ARCSEC
    numerator, weight = np.zeros(shape), np.zeros(shape)
    for fields in np.array_split(np.arange(len(centers)), groups):
        image = _dirty(ms, shape, cell, fields=tuple(int(f) for f in fields),
                       phase_center_deg=(150.0, 34.0))  # fmt: skip
        offsets = [((ra - ra0) * math.cos(dec0), dec - dec0) for ra, dec in centers[fields]]
        pb = np.mean([vla_primary_beam(np.hypot(l - lf, m - mf), 3e9) for lf, mf in offsets],
                     axis=0)  # fmt: skip
        numerator += pb * image
        weight += pb**2
    pb = np.sqrt(weight / weight.max())
    with np.errstate(invalid="ignore", divide="ignore"):
        mosaic = numerator / weight
    mosaic[pb < 0.2] = np.nan
    flat = mosaic * pb
    return QAImages(sky=_plane(mosaic), residual=_plane(flat), rms=_plane(box_rms(mosaic, 8)),
                    pb=_plane(pb), cell_arcsec=cell, restoring_beam=None,
                    subimage=(0, shape[0], 0, shape[1]))  # fmt: skip


def test_noise_burst_makes_an_rfi_patch_where_the_fields_were(otf_ms):
    before = detect_rfi(_linear_mosaic(otf_ms), CONFIG)
    assert not before.detected
    # 4.5-9 s: phase centres 5-9 of the first row (0.9 s each)
    rows = add_noise_burst(otf_ms, start_s=4.5, end_s=9.0, sigma_jy=4.0, seed=3)
    assert rows > 0
    images = _linear_mosaic(otf_ms)
    after = detect_rfi(images, CONFIG)
    assert after.detected and after.score > 2.0
    centers = np.asarray(open_measurement_set(otf_ms).datasets[0].attrs[
        "field_phase_centers_rad"])[5:10]  # fmt: skip
    x = 256 - (centers[:, 0].mean() - math.radians(150.0)) * math.cos(math.radians(34.0)) \
        / (8.0 * ARCSEC)
    location = after.locations[0]
    assert abs(location.x - x) < location.radius_pixels
    assert location.y < 128  # the first row lies below the mosaic's centre line
