"""Typed configuration of Quick Look imaging (``pipelines/quicklook.yaml``).

A Quick Look configuration document has the sections ``quicklook`` (this module's
:class:`QuickLookConfig` keys), ``imaging`` (:class:`~vlassdask.imaging.config.ImagingConfig`),
``clean`` (:class:`~vlassdask.deconvolution.config.CleanConfig`), ``qa``
(:class:`~vlassdask.qa.config.QAConfig`) and ``presets``: named overrides of those sections
(``small`` shrinks the images for laptops and CI). The image size and ``cycleniter`` of every
attempt come from the QA retry ladder of product type QL (``qa.product_types.QL``: ``imsize``,
``cycleniter``, ``retry_ladder``), so they are not set under ``imaging``/``clean``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from vlassdask.deconvolution.config import CleanConfig
from vlassdask.errors import ConfigError, reject_unknown_keys
from vlassdask.imaging.config import ImagingConfig
from vlassdask.qa.config import QAConfig

SECTIONS = ("quicklook", "imaging", "clean", "qa", "presets")
POSITION_CORRECTIONS = ("auto", "always", "never")
#: Presets every configuration has (a file's ``presets`` may redefine them); ``small`` is the
#: one in ``pipelines/quicklook.yaml`` (a test keeps them equal).
BUILTIN_PRESETS: dict[str, dict[str, Any]] = {
    "small": {
        "imaging": {"row_chunks": 10000},
        "qa": {"product_types": {"QL": {
            "imsize": 1536, "subimage_size": 1024,
            "retry_ladder": [{"cycleniter": 250}, {"imsize": 1280}]}}},
    },
}
_FLOATS = ("pb_limit", "pb_step_arcsec", "rms_box_arcsec", "rms_step_arcsec")


def merge_documents(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``override`` merged in, mapping by mapping (lists are replaced)."""
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merge_documents(out[key], value)
        else:
            out[key] = value
    return out


