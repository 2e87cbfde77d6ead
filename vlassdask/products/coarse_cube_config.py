"""Typed configuration of coarse cubes (``pipelines/coarse_cube.yaml``).

A coarse-cube document has the sections ``cube`` (:class:`CoarseCubeConfig`'s own keys: image
size, Stokes parameters, spectral windows, CLEAN's ``cycleniter``), ``rejection``
(:class:`~vlassdask.qa.plane_rejection.PlaneRejectionConfig`), ``mosaic`` (the Quick Look
keys every plane is made with: primary-beam limit, rms box, position correction, pointing
groups, epoch and version of the file names; :class:`~vlassdask.products.quicklook_config.
QuickLookConfig`), ``imaging`` (:class:`~vlassdask.imaging.config.ImagingConfig`: 1" cells, the
2" uv taper), ``clean`` (:class:`~vlassdask.deconvolution.config.CleanConfig`) and ``presets``
(named overrides of those sections; ``small`` for laptops and CI).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from vlassdask.errors import ConfigError, reject_unknown_keys
from vlassdask.products.quicklook_config import QuickLookConfig, section, with_preset
from vlassdask.qa.plane_rejection import PlaneRejectionConfig

SECTIONS = ("cube", "rejection", "mosaic", "imaging", "clean", "presets")
#: Presets every configuration has (``pipelines/coarse_cube.yaml`` lists the same; a test keeps
#: them equal).
BUILTIN_PRESETS: dict[str, dict[str, Any]] = {
    "small": {"cube": {"imsize": 512, "subimage_size": 384},
              "imaging": {"row_chunks": 10000}},
}
#: Defaults of the sections shared with Quick Look that differ from Quick Look's.
CUBE_IMAGING = {"cell_arcsec": 1.0, "weighting": "briggs", "robust": 1.0, "taper_arcsec": 2.0,
                "gridder": "2d", "w_reference": "field"}
CUBE_CLEAN = {"niter": 20000, "nsigma": 4.5, "nmajor": 220}


@dataclass(frozen=True)
class CoarseCubeConfig:
    """Everything one coarse cube needs (defaults: SPEC.md "Coarse cubes", VLASS paper 3.4).

    Attributes
    ----------
    plane
        How each plane is imaged: the Quick Look machinery's configuration (imaging, CLEAN,
        mosaic primary beam, rms image, position correction), with the cube's image size,
        sub-image size and ``cycleniter`` as its single attempt.
    rejection
        Plane-rejection thresholds.
    imsize, subimage_size
        Full image and published sub-image sides, pixels (7290 and 3722 at 1").
    cycleniter
        CLEAN's minor-cycle iterations per major cycle (500).
    stokes
        Stokes parameters of the cube planes (``IQU``).
    spws
        Spectral windows to image (SPW ids); None: every spectral window of the MS.
    band_averaged_v
        Also make the band-averaged Stokes V image (from the planes imaged).
    """

    plane: QuickLookConfig = field(default_factory=lambda: _plane_config({}, {}, {}, 7290,
                                                                         3722, 500))
    rejection: PlaneRejectionConfig = field(default_factory=PlaneRejectionConfig)
    imsize: int = 7290
    subimage_size: int = 3722
    cycleniter: int = 500
    stokes: str = "IQU"
    spws: tuple[int, ...] | None = None
    band_averaged_v: bool = True

    def __post_init__(self) -> None:
        if not self.stokes or set(self.stokes) - set("IQU") \
                or len(set(self.stokes)) != len(self.stokes):
            raise ConfigError(f"cube.stokes must be distinct letters of IQU, got "
                              f"{self.stokes!r}")
        if not isinstance(self.band_averaged_v, bool):
            raise ConfigError(f"cube.band_averaged_v must be true or false, got "
                              f"{self.band_averaged_v!r}")
        if self.spws is not None and (not self.spws or any(
                isinstance(s, bool) or not isinstance(s, int) or s < 0 for s in self.spws)):
            raise ConfigError(f"cube.spws must be a list of spectral-window ids, got "
                              f"{list(self.spws)!r}")

    def with_threads(self, accumulators: int, fft_threads: int) -> CoarseCubeConfig:
        """The configuration for these threads per plane."""
        return dataclasses.replace(self, plane=self.plane.with_threads(accumulators,
                                                                       fft_threads))

    def to_dict(self) -> dict[str, Any]:
        """JSON form (provenance)."""
        return {"cube": {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
                         if f.name not in ("plane", "rejection")},
                "rejection": dataclasses.asdict(self.rejection), **self.plane.to_dict()}

    @classmethod
    def from_document(cls, doc: Mapping[str, Any] | None, *,
                      preset: str | None = None) -> CoarseCubeConfig:  # fmt: skip
        """Build from a parsed coarse-cube YAML document, with a preset applied.

        Raises
        ------
        ConfigError
            Unknown sections or keys, bad values or an unknown preset.
        """
        doc = with_preset(doc, preset, SECTIONS, BUILTIN_PRESETS, "coarse-cube")
        options = dict(section(doc, "cube"))
        known = [f.name for f in dataclasses.fields(cls) if f.name not in ("plane", "rejection")]
        reject_unknown_keys(options, known, "unknown cube option(s):")
        if isinstance(options.get("spws"), list):
            options["spws"] = tuple(options["spws"])
        sizes = {k: options.get(k, getattr(cls, k)) for k in ("imsize", "subimage_size",
                                                              "cycleniter")}
        for key, value in sizes.items():
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"cube.{key} must be a positive whole number, got {value!r}")
        plane = _plane_config(section(doc, "mosaic"), section(doc, "imaging"),
                              section(doc, "clean"), **sizes)
        try:
            return cls(plane=plane,
                       rejection=PlaneRejectionConfig.from_mapping(section(doc, "rejection")),
                       **options)
        except TypeError as exc:
            raise ConfigError(f"bad cube configuration: {exc}") from None


def _plane_config(mosaic: Mapping[str, Any], imaging: Mapping[str, Any],
                  clean: Mapping[str, Any], imsize: int, subimage_size: int,
                  cycleniter: int) -> QuickLookConfig:  # fmt: skip
    """The Quick Look configuration of one plane: its single attempt has the cube's sizes."""
    for part, key in ((imaging, "imsize"), (clean, "cycleniter")):
        if key in part:
            raise ConfigError(f"{key} of coarse cubes is set under cube, not "
                              f"{'imaging' if part is imaging else 'clean'}")
    if "stokes" in imaging:
        raise ConfigError("the Stokes parameters of coarse cubes are set under cube (stokes)")
    cell = imaging.get("cell_arcsec", CUBE_IMAGING["cell_arcsec"])
    return QuickLookConfig.from_document({
        "quicklook": mosaic,
        "imaging": {**CUBE_IMAGING, **imaging},
        "clean": {**CUBE_CLEAN, **clean},
        "qa": {"product_types": {"QL": {
            "cell_arcsec": cell, "imsize": imsize, "subimage_size": subimage_size,
            "cycleniter": cycleniter, "retry_ladder": []}}},
    })
