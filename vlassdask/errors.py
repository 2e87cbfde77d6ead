"""Exceptions with messages meant for users.

Every error that a user can cause by giving bad input derives from :class:`VlassdaskError`; the
CLI prints its message on one line and exits non-zero.
"""


class VlassdaskError(Exception):
    """Base class of all user-facing vlassdask errors."""


class InputError(VlassdaskError):
    """The input (a Measurement Set, an image, a table, an argument) is missing or unusable."""


class ProductExistsError(VlassdaskError):
    """The output product already exists and overwriting was not requested."""


class ConfigError(VlassdaskError):
    """A configuration value is out of range or inconsistent."""
