"""Elliptical Gaussian beams: common beam, difference kernel, area and noise scale factors.

A beam is stored as FWHM axes (arcsec) and a position angle (degrees east of north). All algebra
goes through its covariance matrix ``C = s_maj**2 u u^T + s_min**2 v v^T`` (``s = FWHM /
sqrt(8 ln 2)``; ``u = (sin pa, cos pa)`` the major axis in (east, north) coordinates, ``v`` the
perpendicular unit vector): convolving two Gaussians adds their covariances, beam B encloses beam
A when ``C_B - C_A`` is positive semi-definite (then A can be deconvolved from B), and the exact
difference kernel that takes A to B has covariance ``C_B - C_A`` (zero width along an axis where
the two agree, as for two orthogonal equal ellipses and their common circle).

The common beam is found with radio-beam (:meth:`radio_beam.Beams.common_beam`), guarded against
the failures radio-beam users hit: near-identical beams (where it can raise, or return a beam
slightly smaller than an input) give the largest of them, and every result is checked against
every input beam and enlarged by a tiny factor until all can be deconvolved from it.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import astropy.units as u
import numpy as np
from radio_beam import Beams
from radio_beam.utils import BeamError

from vlassdask.combine.config import CombineConfig
from vlassdask.errors import InputError
from vlassdask.kernels.constants import FWHM_PER_SIGMA

#: Round-off allowance when testing that one beam encloses another (fraction of the largest
#: eigenvalue of the enclosing beam's covariance); not a user tolerance.
ENCLOSE_RTOL = 1e-9


@dataclass(frozen=True)
class GaussianBeam:
    """An elliptical Gaussian: FWHM axes in arcsec, position angle in degrees east of north.

    ``minor_arcsec`` may be 0 for a difference kernel (a one-dimensional Gaussian).
    """

    major_arcsec: float
    minor_arcsec: float
    pa_deg: float

    @classmethod
    def from_attr(cls, attr: Any, what: str) -> GaussianBeam:
        """The beam of a ``restoring_beam`` attr (``{major_arcsec, minor_arcsec, pa_deg}``).

        Raises
        ------
        InputError
            Naming ``what`` if the attr is missing or not a valid beam.
        """
        if not isinstance(attr, Mapping):
            raise InputError(f"{what} has no restoring beam (BMAJ/BMIN/BPA); cannot convolve "
                             "it to a common beam")  # fmt: skip
        try:
            beam = cls(float(attr["major_arcsec"]), float(attr["minor_arcsec"]),
                       float(attr.get("pa_deg", 0.0)))  # fmt: skip
        except (KeyError, TypeError, ValueError):
            raise InputError(f"{what} has an unreadable restoring beam {dict(attr)!r}") from None
        if not (math.isfinite(beam.pa_deg) and 0 < beam.minor_arcsec
                and beam.major_arcsec < math.inf):  # fmt: skip
            raise InputError(f"{what} has an invalid restoring beam {beam.to_attr()}")
        if beam.minor_arcsec > beam.major_arcsec:
            beam = cls(beam.minor_arcsec, beam.major_arcsec, beam.pa_deg + 90.0)
        return beam

    def to_attr(self) -> dict[str, float]:
        """The ``restoring_beam`` attr form (PA folded into (-90, 90])."""
        pa = (self.pa_deg + 90.0) % 180.0 - 90.0
        return {"major_arcsec": float(self.major_arcsec), "minor_arcsec": float(self.minor_arcsec),
                "pa_deg": float(90.0 if pa == -90.0 else pa)}  # fmt: skip

    def describe(self) -> str:
        """``'2.50" x 2.10" PA 30.0 deg'``."""
        a = self.to_attr()
        return f'{a["major_arcsec"]:.4g}" x {a["minor_arcsec"]:.4g}" PA {a["pa_deg"]:.4g} deg'

    @property
    def area_arcsec2(self) -> float:
        """Beam solid angle ``pi / (4 ln 2) * major * minor`` (arcsec^2)."""
        return math.pi / (4.0 * math.log(2.0)) * self.major_arcsec * self.minor_arcsec

    def covariance(self) -> np.ndarray:
        """2 x 2 covariance (arcsec^2) on (east, north) axes."""
        pa = math.radians(self.pa_deg)
        major = np.array([math.sin(pa), math.cos(pa)])
        minor = np.array([math.cos(pa), -math.sin(pa)])
        s_maj, s_min = self.major_arcsec / FWHM_PER_SIGMA, self.minor_arcsec / FWHM_PER_SIGMA
        return s_maj**2 * np.outer(major, major) + s_min**2 * np.outer(minor, minor)

    @classmethod
    def from_covariance(cls, cov: np.ndarray) -> GaussianBeam:
        """The beam of a 2 x 2 (east, north) covariance; negative eigenvalues are clipped to 0."""
        values, vectors = np.linalg.eigh(np.asarray(cov, dtype=np.float64))
        s_min2, s_maj2 = (max(float(v), 0.0) for v in values)
        east, north = vectors[:, 1]
        pa = math.degrees(math.atan2(east, north)) if s_maj2 > s_min2 else 0.0
        return cls(math.sqrt(s_maj2) * FWHM_PER_SIGMA, math.sqrt(s_min2) * FWHM_PER_SIGMA, pa)

    def pixel_covariance(self, cell_arcsec: float) -> np.ndarray:
        """Covariance in pixel units on the image's ``(x, y)`` axes (x towards west, y north)."""
        flip = np.diag([-1.0, 1.0]) / cell_arcsec
        return flip @ self.covariance() @ flip.T

    def scaled(self, factor: float) -> GaussianBeam:
        """The beam with both axes multiplied by ``factor``."""
        return GaussianBeam(self.major_arcsec * factor, self.minor_arcsec * factor, self.pa_deg)

    def encloses(self, other: GaussianBeam) -> bool:
        """True if ``other`` can be deconvolved from this beam (covariance difference >= 0)."""
        mine = self.covariance()
        margin = np.linalg.eigvalsh(mine - other.covariance())[0]
        return bool(margin >= -ENCLOSE_RTOL * np.linalg.eigvalsh(mine)[1])


