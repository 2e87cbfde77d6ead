"""Typed configuration of CLEAN (``clean:`` section of a pipeline YAML).

Option names, meanings and defaults are CASA tclean's, so that VLASS users can carry their
parameters over unchanged; the one addition is ``divergence_factor`` (tclean hard-codes 3).
Files are read by :mod:`vlassdask.io.config_files`; this module validates the mapping.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from vlassdask.deconvolution.minor_cycle import DECONVOLVERS
from vlassdask.errors import ConfigError, reject_unknown_keys

_INTS = ("niter", "cycleniter", "nmajor")
_FLOATS = ("gain", "threshold_jy", "nsigma", "smallscalebias", "cyclefactor", "minpsffraction",
           "maxpsffraction", "psfcutoff", "divergence_factor")


@dataclass(frozen=True)
class CleanConfig:
    """Parameters of a Cotton-Schwab CLEAN, named as in CASA tclean.

    Attributes
    ----------
    deconvolver
        ``hogbom`` (tclean default), ``clark`` or ``multiscale``.
    niter
        Total minor-cycle iterations over the run (tclean default 0: dirty image only).
    cycleniter
        Most iterations in one minor cycle (-1, the default: up to ``niter``).
    gain
        Loop gain, in (0, 2) (default 0.1).
    threshold_jy
        Global stopping threshold on the peak residual, Jy/beam (default 0).
    nsigma
        Stop when the peak residual falls below ``nsigma`` x the robust rms (1.4826 x MAD of the
        residual inside the mask); 0 (default) turns it off. VLASS Quick Look uses 4.5.
    nmajor
        Most major cycles after the first residual (-1, the default: no limit).
    scales
        Multiscale scale sizes in pixels (default ``(0,)``; VLASS Single Epoch: 0, 5, 12).
    smallscalebias
        tclean's multiscale small-scale bias, -1 ... 1 (default 0).
    cyclefactor, minpsffraction, maxpsffraction
        The minor-cycle threshold: ``clamp(cyclefactor x PSF sidelobe, minpsffraction,
        maxpsffraction) x peak residual`` (defaults 1.0, 0.05, 0.8).
    psfcutoff
        Fraction of the PSF peak down to which the restoring beam is fitted (default 0.35).
    divergence_factor
        Stop (tclean stop codes 5 and 6) when the peak residual exceeds this factor times that
        of the previous major cycle, or times the lowest reached (tclean: 3).
    """

    deconvolver: str = "hogbom"
    niter: int = 0
    cycleniter: int = -1
    gain: float = 0.1
    threshold_jy: float = 0.0
    nsigma: float = 0.0
    nmajor: int = -1
    scales: tuple[float, ...] = (0.0,)
    smallscalebias: float = 0.0
    cyclefactor: float = 1.0
    minpsffraction: float = 0.05
    maxpsffraction: float = 0.8
    psfcutoff: float = 0.35
    divergence_factor: float = 3.0

    def __post_init__(self) -> None:
        if self.deconvolver not in DECONVOLVERS:
            raise ConfigError(f"deconvolver must be one of {', '.join(DECONVOLVERS)}, got "
                              f"{self.deconvolver!r}")
        for name in _INTS:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise ConfigError(f"{name} must be an integer, got {value!r}")
        for name in _FLOATS:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) \
                    or not math.isfinite(value):
                raise ConfigError(f"{name} must be a finite number, got {value!r}")
        if self.niter < 0:
            raise ConfigError(f"niter must be >= 0, got {self.niter}")
        if self.cycleniter < -1 or self.cycleniter == 0:
            raise ConfigError(f"cycleniter must be -1 (no limit) or >= 1, got {self.cycleniter}")
        if self.nmajor < -1:
            raise ConfigError(f"nmajor must be -1 (no limit) or >= 0, got {self.nmajor}")
        if not 0 < self.gain < 2:
            raise ConfigError(f"gain must lie in (0, 2), got {self.gain:g}")
        if self.threshold_jy < 0 or self.nsigma < 0:
            raise ConfigError("threshold and nsigma must be >= 0")
        if not self.scales or any(not isinstance(s, int | float) or isinstance(s, bool)
                                  or not 0 <= s < math.inf for s in self.scales):
            raise ConfigError(f"scales must be pixel sizes >= 0, got {list(self.scales)!r}")
        if not -1 <= self.smallscalebias <= 1:
            raise ConfigError(f"smallscalebias must lie in [-1, 1], got {self.smallscalebias:g}")
        if not self.cyclefactor > 0:
            raise ConfigError(f"cyclefactor must be > 0, got {self.cyclefactor:g}")
        if not 0 <= self.minpsffraction <= self.maxpsffraction <= 1:
            raise ConfigError("need 0 <= minpsffraction <= maxpsffraction <= 1")
        if not 0 < self.psfcutoff < 1:
            raise ConfigError(f"psfcutoff must lie in (0, 1), got {self.psfcutoff:g}")
        if not self.divergence_factor > 1:
            raise ConfigError(f"divergence_factor must be > 1, got {self.divergence_factor:g}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form (for provenance and the cycle summary)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Any]) -> CleanConfig:
        """Build from a mapping (e.g. a YAML section), rejecting unknown keys and bad types."""
        reject_unknown_keys(mapping, [f.name for f in dataclasses.fields(cls)],
                            "unknown clean option(s):")
        values = dict(mapping)
        if values.get("scales") is not None:
            scales = values["scales"]
            values["scales"] = tuple(scales) if isinstance(scales, list | tuple) else (scales,)
        return cls(**values)

    def replace(self, **changes: Any) -> CleanConfig:
        """A copy with ``changes`` applied (None values are ignored)."""
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})
