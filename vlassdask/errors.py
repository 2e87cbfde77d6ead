"""Exceptions with messages meant for users.

Every error that a user can cause by giving bad input derives from :class:`VlassdaskError`; the
CLI prints its message on one line and exits non-zero.
"""

from collections.abc import Iterable
from typing import Any


class VlassdaskError(Exception):
    """Base class of all user-facing vlassdask errors."""


class InputError(VlassdaskError):
    """The input (a Measurement Set, an image, a table, an argument) is missing or unusable."""


class ProductExistsError(VlassdaskError):
    """The output product already exists and overwriting was not requested."""


class ConfigError(VlassdaskError):
    """A configuration value is out of range or inconsistent."""


def reject_unknown_keys(keys: Iterable[Any], known: Iterable[str], message: str) -> None:
    """Raise :class:`ConfigError` naming every key of ``keys`` that is not in ``known``.

    The message is ``"<message> <unknown keys> (known: <known keys>)"``, e.g. ``message =
    "unknown combine option(s):"``.
    """
    known = list(known)
    unknown = sorted(str(k) for k in set(keys) - set(known))
    if unknown:
        raise ConfigError(f"{message} {', '.join(unknown)} (known: {', '.join(known)})")
