"""Typed configuration of source finding (``catalog:`` section; SPEC.md "Catalogs").

Defaults are the VLASS/PyBDSF values: islands at ``thresh_isl = 3`` sigma seeded by a pixel above
``thresh_pix = 5`` sigma and of at least ``minpix_isl`` pixels (PyBDSF's rule), background boxes
``rms_box = (60, 20)`` and ``rms_box_bright = (20, 6)`` pixels (box, step).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from vlassdask.errors import ConfigError, reject_unknown_keys


@dataclass(frozen=True)
class CatalogConfig:
    """Parameters of the source finder.

    Attributes
    ----------
    thresh_isl, thresh_pix
        Island boundary and island seed thresholds in units of the local rms above the local
        mean.
    minpix_isl
        Fewest pixels an island may have; None: a third of the beam area in pixels, at least 6
        (PyBDSF's default). A noise peak just above ``thresh_pix`` makes an island about the size
        of the noise's correlation area above ``thresh_isl``; this rejects most of them.
    rms_box, rms_box_bright
        ``(box, step)`` in pixels of the background mean/rms maps, and of the smaller box used
        near bright sources.
    bright_snr
        Pixels above this many (large-box) sigma mark bright sources; within ``rms_box_bright``
        box sides of them the small-box maps are used (PyBDSF's adaptive rms box).
    clip_sigma
        Sigma clipping of the box statistics.
    max_gaussians
        Most Gaussians fitted to one island.
    flag_minsnr
        A fitted Gaussian is dropped when its peak is below ``flag_minsnr * thresh_pix`` times
        the local rms (PyBDSF ``flag_minsnr``).
    group_tol
        Gaussians of one island form one source when the summed model along the line joining
        their centres never falls below ``0.5 * group_tol`` times the fainter peak.
    ring_arcsec
        Inner and outer radius of the annulus of ``Peak_to_ring``.
    chunk_pixels
        Side of the image chunks: one task labels and fits the islands of one chunk (grown by
        a halo), and the bright-pixel search runs chunk by chunk.
    """

    thresh_isl: float = 3.0
    thresh_pix: float = 5.0
    minpix_isl: int | None = None
    rms_box: tuple[int, int] = (60, 20)
    rms_box_bright: tuple[int, int] = (20, 6)
    bright_snr: float = 50.0
    clip_sigma: float = 3.0
    max_gaussians: int = 10
    flag_minsnr: float = 0.6
    group_tol: float = 1.0
    ring_arcsec: tuple[float, float] = (5.0, 10.0)
    chunk_pixels: int = 1024

    def __post_init__(self) -> None:
        if not 0 < self.thresh_isl <= self.thresh_pix:
            raise ConfigError(f"need 0 < thresh_isl <= thresh_pix, got {self.thresh_isl}, "
                              f"{self.thresh_pix}")
        if self.minpix_isl is not None and (isinstance(self.minpix_isl, bool)
                                            or not isinstance(self.minpix_isl, int)
                                            or self.minpix_isl < 1):
            raise ConfigError(f"minpix_isl must be a positive integer or null, got "
                              f"{self.minpix_isl!r}")
        for name in ("rms_box", "rms_box_bright"):
            box, step = getattr(self, name)
            if not (box >= 4 and 1 <= step <= box):
                raise ConfigError(f"{name} must be (box >= 4, 1 <= step <= box), got "
                                  f"{(box, step)}")
        inner, outer = self.ring_arcsec
        if not 0 <= inner < outer:
            raise ConfigError(f"ring_arcsec must be (inner, outer) with 0 <= inner < outer, got "
                              f"{self.ring_arcsec}")
        if self.max_gaussians < 1 or self.chunk_pixels < 64:
            raise ConfigError("max_gaussians must be >= 1 and chunk_pixels >= 64")
        if self.bright_snr <= self.thresh_pix or self.clip_sigma <= 1:
            raise ConfigError("bright_snr must exceed thresh_pix and clip_sigma exceed 1")


def min_island_pixels(config: CatalogConfig, beam_area_pixels: float) -> int:
    """``config.minpix_isl``, or PyBDSF's default: a third of the beam area (pixels), at
    least 6."""
    if config.minpix_isl is not None:
        return config.minpix_isl
    return max(6, int(round(beam_area_pixels / 3.0)))


def catalog_config_from_dict(values: Mapping[str, Any]) -> CatalogConfig:
    """A :class:`CatalogConfig` from a mapping (e.g. the ``catalog:`` section of a YAML file).

    Raises
    ------
    ConfigError
        Unknown keys or invalid values.
    """
    fields = [f.name for f in dataclasses.fields(CatalogConfig)]
    reject_unknown_keys(values, fields, "unknown catalog option(s):")
    converted = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}
    try:
        return CatalogConfig(**converted)
    except TypeError as exc:
        raise ConfigError(f"invalid catalog option: {exc}") from None
