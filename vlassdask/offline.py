"""Offline configuration: astropy must never try to download IERS or site tables.

CI machines and many cluster nodes have no network. The bundled ``astropy-iers-data`` tables
serve Earth-orientation and leap-second data; predictions beyond their range degrade gracefully
(astropy warns and extrapolates) instead of hanging on a download.
"""

from __future__ import annotations

import warnings


def configure_offline() -> None:
    """Switch astropy's automatic downloads off (idempotent)."""
    from astropy.utils import iers
    from astropy.utils.data import conf as data_conf

    iers.conf.auto_download = False
    iers.conf.auto_max_age = None
    iers.conf.iers_degraded_accuracy = "warn"
    data_conf.allow_internet = False
    warnings.filterwarnings("ignore", message=".*leap-second.*", module="astropy.*")
