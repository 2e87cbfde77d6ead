"""Reading configuration and table files: YAML (always ``yaml.safe_load``) and CSV sky tables.

The one place where vlassdask opens its own input files (cluster specs, pipeline and simulation
configs, sky models); the domain modules receive the parsed mappings and tables.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from vlassdask.errors import ConfigError, InputError, VlassdaskError
from vlassdask.qa.config import QAConfig
from vlassdask.simulate.config import SimulationConfig, from_dict, split_document
from vlassdask.simulate.sky import SkyModel, sky_from_records


def read_yaml(path: str | os.PathLike, *, what: str,
              error: type[VlassdaskError] = ConfigError) -> Any:
    """The parsed content of a YAML file (None for an empty file).

    Raises
    ------
    VlassdaskError
        ``error`` (ConfigError by default) naming ``what`` if the file is missing, unreadable or
        not valid YAML.
    """
    p = Path(path)
    if not p.is_file():
        raise error(f"{what} {p} does not exist")
    try:
        return yaml.safe_load(p.read_text())
    except OSError as exc:
        raise error(f"cannot read {what} {p}: {exc}") from exc
    except yaml.YAMLError as exc:
        raise error(f"{what} {p} is not valid YAML: {exc}") from exc


def read_yaml_mapping(path: str | os.PathLike, *, what: str,
                      error: type[VlassdaskError] = ConfigError) -> dict[str, Any]:
    """A YAML file that must hold a mapping (an empty file gives ``{}``)."""
    values = read_yaml(path, what=what, error=error)
    if values is None:
        return {}
    if not isinstance(values, dict):
        raise error(f"{what} {path} is not a YAML mapping")
    return values


def read_simulation_file(path: str | os.PathLike) -> dict[str, Any]:
    """A simulation YAML as ``{"simulate": mapping, "sky": list or None}``.

    The file is either a mapping of config keys, or a mapping with a ``simulate:`` section and an
    optional ``sky:`` section (see :func:`vlassdask.simulate.config.split_document`).
    """
    values = read_yaml_mapping(path, what="simulation config")
    return split_document(values, f"simulation config {path}")


def load_config(path: str | os.PathLike) -> SimulationConfig:
    """A validated :class:`SimulationConfig` from a YAML file (see :func:`read_simulation_file`)."""
    return from_dict(read_simulation_file(path)["simulate"])


def load_qa_config(path: str | os.PathLike) -> QAConfig:
    """A validated :class:`QAConfig` from the ``qa:`` section of a YAML file (other sections,
    e.g. of a pipeline file, are ignored).

    Raises
    ------
    ConfigError
        A missing or unreadable file, no ``qa:`` section, unknown keys or bad values.
    """
    values = read_yaml_mapping(path, what="QA config")
    if "qa" not in values:
        raise ConfigError(f"QA config {path} has no 'qa:' section")
    return QAConfig.from_mapping(values["qa"])


def load_sky_model(path: str | os.PathLike) -> SkyModel:
    """Read a sky model from a CSV (``.csv``) or YAML (``.yaml``/``.yml``) file.

    Raises
    ------
    InputError
        If the file is missing, of an unknown type, or its table is invalid.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"sky model file {path} does not exist")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        try:
            table = pd.read_csv(path, comment="#", skipinitialspace=True)
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
            raise InputError(f"sky model {path} is not a readable CSV table: {exc}") from exc
        return SkyModel(table)
    if suffix in (".yaml", ".yml"):
        records = read_yaml(path, what="sky model", error=InputError)
        if isinstance(records, dict):
            records = records.get("sources", records.get("sky"))
        return sky_from_records(records, f"sky model {path}")
    raise InputError(f"sky model {path}: unknown file type {suffix!r} (use .csv or .yaml)")
