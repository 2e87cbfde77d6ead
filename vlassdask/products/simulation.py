"""Simulated observation product: a complete Measurement Set written atomically.

The main table comes from :func:`vlassdask.simulate.main_datasets` (lazy, chunked); this module
adds the subtables a CASA reader expects and writes everything through dask-ms
(:mod:`vlassdask.io.ms_write`) to a temporary sibling that is renamed into place with a completion
marker (:mod:`vlassdask.io.atomic`). Memory model: that of the simulator's row chunks (see
:mod:`vlassdask.simulate`) plus the subtables (a few rows per field and antenna).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

import vlassdask
from vlassdask.io import ms_write
from vlassdask.io.atomic import atomic_output
from vlassdask.io.config_files import load_sky_model
from vlassdask.simulate import (
    SimulationConfig,
    SimulationContext,
    from_dict,
    main_datasets,
)
from vlassdask.simulate.array import TELESCOPE_NAME
from vlassdask.simulate.config import to_dict
from vlassdask.simulate.sky import SkyModel


def _subtables(context: SimulationContext, n_sources: int) -> dict[str, xr.Dataset]:
    """Subtable rows: one FIELD/SOURCE row per phase centre, POINTING per antenna and field."""
    config, layout, antennas = context.config, context.layout, context.antennas
    ranges = np.array([layout.field_time_range(f) for f in range(layout.n_fields)])
    field_mid, field_len = ranges.mean(axis=1), np.diff(ranges, axis=1)[:, 0]
    n_ant = antennas.n_antennas
    time_range = (float(ranges[:, 0].min()), float(ranges[:, 1].max()))
    spw_names = [f"EVLA_S#{'A0C0' if k < 8 else 'B0D0'}#{k + 2}" for k in layout.spw_ids]
    params = [f"{key}={value}" for key, value in to_dict(config).items()]
    message = f"simulated by vlassdask {vlassdask.__version__} ({n_sources} sources)"
    return {
        "ANTENNA": ms_write.antenna_table(
            antennas.names, antennas.stations, antennas.positions_itrf_m, antennas.dish_diameter_m
        ),
        "SPECTRAL_WINDOW": ms_write.spectral_window_table(
            layout.chan_freq_hz, layout.channel_width_hz, spw_names
        ),
        "POLARIZATION": ms_write.polarization_table(config.feeds, config.correlations),
        "DATA_DESCRIPTION": ms_write.data_description_table(layout.spw_ids.size),
        "FIELD": ms_write.field_table(
            layout.field_ra_rad, layout.field_dec_rad, layout.field_names, field_mid
        ),
        "SOURCE": ms_write.source_table(
            layout.field_ra_rad, layout.field_dec_rad, layout.field_names, field_mid, field_len
        ),
        "POINTING": ms_write.pointing_table(
            np.tile(np.arange(n_ant), layout.n_fields),
            np.repeat(field_mid, n_ant),
            np.repeat(field_len, n_ant),
            np.repeat(layout.field_ra_rad, n_ant),
            np.repeat(layout.field_dec_rad, n_ant),
        ),
        "FEED": ms_write.feed_table(n_ant, sum(time_range) / 2, time_range[1] - time_range[0],
                                    config.feeds),
        "OBSERVATION": ms_write.observation_table(
            time_range, TELESCOPE_NAME, config.observer, config.project
        ),
        "STATE": ms_write.state_table(),
        "PROCESSOR": ms_write.processor_table(),
        "HISTORY": ms_write.history_table(time_range[0], message, params),
    }



def as_sky_model(sky: SkyModel | pd.DataFrame | str | os.PathLike) -> SkyModel:
    """A SkyModel from a SkyModel, a DataFrame or a CSV/YAML path."""
    if isinstance(sky, SkyModel):
        return sky
    if isinstance(sky, pd.DataFrame):
        return SkyModel(sky)
    return load_sky_model(sky)


def simulate_observation(
    config: SimulationConfig | dict,
    sky: SkyModel | pd.DataFrame | str | os.PathLike,
    out: str | os.PathLike,
    *,
    overwrite: bool = False,
) -> Path:
    """Simulate an observation and write it as a Measurement Set.

    Parameters
    ----------
    config
        The observation (a :class:`SimulationConfig` or a mapping of its fields).
    sky
        Sources: a :class:`SkyModel`, a DataFrame with its columns, or a CSV/YAML file.
    out
        Path of the MS directory. It is written beside it under a temporary name and renamed
        into place when complete, with the completion marker of :mod:`vlassdask.io.atomic`.
    overwrite
        Replace an existing product at ``out``.

    Returns
    -------
    pathlib.Path
        The absolute path of the written MS.

    Raises
    ------
    ProductExistsError
        If ``out`` exists and ``overwrite`` is false (nothing is changed).
    ConfigError, InputError
        On an invalid config or sky model.

    Notes
    -----
    Peak memory: see the module docstring (per chunk ~ rows x chan x 4 x 56 bytes). The dask
    scheduler in effect (threads by default, or a distributed client) runs the chunks.
    """
    if not isinstance(config, SimulationConfig):
        config = from_dict(config)
    sky_model = as_sky_model(sky)
    context = SimulationContext.build(config, sky_model)
    main = main_datasets(context)
    subtables = _subtables(context, len(sky_model))
    with atomic_output(out, overwrite=overwrite, directory=True) as tmp:
        ms_write.write_measurement_set(tmp, main, subtables)
    return Path(out).absolute()