def section(doc: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = doc.get(name)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ConfigError(f"the {name} section must be a mapping, got {type(value).__name__}")
    return value


def with_preset(doc: Mapping[str, Any] | None, preset: str | None, sections: tuple[str, ...],
                builtin: Mapping[str, Any], what: str) -> dict[str, Any]:  # fmt: skip
    """A pipeline document (its ``sections``, the last being ``presets``) with ``preset``
    merged in (the document's presets extend ``builtin``).

    Raises
    ------
    ConfigError
        Unknown sections, an unknown preset or one that is not a mapping of sections.
    """
    doc = dict(doc or {})
    reject_unknown_keys(doc, sections, f"unknown {what} section(s):")
    if preset is None:
        return doc
    presets = {**builtin, **section(doc, "presets")}
    if preset not in presets:
        known = ", ".join(map(str, presets)) or "none"
        raise ConfigError(f"unknown preset {preset!r} (this configuration has: {known})")
    chosen = presets[preset]
    if not isinstance(chosen, Mapping):
        raise ConfigError(f"preset {preset} must be a mapping of sections")
    reject_unknown_keys(chosen, sections[:-1], f"preset {preset}: unknown section(s):")
    return merge_documents(doc, chosen)


@dataclass(frozen=True)
class QuickLookConfig:
    """Everything one Quick Look image needs (defaults: the VLASS values of SPEC.md).

    Attributes
    ----------
    imaging
        Imaging parameters (1" cells, Briggs robust 1); ``imsize`` is set per attempt.
    clean
        CLEAN stopping (nsigma 4.5, niter 20000, nmajor 220, no mask); ``cycleniter`` per
        attempt.
    qa
        QA configuration; product type ``QL`` gives the image and sub-image sizes and the retry
        ladder (7290^2, fallback 5760^2, sub-image 3722^2, cycleniter 500 then 250).
    epoch
        VLASS half-epoch of the file names (``VLASS2.1``), or ``auto``: the epoch of the
        observing log whose date for the tile is within :attr:`epoch_tolerance_days` of the
        data.
    epoch_tolerance_days
        How far the data may be from the logged date for ``epoch: auto``.
    version
        Product version in the file names (``v1``).
    pb_limit
        Pixels whose mosaic primary beam (peak 1) is below this are masked: excluded from CLEAN
        and NaN in the PB-corrected and rms images (VLASS: 0.2).
    pb_step_arcsec
        Node spacing of the mosaic primary beam (interpolated in between).
    rms_box_arcsec, rms_step_arcsec
        Sliding-box rms: box side (VLASS: 60") and node spacing.
    position_correction
        ``auto`` (apply the w-term position correction when the gridding did not correct the
        w-term, i.e. 2-D gridding), ``always`` or ``never``.
    beam_groups
        The spectral windows are cut into this many groups of neighbouring frequencies; the
        major cycles predict each group's visibilities with the mosaic beam of its frequencies
        (:meth:`~vlassdask.imaging.imaging_operator.ImagingOperator.with_model_weights`): one
        model FFT per group and major cycle. 1 treats the band as one frequency.
    pointing_groups
        At most this many pointing groups (runs of fields observed one after another, such as
        the rows of an OTF raster: :func:`vlassdask.imaging.pointing_groups.pointing_groups`);
        the major cycles predict each (frequency group, pointing group) from the model through
        that data's own mosaic beam. One model FFT per pair, w-layer and major cycle; 1 predicts
        all fields through the mosaic beam of all of them (which leaves a residual floor of
        ~1-3% of each source, docs/quicklook.md).
    """

    imaging: ImagingConfig = field(default_factory=lambda: ImagingConfig(
        cell_arcsec=1.0, weighting="briggs", robust=1.0))
    clean: CleanConfig = field(default_factory=lambda: CleanConfig(
        niter=20000, nsigma=4.5, nmajor=220))
    qa: QAConfig = field(default_factory=QAConfig)
    epoch: str = "auto"
    epoch_tolerance_days: float = 60.0
    version: int = 1
    pb_limit: float = 0.2
    pb_step_arcsec: float = 10.0
    rms_box_arcsec: float = 60.0
    rms_step_arcsec: float = 20.0
    position_correction: str = "auto"
    beam_groups: int = 4
    pointing_groups: int = 4

    def __post_init__(self) -> None:
        for name in (*_FLOATS, "epoch_tolerance_days"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) \
                    or not math.isfinite(value) or value <= 0:
                raise ConfigError(f"quicklook.{name} must be a positive number, got {value!r}")
        if not self.pb_limit < 1:
            raise ConfigError(f"quicklook.pb_limit must lie in (0, 1), got {self.pb_limit!r}")
        if isinstance(self.version, bool) or not isinstance(self.version, int) \
                or self.version < 1:
            raise ConfigError(f"quicklook.version must be a positive integer, got "
                              f"{self.version!r}")
        if not isinstance(self.epoch, str) or not (
                self.epoch == "auto" or self.epoch.startswith("VLASS")):
            raise ConfigError(f"quicklook.epoch must be 'auto' or a VLASS half-epoch such as "
                              f"'VLASS2.1', got {self.epoch!r}")
        for name in ("beam_groups", "pointing_groups"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"quicklook.{name} must be a positive integer, got "
                                  f"{value!r}")
        if self.position_correction not in POSITION_CORRECTIONS:
            raise ConfigError(f"quicklook.position_correction must be one of "
                              f"{', '.join(POSITION_CORRECTIONS)}, got "
                              f"{self.position_correction!r}")
        if "QL" not in self.qa.product_types:
            raise ConfigError("the qa section has no QL product type")
        product = self.qa.product_types["QL"]
        if not math.isclose(product.cell_arcsec, self.imaging.cell_arcsec, rel_tol=1e-6):
            raise ConfigError(f"qa.product_types.QL.cell_arcsec ({product.cell_arcsec:g}) must "
                              f"equal imaging.cell_arcsec ({self.imaging.cell_arcsec:g}): the "
                              "sub-image size is given in those pixels")

    @property
    def ladder(self):
        """The retry ladder of product type QL (image size and cycleniter per attempt)."""
        return self.qa.product_types["QL"].ladder

    @property
    def subimage_size(self) -> int:
        """Side of the published sub-image, pixels."""
        return self.qa.product_types["QL"].subimage_size

    def with_threads(self, accumulators: int, fft_threads: int) -> QuickLookConfig:
        """The configuration for workers with these threads
        (:meth:`vlassdask.imaging.config.ImagingConfig.with_threads`)."""
        return dataclasses.replace(self, imaging=self.imaging.with_threads(accumulators,
                                                                           fft_threads))

    def to_dict(self) -> dict[str, Any]:
        """JSON form (provenance)."""
        return {"quicklook": {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
                              if f.name not in ("imaging", "clean", "qa")},
                "imaging": self.imaging.to_dict(), "clean": self.clean.to_dict(),
                "qa": self.qa.to_dict()}  # fmt: skip

    @classmethod
    def from_document(cls, doc: Mapping[str, Any] | None, *,
                      preset: str | None = None) -> QuickLookConfig:  # fmt: skip
        """Build from a parsed Quick Look YAML document, with a preset applied.

        Raises
        ------
        ConfigError
            Unknown sections or keys, bad values, an unknown preset, or ``imsize`` /
            ``cycleniter`` set outside the retry ladder.
        """
        doc = with_preset(doc, preset, SECTIONS, BUILTIN_PRESETS, "Quick Look")
        imaging = dict(section(doc, "imaging"))
        clean = dict(section(doc, "clean"))
        for part, key in ((imaging, "imsize"), (clean, "cycleniter")):
            if key in part:
                raise ConfigError(f"{key} is set per attempt by the retry ladder "
                                  f"(qa.product_types.QL.{key} and retry_ladder), not under "
                                  f"{'imaging' if part is imaging else 'clean'}")
        base = cls()
        imaging_cfg = ImagingConfig.from_mapping(
            {**{k: getattr(base.imaging, k) for k in ("cell_arcsec", "weighting", "robust")},
             **imaging})
        clean_cfg = CleanConfig.from_mapping({**{k: getattr(base.clean, k) for k in (
            "niter", "nsigma", "nmajor")}, **clean})
        qa_cfg = QAConfig.from_mapping(section(doc, "qa"))
        options = dict(section(doc, "quicklook"))
        known = [f.name for f in dataclasses.fields(cls) if f.name not in ("imaging", "clean",
                                                                             "qa")]
        reject_unknown_keys(options, known, "unknown quicklook option(s):")
        return cls(imaging=imaging_cfg, clean=clean_cfg, qa=qa_cfg, **options)
