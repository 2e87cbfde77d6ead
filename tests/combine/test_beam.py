"""Common beam, difference kernel and noise scale against analytic values and radio-beam."""

import math

import astropy.units as u
import numpy as np
import pytest
from radio_beam import Beam, Beams

from vlassdask.combine.beam import (
    GaussianBeam,
    common_beam,
    deconvolve,
    noise_scale,
)
from vlassdask.combine.config import CombineConfig
from vlassdask.errors import InputError

CONFIG = CombineConfig()


def _close(a: GaussianBeam, b: GaussianBeam, rtol=1e-9):
    assert np.allclose(a.covariance(), b.covariance(), rtol=0,
                       atol=rtol * np.abs(b.covariance()).max())  # fmt: skip


def test_covariance_round_trip_and_pixel_axes():
    beam = GaussianBeam(3.0, 2.0, 30.0)
    _close(GaussianBeam.from_covariance(beam.covariance()), beam)
    assert GaussianBeam.from_covariance(beam.covariance()).pa_deg == pytest.approx(30.0)
    # PA 0: major axis north = along +y; PA 90: east = along -x (x runs west).
    sigma = 1.0 / math.sqrt(8 * math.log(2))
    assert np.allclose(GaussianBeam(2.0, 1.0, 0.0).pixel_covariance(0.5),
                       np.diag([(2 * sigma) ** 2, (4 * sigma) ** 2]))  # fmt: skip
    cov = GaussianBeam(2.0, 1.0, 45.0).pixel_covariance(1.0)
    assert cov[0, 1] < 0  # major axis towards north-east = (-x, +y)
    assert GaussianBeam(3, 2, 10).area_arcsec2 == pytest.approx(math.pi / (4 * math.log(2)) * 6)


def test_deconvolution_analytic_and_against_radio_beam():
    # Circular: FWHM^2 subtract.
    kernel = deconvolve(GaussianBeam(5.0, 5.0, 0.0), GaussianBeam(3.0, 3.0, 0.0))
    assert (kernel.major_arcsec, kernel.minor_arcsec) == pytest.approx((4.0, 4.0))
    # Aligned ellipses: per axis.
    kernel = deconvolve(GaussianBeam(5.0, 4.0, 20.0), GaussianBeam(3.0, 2.0, 20.0))
    assert (kernel.major_arcsec, kernel.minor_arcsec, kernel.pa_deg) == pytest.approx(
        (4.0, math.sqrt(12.0), 20.0))
    # Rotated: radio-beam's deconvolution.
    big, small = GaussianBeam(4.0, 3.0, 10.0), GaussianBeam(3.0, 2.0, 70.0)
    ours = deconvolve(big, small)
    theirs = Beam(4 * u.arcsec, 3 * u.arcsec, 10 * u.deg).deconvolve(
        Beam(3 * u.arcsec, 2 * u.arcsec, 70 * u.deg))
    _close(ours, GaussianBeam(theirs.major.to_value(u.arcsec), theirs.minor.to_value(u.arcsec),
                              theirs.pa.to_value(u.deg)), rtol=1e-6)  # fmt: skip
    # Convolving back gives the target.
    _close(GaussianBeam.from_covariance(small.covariance() + ours.covariance()), big)
    with pytest.raises(InputError, match="cannot be deconvolved"):
        deconvolve(small, big)


def test_two_orthogonal_equal_ellipses_give_the_circle_of_the_major_axis():
    beams = [GaussianBeam(3.0, 2.0, 0.0), GaussianBeam(3.0, 2.0, 90.0)]
    common = common_beam(beams, CONFIG)
    assert (common.major_arcsec, common.minor_arcsec) == pytest.approx((3.0, 3.0), rel=1e-9)
    kernel = deconvolve(common, beams[0])  # zero width along the shared major axis
    assert kernel.minor_arcsec == pytest.approx(0.0, abs=1e-6)
    assert kernel.major_arcsec == pytest.approx(math.sqrt(5.0))


