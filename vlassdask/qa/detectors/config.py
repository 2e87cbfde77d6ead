"""Thresholds and sizes of the artifact detectors (the ``detectors:`` section of ``qa.yaml``).

One frozen dataclass per detector, nested in :class:`DetectorConfig`. Defaults follow SPEC.md
"Quality assessment" where it gives a number (PB mask 0.2, high-weights median 0.8, RFI patch
~15' at 3 GHz); the other thresholds were tuned on synthetic 1024^2 images
(:mod:`vlassdask.testing.artifacts`, seeds 0-99 per class, disjoint from the benchmark's
100000+) for >= 95% detection at <= 1% false alarms, see ``benchmarks/bench_qa.py``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from vlassdask.errors import ConfigError, reject_unknown_keys


def _check(section: str, ok: bool, message: str) -> None:
    if not ok:
        raise ConfigError(f"detectors.{section}: {message}")


@dataclass(frozen=True)
class PBHolesConfig:
    """Primary-beam holes: masked regions inside the sub-image with spikes around them.

    Attributes
    ----------
    pb_limit
        PB (normalised to its maximum) below which pixels are masked (SPEC: 0.2).
    min_area_arcmin2
        Smallest masked region counted as a hole.
    ring_width_arcmin
        Width of the ring around a hole in which the residual is measured.
    noise_ratio_threshold
        Ring rms of the residual over the image's robust rms at which the spikes / raised
        noise around a hole count as present (the score).
    require_artifacts
        Only report holes with raised noise or spikes around them (the VLASS definition);
        False reports every hole.
    """

    pb_limit: float = 0.2
    min_area_arcmin2: float = 0.25
    ring_width_arcmin: float = 2.0
    noise_ratio_threshold: float = 1.3
    require_artifacts: bool = True

    def __post_init__(self) -> None:
        _check("pb_holes", 0 < self.pb_limit < 1, "pb_limit must lie in (0, 1)")
        _check("pb_holes", self.min_area_arcmin2 >= 0, "min_area_arcmin2 must be >= 0")
        _check("pb_holes", self.ring_width_arcmin > 0, "ring_width_arcmin must be positive")
        _check("pb_holes", self.noise_ratio_threshold > 0,
               "noise_ratio_threshold must be positive")  # fmt: skip


@dataclass(frozen=True)
class HighWeightsConfig:
    """High weights: the mosaic PB median (normalised to maximum 1) over the sub-image.

    Attributes
    ----------
    min_median
        Detected when the median is below this (SPEC: 0.8); score = 1 - median, threshold =
        1 - min_median.
    peak_fraction
        The high-weighted region reported is where PB >= this fraction of its maximum.
    """

    min_median: float = 0.8
    peak_fraction: float = 0.9

    def __post_init__(self) -> None:
        _check("high_weights", 0 < self.min_median <= 1, "min_median must lie in (0, 1]")
        _check("high_weights", 0 < self.peak_fraction < 1, "peak_fraction must lie in (0, 1)")


@dataclass(frozen=True)
class RFIConfig:
    """RFI: patches of raised noise about one primary beam across in the rms image.

    Attributes
    ----------
    scale_arcmin
        Patch size at 3 GHz (SPEC: ~15', one primary beam); scaled by 3 GHz / frequency.
    blocks_per_scale
        Block medians per patch size (the rms image is reduced to blocks of
        ``scale / blocks_per_scale`` and averaged over ``blocks_per_scale^2`` blocks).
    ratio_threshold
        Patch-averaged rms over the median rms of the sub-image at which RFI is detected.
    pb_limit
        Pixels with PB below this are ignored.
    flatten_with_pb
        Multiply the rms image by the normalised PB first (an rms image of a PB-corrected image
        rises as 1 / PB towards the mosaic edges and around PB holes).
    min_spikiness, max_spikiness
        RFI raises Gaussian noise: a patch counts only when its residual's rms / robust rms is
        at most ``max_spikiness`` (above: spikes of under-cleaned sources) and that of its
        residual divided by the local noise at least ``min_spikiness`` (below: stripes).
    max_peak_sigma
        A patch whose residual, within one patch size, deviates from its median by more than
        this many robust rms is next to an under-cleaned source: its raised rms is that
        source's sidelobes.
    max_extent_scales
        A region of raised rms longer than this many patch sizes is not a burst of RFI (a
        burst lasts seconds: a few pointings along one scan row).
    """

    scale_arcmin: float = 15.0
    blocks_per_scale: int = 4
    ratio_threshold: float = 1.25
    pb_limit: float = 0.2
    flatten_with_pb: bool = True
    min_spikiness: float = 0.96
    max_spikiness: float = 1.5
    max_peak_sigma: float = 20.0
    max_extent_scales: float = 3.0

    def __post_init__(self) -> None:
        _check("rfi", self.scale_arcmin > 0, "scale_arcmin must be positive")
        _check("rfi", self.blocks_per_scale >= 1, "blocks_per_scale must be >= 1")
        _check("rfi", self.ratio_threshold > 1, "ratio_threshold must be above 1")
        _check("rfi", 0 <= self.pb_limit < 1, "pb_limit must lie in [0, 1)")
        _check("rfi", 0 < self.min_spikiness < 1 < self.max_spikiness,
               "need 0 < min_spikiness < 1 < max_spikiness")  # fmt: skip
        _check("rfi", self.max_extent_scales > 0, "max_extent_scales must be positive")
        _check("rfi", self.max_peak_sigma > 0, "max_peak_sigma must be positive")


@dataclass(frozen=True)
class BadBaselinesConfig:
    """Bad baselines: isolated peaks in |FFT|^2 of the residual (stripes).

    Attributes
    ----------
    peak_threshold
        Fourier power over the ring background at which a peak is a bad baseline (the score).
    background_quantile
        Quantile of the power in each ring of constant spatial frequency taken as its
        background (a high quantile: the uv coverage fills only part of each ring).
    max_period_arcmin
        Spatial frequencies of longer period (the centre of the Fourier plane: sources, PB and
        large-scale structure) are ignored.
    taper_fraction
        Fraction of the image at each edge tapered to zero (cosine) before the FFT.
    clip_sigma
        The residual is clipped at +- this many robust rms before the FFT: under-cleaned
        sources and their sidelobes are strong and local, stripes weak and extended.
    mask_sigma, mask_radius_beams
        Before that, everything within ``mask_radius_beams`` restoring-beam major axes of
        residual structure above ``mask_sigma`` robust rms is set to zero.
    psf_sampled_floor
        With a PSF, the residual's power is divided by the PSF's Fourier amplitude (the uv
        sampling), and cells where that is below this fraction of its peak are not assessed.
    """

    peak_threshold: float = 90.0
    background_quantile: float = 0.9
    max_period_arcmin: float = 4.0
    taper_fraction: float = 0.05
    clip_sigma: float = 5.0
    mask_sigma: float = 10.0
    mask_radius_beams: float = 40.0
    psf_sampled_floor: float = 0.01

    def __post_init__(self) -> None:
        _check("bad_baselines", self.peak_threshold > 1, "peak_threshold must be above 1")
        _check("bad_baselines", 0 < self.psf_sampled_floor < 1,
               "psf_sampled_floor must lie in (0, 1)")  # fmt: skip
        _check("bad_baselines", 0.5 <= self.background_quantile < 1,
               "background_quantile must lie in [0.5, 1)")  # fmt: skip
        _check("bad_baselines", self.max_period_arcmin > 0, "max_period_arcmin must be positive")
        _check("bad_baselines", 0 <= self.taper_fraction < 0.5,
               "taper_fraction must lie in [0, 0.5)")  # fmt: skip
        _check("bad_baselines", 0 < self.clip_sigma <= self.mask_sigma,
               "need 0 < clip_sigma <= mask_sigma")  # fmt: skip
        _check("bad_baselines", self.mask_radius_beams >= 0,
               "mask_radius_beams must be >= 0")  # fmt: skip


@dataclass(frozen=True)
class DeconvolutionConfig:
    """Deconvolution problems: residual structure around the brightest sources.

    Attributes
    ----------
    n_sources
        Brightest sources examined.
    min_source_snr
        Only sources brighter than this many residual rms (in the flat-noise image) are
        examined.
    core_radius_beams
        Radius (beam FWHMs) around a source in which a left-over peak is measured.
    ring_inner_beams, ring_outer_beams
        Ring (beam FWHMs) in which the local noise and the spikes are measured.
    peak_threshold
        Left-over peak |residual| in the core over the ring's robust rms at which the source
        is under-cleaned.
    spike_threshold
        Ring rms over the ring's robust rms (1 for noise) at which the ring holds spikes.
    """

    n_sources: int = 30
    min_source_snr: float = 50.0
    core_radius_beams: float = 1.5
    ring_inner_beams: float = 3.0
    ring_outer_beams: float = 25.0
    peak_threshold: float = 7.0
    spike_threshold: float = 1.3

    def __post_init__(self) -> None:
        _check("deconvolution", self.n_sources >= 1, "n_sources must be >= 1")
        _check("deconvolution", self.min_source_snr > 0, "min_source_snr must be positive")
        _check("deconvolution", self.core_radius_beams > 0, "core_radius_beams must be positive")
        _check("deconvolution", 0 < self.ring_inner_beams < self.ring_outer_beams,
               "need 0 < ring_inner_beams < ring_outer_beams")  # fmt: skip
        _check("deconvolution", self.peak_threshold > 0, "peak_threshold must be positive")
        _check("deconvolution", self.spike_threshold > 1, "spike_threshold must be above 1")


_SECTIONS = {"pb_holes": PBHolesConfig, "high_weights": HighWeightsConfig, "rfi": RFIConfig,
             "bad_baselines": BadBaselinesConfig, "deconvolution": DeconvolutionConfig}  # fmt: skip


def _convert(section: str, key: str, default: Any, value: Any) -> Any:
    if isinstance(default, bool):
        _check(section, isinstance(value, bool), f"{key} must be true or false, got {value!r}")
        return value
    if isinstance(default, int):
        _check(section, isinstance(value, int) and not isinstance(value, bool),
               f"{key} must be an integer, got {value!r}")  # fmt: skip
        return value
    _check(section, isinstance(value, int | float) and not isinstance(value, bool),
           f"{key} must be a number, got {value!r}")  # fmt: skip
    return float(value)


def _section(name: str, mapping: Any):
    cls = _SECTIONS[name]
    if mapping is None:
        return cls()
    if not isinstance(mapping, Mapping):
        raise ConfigError(f"detectors.{name} must be a mapping, got {type(mapping).__name__}")
    fields = {f.name: f.default for f in dataclasses.fields(cls)}
    reject_unknown_keys(mapping, fields, f"detectors.{name}: unknown option(s)")
    return cls(**{k: _convert(name, k, fields[k], v) for k, v in mapping.items()})


@dataclass(frozen=True)
class DetectorConfig:
    """Configuration of all five detectors (each section defaults to its dataclass)."""

    pb_holes: PBHolesConfig = field(default_factory=PBHolesConfig)
    high_weights: HighWeightsConfig = field(default_factory=HighWeightsConfig)
    rfi: RFIConfig = field(default_factory=RFIConfig)
    bad_baselines: BadBaselinesConfig = field(default_factory=BadBaselinesConfig)
    deconvolution: DeconvolutionConfig = field(default_factory=DeconvolutionConfig)

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Any] | None) -> DetectorConfig:
        """Build from ``{detector: {option: value}}`` (every key optional).

        Raises
        ------
        ConfigError
            Unknown detector or option, a value of the wrong type or out of range.
        """
        mapping = {} if mapping is None else mapping
        if not isinstance(mapping, Mapping):
            raise ConfigError(f"detectors must be a mapping, got {type(mapping).__name__}")
        reject_unknown_keys(mapping, _SECTIONS, "detectors: unknown detector(s)")
        return cls(**{name: _section(name, mapping.get(name)) for name in _SECTIONS})

    def to_dict(self) -> dict[str, dict[str, Any]]:
        """``{detector: {option: value}}``; :meth:`from_mapping` of it gives this config back."""
        return {name: dataclasses.asdict(getattr(self, name)) for name in _SECTIONS}