def deconvolve(target: GaussianBeam, beam: GaussianBeam) -> GaussianBeam:
    """The Gaussian that convolved with ``beam`` gives ``target``: covariance ``C_t - C_b``.

    Raises
    ------
    InputError
        If ``target`` does not enclose ``beam``.
    """
    if not target.encloses(beam):
        raise InputError(f"beam {beam.describe()} cannot be deconvolved from {target.describe()}")
    return GaussianBeam.from_covariance(target.covariance() - beam.covariance())


def noise_scale(target: GaussianBeam, beam: GaussianBeam) -> float:
    """Factor by which the rms (Jy/beam) of an image grows when it is convolved to ``target``.

    The image noise is taken to be correlated like the beam (autocorrelation a Gaussian of
    covariance ``C_b``, the usual approximation of the synthesised beam's main lobe). Convolving
    with the unit-integral difference kernel (covariance ``C_t - C_b``) and rescaling by the beam
    area ratio ``A_t / A_b`` (to stay in Jy/beam) multiplies the variance by
    ``det C_t / sqrt(det C_b * det(2 C_t - C_b))``; this returns its square root. For circular
    beams of FWHM ``b -> t`` that is ``t**2 / (b * sqrt(2 t**2 - b**2))``: 1 when ``t == b``,
    about ``t / (b sqrt 2)`` for heavy smoothing.
    """
    c_t, c_b = target.covariance(), beam.covariance()
    ratio = np.linalg.det(c_t) / math.sqrt(np.linalg.det(c_b) * np.linalg.det(2.0 * c_t - c_b))
    return float(math.sqrt(ratio))


def beams_equal(beams: Sequence[GaussianBeam], rtol: float) -> bool:
    """True if every beam's covariance is within ``rtol`` (of its largest eigenvalue) of the
    first's."""
    first = beams[0].covariance()
    scale = np.linalg.eigvalsh(first)[1]
    return all(np.abs(b.covariance() - first).max() <= rtol * scale for b in beams[1:])


def _radio_beam_common(beams: Sequence[GaussianBeam], config: CombineConfig) -> GaussianBeam:

    rb = Beams(major=[b.major_arcsec for b in beams] * u.arcsec,
               minor=[b.minor_arcsec for b in beams] * u.arcsec,
               pa=[b.pa_deg for b in beams] * u.deg)  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        common = rb.common_beam(tolerance=config.beam_tolerance, epsilon=config.beam_epsilon)
    return GaussianBeam(float(common.major.to_value(u.arcsec)),
                        float(common.minor.to_value(u.arcsec)),
                        float(common.pa.to_value(u.deg)))  # fmt: skip


def common_beam(beams: Sequence[GaussianBeam], config: CombineConfig) -> GaussianBeam:
    """The smallest elliptical Gaussian that encloses every beam (or the configured target beam).

    Parameters
    ----------
    beams
        Input beams (at least one).
    config
        ``target_beam`` (used instead when set, after checking that it encloses every beam),
        radio-beam's ``beam_tolerance``/``beam_epsilon``, ``beam_equal_rtol`` (near-identical
        beams give the largest) and ``beam_growth``/``beam_growth_steps`` (enlargement of a
        result that does not quite enclose every beam).

    Returns
    -------
    GaussianBeam
        A beam from which every input beam can be deconvolved.

    Raises
    ------
    InputError
        ``"no common beam ..."`` if none is found within the tolerance, or the target beam does
        not enclose every input beam.
    """
    if not beams:
        raise InputError("no beams to find a common beam for")
    if config.target_beam is not None:
        target = GaussianBeam(**config.target_beam)
        small = [b.describe() for b in beams if not target.encloses(b)]
        if small:
            raise InputError(f"target beam {target.describe()} does not enclose the input "
                             f"beam(s) {', '.join(small)}")  # fmt: skip
        return target
    if len(beams) == 1 or beams_equal(beams, config.beam_equal_rtol):
        candidate, reason = max(beams, key=lambda b: b.area_arcsec2), ""
    else:
        try:
            candidate, reason = _radio_beam_common(beams, config), ""
        except (BeamError, ValueError, ArithmeticError, Warning, np.linalg.LinAlgError) as exc:
            candidate, reason = None, f" (radio-beam: {exc})"
    if candidate is not None:
        for step in range(config.beam_growth_steps + 1):
            grown = candidate.scaled((1.0 + config.beam_growth) ** step)
            if all(grown.encloses(b) for b in beams):
                return grown
        reason = (f" ({candidate.describe()} still fails to enclose them after "
                  f"{config.beam_growth_steps} enlargements by {config.beam_growth:g})")
    raise InputError(
        f"no common beam encloses the input beams {', '.join(b.describe() for b in beams)} "
        f"within tolerance{reason}; set target_beam in the combine config (e.g. a circle of the "
        "largest major axis)"
    )
