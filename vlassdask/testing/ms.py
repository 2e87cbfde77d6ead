"""Tiny seeded Measurement Sets for tests (no downloads, a second or two each).

Example::

    from vlassdask.testing.ms import make_test_ms
    ms = make_test_ms(tmp_path, duration_s=4.5, noise_sigma_jy=0.01)
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pandas as pd

from vlassdask.products.simulation import simulate_observation
from vlassdask.simulate import SimulationConfig, SkyModel, from_dict

#: Overrides of the :class:`SimulationConfig` defaults used by :func:`make_test_ms`:
#: a 4.5 s snapshot (10 integrations) near the zenith, 3 spectral windows x 4 channels,
#: noiseless, 27 antennas (351 baselines, 3,510 rows per window).
TEST_MS_DEFAULTS: dict[str, Any] = {
    "ra_deg": 150.0,
    "dec_deg": 34.0,
    "date": "2019-06-01",
    "hour_angle_h": 0.0,
    "duration_s": 4.5,
    "spw_ids": [0, 7, 15],
    "nchan_per_spw": 4,
    "noise_sigma_jy": 0.0,
    "seed": 1,
}


def sample_sky(ra_deg: float = 150.0, dec_deg: float = 34.0) -> SkyModel:
    """Three sources about (ra, dec): a 1 Jy point source 2' north-east, a 0.5 Jy Gaussian
    (6" x 3", PA 45 deg) 4' south and a 0.2 Jy 5% polarised point source at the centre."""
    arcmin = 1.0 / 60.0
    return SkyModel(
        pd.DataFrame(
            {
                "ra_deg": [ra_deg + 2 * arcmin, ra_deg, ra_deg],
                "dec_deg": [dec_deg + 1 * arcmin, dec_deg - 4 * arcmin, dec_deg],
                "flux_jy": [1.0, 0.5, 0.2],
                "spectral_index": [-0.7, 0.0, -0.5],
                "major_arcsec": [0.0, 6.0, 0.0],
                "minor_arcsec": [0.0, 3.0, 0.0],
                "pa_deg": [0.0, 45.0, 0.0],
                "pol_fraction": [0.0, 0.0, 0.05],
                "pol_angle_deg": [0.0, 0.0, 30.0],
            }
        )
    )


def small_config(**overrides: Any) -> SimulationConfig:
    """:data:`TEST_MS_DEFAULTS` with ``overrides`` applied (validated)."""
    return from_dict({**TEST_MS_DEFAULTS, **overrides})


def make_test_ms(
    directory: str | os.PathLike,
    *,
    name: str = "test.ms",
    sky: SkyModel | pd.DataFrame | None = None,
    overwrite: bool = False,
    **overrides: Any,
) -> Path:
    """Simulate a tiny seeded MS into ``directory``.

    Parameters
    ----------
    directory
        Where to write (e.g. pytest's ``tmp_path``).
    name
        MS directory name.
    sky
        Sky model; default :func:`sample_sky` about the configured centre.
    overwrite
        Replace an existing MS of that name.
    **overrides
        :class:`SimulationConfig` fields replacing :data:`TEST_MS_DEFAULTS`.

    Returns
    -------
    pathlib.Path
        The MS path.
    """
    config = small_config(**overrides)
    if sky is None:
        sky = sample_sky(config.ra_deg, config.dec_deg)
    return simulate_observation(config, sky, Path(directory) / name, overwrite=overwrite)


__all__ = ["TEST_MS_DEFAULTS", "make_test_ms", "sample_sky", "small_config"]
