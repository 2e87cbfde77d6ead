"""Field-relative w (``w_reference: field``): each field keeps its own w-term, the rest of the
re-phasing to the image centre is exact to second order in the offsets."""

from __future__ import annotations

import math

import numpy as np
import pytest

from vlassdask.errors import ConfigError
from vlassdask.imaging.config import ImagingConfig
from vlassdask.imaging.visibilities import from_field_relative_w, to_field_relative_w, uvw_basis
from vlassdask.kernels.constants import SPEED_OF_LIGHT
from vlassdask.survey.coordinates import sin_offsets

IMAGE = (math.radians(150.0), math.radians(20.0))
FIELD = (math.radians(150.0 + 0.2 / math.cos(math.radians(20.0))), math.radians(19.9))
SOURCE = (math.radians(150.05), math.radians(20.03))
FREQ = np.array([2.0e9, 3.0e9, 4.0e9])


def _uvw(seed: int = 1) -> np.ndarray:
    """Baselines about FIELD with a strong w (a low-elevation snapshot)."""
    rng = np.random.default_rng(seed)
    uv = rng.uniform(-20e3, 20e3, (50, 2))
    return np.column_stack([uv, 1.2 * uv[:, 0] + 0.4 * uv[:, 1]])


def _lmn(direction, center):
    l_, m_, _ = sin_offsets(*np.degrees(direction), *np.degrees(center))
    l_, m_ = float(l_), float(m_)
    return l_, m_, math.sqrt(1 - l_ * l_ - m_ * m_)


def test_the_field_keeps_its_own_w_term():
    uvw = _uvw()
    lf, mf, nf = _lmn(SOURCE, FIELD)
    scale = FREQ[None, :] / SPEED_OF_LIGHT
    vis = np.exp(2j * np.pi * (uvw[:, :1] * lf + uvw[:, 1:2] * mf
                               + uvw[:, 2:] * (nf - 1)) * scale)
    new_uvw, new_vis = to_field_relative_w(uvw, vis, FREQ, FIELD, IMAGE)
    l_, m_, n_ = _lmn(SOURCE, IMAGE)
    # the image-centre sky with the w-term of the field about its own centre
    expected = np.exp(2j * np.pi * (new_uvw[:, :1] * l_ + new_uvw[:, 1:2] * m_
                                    + new_uvw[:, 2:] * (n_ - 1) + uvw[:, 2:] * (nf - 1)) * scale)
    phase_error = np.angle(new_vis / expected)
    assert np.abs(phase_error).max() < 0.01  # radians, offsets of 12' and w up to 30 km
    # only the small rest of w is left for the gridder
    rotated_w = uvw @ (uvw_basis(*IMAGE) @ uvw_basis(*FIELD).T).T
    assert np.abs(new_uvw[:, 2]).max() < 0.01 * np.abs(rotated_w[:, 2]).max()
    back = from_field_relative_w(new_uvw, uvw[:, 2], new_vis, FREQ, IMAGE, FIELD)
    np.testing.assert_allclose(back, vis, atol=1e-9)


def test_a_field_at_the_image_centre_has_no_w_left():
    uvw = _uvw(2)
    new_uvw, _ = to_field_relative_w(uvw, None, FREQ, IMAGE, IMAGE)
    np.testing.assert_allclose(new_uvw[:, :2], uvw[:, :2])
    assert np.all(new_uvw[:, 2] == 0)


def test_w_reference_is_checked():
    assert ImagingConfig(w_reference="field").w_reference == "field"
    with pytest.raises(ConfigError, match="w_reference"):
        ImagingConfig(w_reference="pointing")