def test_identical_and_near_identical_beams():
    beam = GaussianBeam(2.5, 2.0, 30.0)
    assert common_beam([beam, beam, beam], CONFIG) == beam
    near = [beam, GaussianBeam(2.5000001, 2.0, 30.00001),
            GaussianBeam(2.4999999, 2.0000001, 29.99999)]  # fmt: skip
    common = common_beam(near, CONFIG)
    assert all(common.encloses(b) for b in near)
    # the largest, at most a tiny factor larger (radio-beam alone inflates these by ~0.1%)
    assert common.area_arcsec2 <= max(b.area_arcsec2 for b in near) * (1 + 1e-3)


def test_common_beam_of_different_beams_encloses_all_and_matches_radio_beam():
    beams = [GaussianBeam(2.5, 2.0, 10.0), GaussianBeam(3.0, 2.2, 60.0),
             GaussianBeam(2.7, 2.6, -40.0)]  # fmt: skip
    common = common_beam(beams, CONFIG)
    assert all(common.encloses(b) for b in beams)
    reference = Beams(major=[2.5, 3.0, 2.7] * u.arcsec, minor=[2.0, 2.2, 2.6] * u.arcsec,
                      pa=[10, 60, -40] * u.deg).common_beam()  # fmt: skip
    assert common.area_arcsec2 == pytest.approx(
        math.pi / (4 * math.log(2)) * reference.major.to_value(u.arcsec)
        * reference.minor.to_value(u.arcsec), rel=1e-3)
    # one beam enclosing the others is itself the common beam
    wide = GaussianBeam(4.0, 3.5, 0.0)
    assert common_beam([*beams, wide], CONFIG) == wide


def test_target_beam_and_no_common_beam():
    beams = [GaussianBeam(3.0, 2.0, 0.0), GaussianBeam(3.0, 2.0, 90.0)]
    target = CombineConfig(target_beam={"major_arcsec": 4, "minor_arcsec": 4, "pa_deg": 0})
    assert common_beam(beams, target) == GaussianBeam(4.0, 4.0, 0.0)
    small = CombineConfig(target_beam={"major_arcsec": 3, "minor_arcsec": 2.5, "pa_deg": 0})
    with pytest.raises(InputError, match="does not enclose"):
        common_beam(beams, small)
    # Three equal ellipses 60 deg apart: the common beam is the circle of their major axis.
    three = [GaussianBeam(3.0, 2.0, pa) for pa in (0.0, 60.0, 120.0)]
    found = common_beam(three, CONFIG)
    assert all(found.encloses(b) for b in three)
    assert (found.major_arcsec, found.minor_arcsec) == pytest.approx((3.0, 3.0), rel=2e-3)
    # With too coarse a radio-beam tolerance its iteration fails: a clear "no common beam".
    with pytest.raises(InputError, match="^no common beam encloses the input beams .*target_beam"):
        common_beam(three, CombineConfig(beam_tolerance=1e-2))


def test_invalid_beam_attrs():
    with pytest.raises(InputError, match="has no restoring beam"):
        GaussianBeam.from_attr(None, "e1.fits")
    with pytest.raises(InputError, match="invalid restoring beam"):
        GaussianBeam.from_attr({"major_arcsec": 2.0, "minor_arcsec": 0.0, "pa_deg": 0.0}, "e1")
    swapped = GaussianBeam.from_attr({"major_arcsec": 2.0, "minor_arcsec": 3.0, "pa_deg": 10.0},
                                     "e1")  # fmt: skip
    assert (swapped.major_arcsec, swapped.minor_arcsec, swapped.pa_deg) == (3.0, 2.0, 100.0)


def test_noise_scale_analytic():
    assert noise_scale(GaussianBeam(3, 3, 0), GaussianBeam(3, 3, 0)) == pytest.approx(1.0)
    t, b = 4.0, 3.0
    assert noise_scale(GaussianBeam(t, t, 0), GaussianBeam(b, b, 0)) == pytest.approx(
        t**2 / (b * math.sqrt(2 * t**2 - b**2)))
