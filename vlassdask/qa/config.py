"""Typed configuration of the quality assessment (the ``qa:`` section of ``pipelines/qa.yaml``).

Layout of the section (every key optional; the defaults are the VLASS values, see
``pipelines/qa.yaml`` for where each comes from)::

    product_type: QL          # the product type assessed when the input does not say
    decision: {...}           # DecisionConfig keys shared by all product types
    product_types:
      QL: {cell_arcsec, imsize, subimage_size, cycleniter, retry_ladder, decision: {overrides}}
      SE: {...}
    detectors: {...}          # DetectorConfig keys (vlassdask.qa.detectors)

A product type given in the file is merged key by key over the built-in one of the same name;
its ``decision`` mapping overrides the shared ``decision`` section. Unknown keys raise
:class:`~vlassdask.errors.ConfigError`. Files are read by
:func:`vlassdask.io.config_files.load_qa_config`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from vlassdask.errors import ConfigError, reject_unknown_keys
from vlassdask.qa.decision import DecisionConfig, RetryLadder
from vlassdask.qa.detectors import DetectorConfig

# The built-in product types (SPEC.md "Images"; VLASS paper sections 3.2 and 4).
DEFAULT_PRODUCT_TYPES: dict[str, dict[str, Any]] = {
    "QL": {
        "cell_arcsec": 1.0, "imsize": 7290, "subimage_size": 3722, "cycleniter": 500,
        "retry_ladder": [{"cycleniter": 250}, {"imsize": 5760}],
        "decision": {},
    },
    "SE": {
        "cell_arcsec": 0.6, "imsize": 12500, "subimage_size": 6202, "cycleniter": 500,
        "retry_ladder": [{"cycleniter": 250}, {"imsize": 9600}],
        "decision": {"beam_action": "review", "detector_actions": {"pb_holes": "review"}},
    },
}  # fmt: skip
# VLASS file names say ql / se / cc; coarse-cube planes are assessed like SE images (paper
# section 4: their QA "will look very similar to the QA process for SECIs").
VLASS_PRODUCT_TYPES = {"ql": "QL", "se": "SE", "cc": "SE"}
_TYPE_KEYS = ("cell_arcsec", "imsize", "subimage_size", "cycleniter", "retry_ladder", "decision")
_TOP_KEYS = ("product_type", "decision", "product_types", "detectors")


@dataclass(frozen=True)
class ProductTypeConfig:
    """Geometry, retry ladder and decision rules of one product type (QL or SE).

    Attributes
    ----------
    name
        ``"QL"``, ``"SE"`` or a name of your own.
    cell_arcsec
        Pixel size the sizes below are given in.
    subimage_size
        Side of the published sub-image in pixels of ``cell_arcsec`` (centred on the phase
        centre): QL 3722 x 1", SE 6202 x 0.6" (~1 deg^2).
    ladder
        Imaging parameters of the first attempt and of each retry.
    decision
        The decision rules (shared section with this type's overrides).
    """

    name: str
    cell_arcsec: float
    subimage_size: int
    ladder: RetryLadder
    decision: DecisionConfig

    def __post_init__(self) -> None:
        if isinstance(self.cell_arcsec, bool) or not (
            isinstance(self.cell_arcsec, int | float) and self.cell_arcsec > 0
        ):
            raise ConfigError(f"product type {self.name}: cell_arcsec must be positive, got "
                              f"{self.cell_arcsec!r}")  # fmt: skip
        if isinstance(self.subimage_size, bool) or not (
            isinstance(self.subimage_size, int) and 2 <= self.subimage_size <= self.ladder.imsize
        ):
            raise ConfigError(f"product type {self.name}: subimage_size must be an integer "
                              f"within 2..imsize ({self.ladder.imsize}), got "
                              f"{self.subimage_size!r}")  # fmt: skip

    @property
    def subimage_arcsec(self) -> float:
        """Side of the sub-image on the sky."""
        return self.subimage_size * self.cell_arcsec

    def to_dict(self) -> dict[str, Any]:
        """The JSON form of this type's entry under ``product_types``."""
        return {"cell_arcsec": self.cell_arcsec, "subimage_size": self.subimage_size,
                **self.ladder.to_dict(), "decision": self.decision.to_dict()}  # fmt: skip


def _mapping(value: Any, what: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ConfigError(f"{what} must be a mapping, got {type(value).__name__}")
    return value


def _product_type(name: str, mapping: Mapping[str, Any], shared: DecisionConfig
                  ) -> ProductTypeConfig:  # fmt: skip
    reject_unknown_keys(mapping, _TYPE_KEYS, f"product type {name}: unknown option(s)")
    values = {**DEFAULT_PRODUCT_TYPES.get(name, {}), **mapping}
    missing = [k for k in _TYPE_KEYS if k not in values and k != "decision"]
    if missing:
        raise ConfigError(f"product type {name}: missing {', '.join(missing)}")
    steps = values["retry_ladder"] or []
    if not isinstance(steps, list):
        raise ConfigError(f"product type {name}: retry_ladder must be a list of mappings")
    try:
        ladder = RetryLadder(values["cycleniter"], values["imsize"], tuple(steps))
    except ConfigError as exc:
        raise ConfigError(f"product type {name}: {exc}") from None
    decision = DecisionConfig.from_mapping(
        _mapping(values.get("decision"), f"product_types.{name}.decision"), base=shared
    )
    return ProductTypeConfig(name=name, cell_arcsec=values["cell_arcsec"],
                             subimage_size=values["subimage_size"], ladder=ladder,
                             decision=decision)  # fmt: skip


def _product_types(mapping: Mapping[str, Any], shared: DecisionConfig
                   ) -> dict[str, ProductTypeConfig]:  # fmt: skip
    names = [*DEFAULT_PRODUCT_TYPES, *(n for n in mapping if n not in DEFAULT_PRODUCT_TYPES)]
    return {str(name): _product_type(str(name), _mapping(mapping.get(name),
                                                         f"product_types.{name}"), shared)
            for name in names}  # fmt: skip


@dataclass(frozen=True)
class QAConfig:
    """Everything the QA of one image needs (defaults: VLASS Quick Look).

    Attributes
    ----------
    product_type
        The product type assessed when the input does not say (a VLASS file name does).
    product_types
        Name -> :class:`ProductTypeConfig`.
    detectors
        Detector thresholds and sizes.
    """

    product_type: str = "QL"
    product_types: Mapping[str, ProductTypeConfig] = field(
        default_factory=lambda: _product_types({}, DecisionConfig())
    )
    detectors: DetectorConfig = field(default_factory=DetectorConfig)

    def __post_init__(self) -> None:
        if self.product_type not in self.product_types:
            raise ConfigError(f"unknown product_type {self.product_type!r}; configured: "
                              f"{list(self.product_types)}")  # fmt: skip

    @property
    def product(self) -> ProductTypeConfig:
        """The configuration of :attr:`product_type`."""
        return self.product_types[self.product_type]

    @property
    def decision(self) -> DecisionConfig:
        """The decision rules of :attr:`product_type`."""
        return self.product.decision

    def with_product_type(self, name: str) -> QAConfig:
        """The same configuration assessing product type ``name``."""
        return dataclasses.replace(self, product_type=name)

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Any]) -> QAConfig:
        """Build from the ``qa:`` section of a YAML file (see the module docstring).

        Raises
        ------
        ConfigError
            Unknown keys or bad values, with the key named.
        """
        mapping = _mapping(mapping, "the qa section")
        reject_unknown_keys(mapping, _TOP_KEYS, "unknown qa option(s):")
        shared = DecisionConfig.from_mapping(_mapping(mapping.get("decision"), "decision"))
        types = _product_types(_mapping(mapping.get("product_types"), "product_types"), shared)
        detectors = DetectorConfig.from_mapping(_mapping(mapping.get("detectors"), "detectors"))
        return cls(product_type=str(mapping.get("product_type", "QL")), product_types=types,
                   detectors=detectors)  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        """JSON form; :meth:`from_mapping` of it gives this configuration back."""
        return {"product_type": self.product_type,
                "product_types": {n: t.to_dict() for n, t in self.product_types.items()},
                "detectors": self.detectors.to_dict()}  # fmt: skip
