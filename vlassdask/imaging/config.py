"""Typed configuration of the imaging step (``imaging:`` section of a pipeline YAML).

Files are read by :mod:`vlassdask.io.config_files`; this module validates the mapping.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from vlassdask.errors import ConfigError, reject_unknown_keys

WEIGHTINGS = ("natural", "uniform", "briggs")
GRIDDERS = ("auto", "wproject", "2d")
#: Where the gridding runs: the CPU, a CUDA GPU (cupy), or the GPU when one is usable.
DEVICES = ("cpu", "gpu", "auto")
W_REFERENCES = ("image", "field")


def _is(value: Any, kind: str) -> bool:
    """True if ``value`` is of ``kind``: int, number, str, bool, pair (of ints), pair-float,
    ints (a tuple of ints)."""
    if kind == "bool":
        return isinstance(value, bool)
    if isinstance(value, bool):
        return False
    if kind == "int":
        return isinstance(value, int)
    if kind == "number":
        return isinstance(value, int | float) and math.isfinite(value)
    if kind == "str":
        return isinstance(value, str)
    if kind == "pair":
        return isinstance(value, tuple) and len(value) == 2 and all(_is(v, "int") for v in value)
    if kind == "pair-float":
        return isinstance(value, tuple) and len(value) == 2 and all(_is(v, "number")
                                                                     for v in value)
    return isinstance(value, tuple) and all(_is(v, "int") for v in value)  # ints


#: Expected type of every field: (kind for :func:`_is`, description for the message).
_FIELD_TYPES = {
    "imsize": ("pair", "two whole numbers of pixels (nx, ny)"),
    "cell_arcsec": ("number", "a number of arcsec"),
    "weighting": ("str", f"one of {', '.join(WEIGHTINGS)}"),
    "robust": ("number", "a number from -2 to 2"),
    "taper_arcsec": ("number", "a number of arcsec"),
    "gridder": ("str", f"one of {', '.join(GRIDDERS)}"),
    "epsilon": ("number", "a number"),
    "padding": ("number", "a number"),
    "w_planes": ("int", "a whole number"),
    "w_layers": ("int", "a whole number"),
    "support": ("int", "a whole number of cells"),
    "data_column": ("str", "a column name"),
    "phase_center_deg": ("pair-float", "two numbers (RA, Dec) in degrees"),
    "fields": ("ints", "a list of FIELD_IDs"),
    "spws": ("ints", "a list of spectral windows"),
    "row_chunks": ("int", "a whole number"),
    "accumulators": ("int", "a whole number"),
    "fft_threads": ("int", "a whole number"),
    "make_psf": ("bool", "true or false"),
    "device": ("str", f"one of {', '.join(DEVICES)}"),
    "w_reference": ("str", f"one of {', '.join(W_REFERENCES)}"),
    "stokes": ("str", "letters of IQUV, e.g. IQU"),
}
_OPTIONAL = ("padding", "w_planes", "w_layers", "support", "phase_center_deg", "fields", "spws")


@dataclass(frozen=True)
class ImagingConfig:
    """Parameters of a dirty image and PSF.

    Attributes
    ----------
    imsize
        Image size (nx, ny) in pixels, even.
    cell_arcsec
        Pixel size.
    weighting, robust
        natural, uniform or briggs (robust -2 ... 2; VLASS: briggs 1).
    taper_arcsec
        FWHM of a Gaussian uv taper expressed in the image plane (0: none).
    gridder
        auto (w-projection where the w-term exceeds the accuracy), wproject, or 2d.
    epsilon
        Requested relative accuracy of gridding and FFT.
    padding
        uv-grid over image size; default: chosen with the kernel width by cost, as ducc0 does.
    w_planes
        w-kernel planes per table (1 = plain 2-D gridding); default: from ``epsilon``.
    w_layers
        Number of w-layers (1 = classic w-projection); default: chosen by cost.
    support
        Kernel support in cells; default: from ``epsilon`` and the w range.
    data_column
        Visibility column.
    phase_center_deg
        Image centre (RA, Dec) in degrees; default: the centre of the observed fields.
    fields, spws
        Restrict to these FIELD_IDs / spectral windows.
    row_chunks
        Rows per dask chunk.
    accumulators
        Grids accumulated in parallel (one per worker thread is a good choice).
    fft_threads
        Threads per FFT.
    make_psf
        Also compute the point-spread function.
    device
        ``cpu``, ``gpu`` (gridding, FFTs and major cycles on a CUDA GPU with cupy; an error
        without one) or ``auto`` (the GPU when one is usable, else the CPU).
    w_reference
        ``image``: every field is re-phased to the image centre, uvw rotated, so the w-term
        (corrected by the gridder) is that of the image centre. ``field``: each field keeps its
        own w-term, as CASA's 2-D mosaic gridding does
        (:func:`vlassdask.imaging.visibilities.to_field_relative_w`): the gridder corrects only
        the small rest, and positions carry the VLASS w-term offset, which the position
        correction removes.
    stokes
        The Stokes parameters the operator prepares, e.g. ``I`` or ``IQU`` (letters of IQUV,
        each once): the first sets the imaging weights; the others are imaged with the same
        weights (:meth:`vlassdask.imaging.imaging_operator.ImagingOperator.for_stokes`).
    """

    imsize: tuple[int, int] = (2048, 2048)
    cell_arcsec: float = 1.0
    weighting: str = "briggs"
    robust: float = 1.0
    taper_arcsec: float = 0.0
    gridder: str = "auto"
    epsilon: float = 1e-5
    padding: float | None = None
    w_planes: int | None = None
    w_layers: int | None = None
    support: int | None = None
    data_column: str = "DATA"
    phase_center_deg: tuple[float, float] | None = None
    fields: tuple[int, ...] | None = None
    spws: tuple[int, ...] | None = None
    row_chunks: int = 20000
    accumulators: int = 1
    fft_threads: int = 1
    make_psf: bool = True
    device: str = "cpu"
    w_reference: str = "image"
    stokes: str = "I"

    def __post_init__(self) -> None:
        self._check_types()
        nx, ny = self.imsize
        if nx < 2 or ny < 2 or nx % 2 or ny % 2:
            raise ConfigError(f"imsize must be even and >= 2, got {nx} x {ny}")
        if not self.cell_arcsec > 0 or not math.isfinite(self.cell_arcsec):
            raise ConfigError(f"cell must be a positive number of arcsec, got {self.cell_arcsec}")
        if self.weighting not in WEIGHTINGS:
            raise ConfigError(f"weighting must be one of {WEIGHTINGS}, got {self.weighting!r}")
        if not -2.0 <= self.robust <= 2.0:
            raise ConfigError(f"robust must be within -2 ... 2, got {self.robust}")
        if self.taper_arcsec < 0:
            raise ConfigError(f"taper must be >= 0 arcsec, got {self.taper_arcsec}")
        if self.gridder not in GRIDDERS:
            raise ConfigError(f"gridder must be one of {GRIDDERS}, got {self.gridder!r}")
        if self.w_reference not in W_REFERENCES:
            raise ConfigError(f"w_reference must be one of {W_REFERENCES}, got "
                              f"{self.w_reference!r}")
        if not self.stokes or set(self.stokes) - set("IQUV") \
                or len(set(self.stokes)) != len(self.stokes):
            raise ConfigError(f"stokes must be distinct letters of IQUV (e.g. IQU), got "
                              f"{self.stokes!r}")
        if self.device not in DEVICES:
            raise ConfigError(f"device must be one of {DEVICES}, got {self.device!r}")
        if self.support is not None and self.support < 1:
            raise ConfigError(f"support must be >= 1 cells, got {self.support}")
        if self.epsilon is not None and not 0 < self.epsilon < 1:
            raise ConfigError(f"epsilon must lie in (0, 1), got {self.epsilon}")
        if self.w_planes is not None and self.w_planes < 1:
            raise ConfigError(f"w_planes must be >= 1, got {self.w_planes}")
        if self.row_chunks < 1 or self.accumulators < 1 or self.fft_threads < 1:
            raise ConfigError("row_chunks, accumulators and fft_threads must be >= 1")
        if self.phase_center_deg is not None:
            ra, dec = self.phase_center_deg
            if not (0 <= ra < 360 and -90 <= dec <= 90):
                raise ConfigError(f"phase centre out of range: RA {ra}, Dec {dec} deg")

    def _check_types(self) -> None:
        """One message naming the key and the expected type for each badly typed value."""
        for name, (kind, what) in _FIELD_TYPES.items():
            value = getattr(self, name)
            if value is None and name in _OPTIONAL:
                continue
            if not _is(value, kind):
                raise ConfigError(f"imaging option {name} must be {what}, got {value!r}")

    @property
    def cell_rad(self) -> float:
        return math.radians(self.cell_arcsec / 3600.0)

    @property
    def effective_gridder(self) -> str:
        """``2d`` when one w-plane was asked for, else the configured gridder."""
        return "2d" if self.w_planes == 1 else self.gridder

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form (for provenance)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Any]) -> ImagingConfig:
        """Build from a mapping (e.g. a YAML section), rejecting unknown keys."""
        reject_unknown_keys(mapping, [f.name for f in dataclasses.fields(cls)],
                            "unknown imaging option(s):")
        values = dict(mapping)
        if isinstance(values.get("imsize"), int) and not isinstance(values["imsize"], bool):
            values["imsize"] = (values["imsize"],)  # imsize: 512 means 512 x 512
        for key in ("imsize", "phase_center_deg", "fields", "spws"):
            if isinstance(values.get(key), list | tuple):
                values[key] = tuple(values[key])
        if isinstance(values.get("imsize"), tuple) and len(values["imsize"]) == 1:
            values["imsize"] = values["imsize"] * 2
        try:
            return cls(**values)
        except TypeError as exc:
            raise ConfigError(f"bad imaging configuration: {exc}") from exc

    def with_threads(self, accumulators: int, fft_threads: int) -> ImagingConfig:
        """A copy for workers with these threads: ``accumulators`` grids folded in parallel
        (the threads of all workers) and ``fft_threads`` for each w-layer's FFT and image pass
        (the threads of one worker; those steps run one at a time)."""
        return dataclasses.replace(self, accumulators=max(1, int(accumulators)),
                                   fft_threads=max(1, int(fft_threads)))

    def replace(self, **changes: Any) -> ImagingConfig:
        """A copy with ``changes`` applied (None values are ignored)."""
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})
