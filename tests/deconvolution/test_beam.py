"""Restoring-beam fit: accuracy and the CASA position-angle convention."""

import numpy as np
import pytest

from vlassdask.deconvolution.beam import Beam, fit_restoring_beam
from vlassdask.deconvolution.restore import gaussian_beam_image
from vlassdask.errors import ConfigError, InputError

CELL = 0.5


@pytest.mark.parametrize("pa", [0.0, 30.0, -60.0, 89.0, 90.0])
@pytest.mark.parametrize(("major_pix", "ratio"), [(4.0, 1.5), (6.0, 2.5), (5.0, 2.0)])
def test_fit_analytic_beam(pa, major_pix, ratio):
    truth = Beam(major_pix * CELL, major_pix * CELL / ratio, pa)
    fitted = fit_restoring_beam(gaussian_beam_image((96, 96), truth, CELL), CELL)
    assert fitted.major_arcsec == pytest.approx(truth.major_arcsec, rel=0.01)
    assert fitted.minor_arcsec == pytest.approx(truth.minor_arcsec, rel=0.01)
    assert -90.0 < fitted.pa_deg <= 90.0
    delta = (fitted.pa_deg - pa + 90.0) % 180.0 - 90.0
    assert abs(delta) < 1.0


def _elongated_psf(direction):
    """A PSF elongated along pixel direction (dx, dy)."""
    d = np.asarray(direction, float) / np.hypot(*direction)
    x = (np.arange(64) - 32)[:, None]
    y = (np.arange(64) - 32)[None, :]
    along = x * d[0] + y * d[1]
    across = -x * d[1] + y * d[0]
    return np.exp(-(along**2 / (2 * 4.0**2) + across**2 / (2 * 2.0**2)))


def test_pa_convention():
    assert fit_restoring_beam(_elongated_psf((0, 1)), 1.0).pa_deg == pytest.approx(0.0, abs=1e-6)
    assert fit_restoring_beam(_elongated_psf((-1, 1)), 1.0).pa_deg == pytest.approx(45.0)
    assert fit_restoring_beam(_elongated_psf((1, 1)), 1.0).pa_deg == pytest.approx(-45.0)
    assert fit_restoring_beam(_elongated_psf((1, 0)), 1.0).pa_deg == pytest.approx(90.0)


def test_beam_image_orientation():
    image = gaussian_beam_image((64, 64), Beam(8.0, 3.0, 45.0), 1.0)
    assert image[32, 32] == 1.0
    assert image[32 - 2, 32 + 2] > 0.5 > image[32 + 2, 32 + 2]


def test_to_dict():
    assert Beam(2.5, 2.0, 10.0).to_dict() == {"major_arcsec": 2.5, "minor_arcsec": 2.0,
                                              "pa_deg": 10.0}  # fmt: skip


def test_psfcutoff_ignores_sidelobes():
    psf = _elongated_psf((0, 1)) + 0.3 * np.roll(_elongated_psf((0, 1)), 20, axis=0)
    fitted = fit_restoring_beam(psf, 1.0)
    assert fitted.major_arcsec == pytest.approx(4.0 * np.sqrt(8 * np.log(2)), rel=0.01)


def test_bad_psfs():
    with pytest.raises(InputError, match="positive peak"):
        fit_restoring_beam(-_elongated_psf((0, 1)), 1.0)
    shifted = np.roll(_elongated_psf((0, 1)), 3, axis=0)
    with pytest.raises(InputError, match="positive peak"):
        fit_restoring_beam(shifted, 1.0)
    tiny = np.zeros((32, 32))
    tiny[16, 16] = 1.0
    tiny[17, 16] = 0.4
    with pytest.raises(InputError, match="smaller cell"):
        fit_restoring_beam(tiny, 10.0)
    with pytest.raises(ConfigError, match="psfcutoff"):
        fit_restoring_beam(_elongated_psf((0, 1)), 1.0, psfcutoff=1.5)
    with pytest.raises(ConfigError, match="cell"):
        fit_restoring_beam(_elongated_psf((0, 1)), 0.0)
