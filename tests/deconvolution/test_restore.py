"""Restoration: flux scale, beam area and no wrap-around."""

import numpy as np
import pytest

from vlassdask.deconvolution.beam import Beam
from vlassdask.deconvolution.restore import beam_area_pixels, gaussian_beam_image, restore
from vlassdask.errors import InputError

CELL = 0.6
BEAM = Beam(3.0, 2.1, 30.0)


def test_point_restores_to_peak_and_flux():
    model = np.zeros((96, 96))
    model[40, 55] = 1.0
    restored = restore(model, np.zeros_like(model), BEAM, CELL)
    assert restored[40, 55] == pytest.approx(1.0, rel=1e-9)
    assert restored.max() == pytest.approx(1.0, rel=1e-9)
    assert restored.sum() / beam_area_pixels(BEAM, CELL) == pytest.approx(1.0, rel=1e-3)


def test_residual_added_and_shape_checked():
    residual = np.random.default_rng(1).normal(size=(64, 64))
    np.testing.assert_allclose(restore(np.zeros((64, 64)), residual, BEAM, CELL), residual,
                               atol=1e-12)  # fmt: skip
    with pytest.raises(InputError, match="same shape"):
        restore(np.zeros((64, 64)), np.zeros((64, 32)), BEAM, CELL)


def test_no_wrap_around():
    model = np.zeros((64, 64))
    model[0, 0] = 2.0
    restored = restore(model, np.zeros_like(model), BEAM, CELL)
    assert restored[0, 0] == pytest.approx(2.0)
    assert np.abs(restored[-8:, :]).max() < 1e-12
    assert np.abs(restored[:, -8:]).max() < 1e-12


def test_beam_area_matches_image_sum():
    image = gaussian_beam_image((128, 128), BEAM, CELL)
    assert image.sum() == pytest.approx(beam_area_pixels(BEAM, CELL), rel=1e-4)


def test_bad_beam():
    with pytest.raises(InputError, match="invalid beam"):
        gaussian_beam_image((8, 8), Beam(1.0, 2.0, 0.0), 1.0)
