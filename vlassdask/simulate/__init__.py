"""Simulated VLASS observations: the main table of a Measurement Set as lazy Datasets.

:class:`SimulationContext` lays out the observation (:mod:`~vlassdask.simulate.observation`);
:func:`main_datasets` builds the main table as dask arrays in row chunks of whole integrations,
predicting every visibility by an exact direct Fourier sum (w-term included) of
primary-beam-weighted sources (:func:`vlassdask.kernels.dft.predict_visibilities`) with seeded
thermal noise and flags. Writing the MS (subtables, atomic output) is
:func:`vlassdask.products.simulation.simulate_observation`.

Memory model: per chunk in flight, about rows x chan x 4 x 56 bytes (complex128 work array, two
float64 noise draws, complex64 DATA, FLAG, optional WEIGHT_SPECTRUM/SIGMA_SPECTRUM) plus
rows x 100 bytes of per-row columns, with rows = ``rows_per_chunk`` rounded down to whole
integrations; at most one chunk per dask worker thread is in flight. Fixed overhead: one 3 x 3
matrix per integration (72 bytes x integrations), the sky table, and the subtables (a few rows
per field and antenna). Nothing scales with the total number of visibilities. Linear feeds add,
while a chunk is converted, up to three more complex128 arrays of rows x chan x 4.

Polarisation: the DFT predicts the circular correlations RR, RL, LR, LL of the sky's I, Q, U, V;
``feeds: linear`` turns them into XX, XY, YX, YY of the same sky
(:func:`vlassdask.imaging.stokes.circular_to_linear`) before the noise, which is then drawn per
correlation as for circular feeds; ``correlations: parallel`` keeps the two parallel hands only.

Flags: random samples (``flag_fraction``), time ranges and baselines apply to every spectral
window; each ``flag_spws`` rule flags, in its window only, the (row, channel) samples of its
fields on baselines longer than ``longer_than_m`` with probability ``fraction``. Every flag
covers all correlations of a sample, and FLAG_ROW is set where all samples of a row are flagged.

Row order: one block per spectral window (DATA_DESC_ID = index into ``spw_ids``), inside it
time-major, baselines (ANTENNA1 < ANTENNA2) minor.
"""

from __future__ import annotations

from dataclasses import dataclass

import dask
import dask.array as da
import numpy as np
import xarray as xr
from astropy.time import Time
from numpy.typing import NDArray

from vlassdask.imaging.primary_beam import vla_primary_beam
from vlassdask.imaging.stokes import CORRELATION_SETS, circular_to_linear
from vlassdask.kernels.dft import predict_visibilities
from vlassdask.simulate.array import (
    AntennaArray,
    load_vla_b_configuration,
    select_antennas,
)
from vlassdask.simulate.config import SimulationConfig, check_flag_rule_fields, from_dict
from vlassdask.simulate.observation import ObservationLayout, build_layout, time_at_hour_angle
from vlassdask.simulate.sky import SkyModel, random_sky
from vlassdask.simulate.uvw import baseline_uvw, uvw_projection_matrices

__all__ = [
    "ObservationLayout",
    "SimulationConfig",
    "SkyModel",
    "apparent_sky",
    "build_layout",
    "from_dict",
    "random_sky",
    "main_datasets",
    "simulate_chunk",
    "time_at_hour_angle",
]

_ROW_COLUMNS = {
    "TIME": np.float64,
    "TIME_CENTROID": np.float64,
    "INTERVAL": np.float64,
    "EXPOSURE": np.float64,
    "ANTENNA1": np.int32,
    "ANTENNA2": np.int32,
    "FEED1": np.int32,
    "FEED2": np.int32,
    "FIELD_ID": np.int32,
    "DATA_DESC_ID": np.int32,
    "SCAN_NUMBER": np.int32,
    "STATE_ID": np.int32,
    "ARRAY_ID": np.int32,
    "OBSERVATION_ID": np.int32,
    "PROCESSOR_ID": np.int32,
    "FLAG_ROW": np.bool_,
}


@dataclass(frozen=True)
class SimulationContext:
    """Everything a chunk needs (shared by all chunks of one simulation).

    Attributes
    ----------
    config : SimulationConfig
    layout : ObservationLayout
    antennas : AntennaArray
        The simulated antennas (ANTENNA table order).
    antenna1, antenna2 : numpy.ndarray
        Baselines, shape (baseline,).
    projections : numpy.ndarray
        ITRF-to-uvw matrices per integration, shape (time, 3, 3).
    sky : SkyModel
    """

    config: SimulationConfig
    layout: ObservationLayout
    antennas: AntennaArray
    antenna1: NDArray[np.int32]
    antenna2: NDArray[np.int32]
    projections: NDArray[np.float64]
    sky: SkyModel

    @classmethod
    def build(cls, config: SimulationConfig, sky: SkyModel) -> SimulationContext:
        """Lay out the observation and compute the per-integration uvw projections.

        Raises
        ------
        ConfigError
            If a ``flag_spws`` rule names a field the observation does not have.
        """
        layout = build_layout(config)
        check_flag_rule_fields(config, layout.n_fields)
        antennas = select_antennas(load_vla_b_configuration(), config.antennas)
        antenna1, antenna2 = antennas.baselines()
        projections = uvw_projection_matrices(
            _times(layout),
            layout.field_ra_rad[layout.time_field],
            layout.field_dec_rad[layout.time_field],
        )
        return cls(config, layout, antennas, antenna1, antenna2, projections, sky)


def _times(layout: ObservationLayout) -> Time:
    return Time(layout.time_mjd_s / 86400.0, format="mjd", scale="utc")


def apparent_sky(
    sky: SkyModel, ra0_rad: float, dec0_rad: float, freqs_hz: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Sources seen by a pointing: direction cosines and beam-weighted Stokes fluxes.

    The pointing centre is the phase centre (ra0, dec0); sources outside the primary beam's
    first null at every channel are dropped.

    Parameters
    ----------
    sky
        The sky model.
    ra0_rad, dec0_rad
        Phase (and pointing) centre, radians.
    freqs_hz
        Channel frequencies, shape (chan,).

    Returns
    -------
    tuple
        ``(lmn, stokes, shape)`` with shapes (source, 3), (source, chan, 4) Jy [I, Q, U, V]
        multiplied by the primary beam, and (source, 3) Gaussian parameters for
        :func:`~vlassdask.kernels.dft.predict_visibilities`.
    """
    ra = np.radians(sky.column("ra_deg"))
    dec = np.radians(sky.column("dec_deg"))
    dra = ra - ra0_rad
    l_val = np.cos(dec) * np.sin(dra)
    m_val = np.sin(dec) * np.cos(dec0_rad) - np.cos(dec) * np.sin(dec0_rad) * np.cos(dra)
    cos_sep = np.sin(dec) * np.sin(dec0_rad) + np.cos(dec) * np.cos(dec0_rad) * np.cos(dra)
    radius = np.arcsin(np.clip(np.hypot(l_val, m_val), 0.0, 1.0))
    beam = vla_primary_beam(radius[:, None], np.asarray(freqs_hz)[None, :])
    keep = (cos_sep > 0) & (beam > 0).any(axis=1)
    lmn = np.stack([l_val, m_val, np.sqrt(1.0 - l_val**2 - m_val**2)], axis=1)[keep]
    stokes = sky.stokes_per_channel(freqs_hz)[keep] * beam[keep, :, None]
    return lmn, stokes, sky.gaussian_shape()[keep]


def simulate_chunk(
    context: SimulationContext, spw_index: int, first_time: int, stop_time: int
) -> dict[str, np.ndarray]:
    """All main-table columns of integrations [first_time, stop_time) of one spectral window.

    Parameters
    ----------
    context
        From :meth:`SimulationContext.build`.
    spw_index
        Index into ``config.spw_ids`` (= DATA_DESC_ID).
    first_time, stop_time
        Integration index range.

    Returns
    -------
    dict
        Column name to array; rows = (stop_time - first_time) x baselines, time-major. DATA
        (row, chan, 4) complex64, FLAG (row, chan, 4), WEIGHT/SIGMA (row, 4) float32, UVW
        (row, 3) and the per-row columns.
    """
    config, layout = context.config, context.layout
    n_bl = context.antenna1.size
    time_index = np.repeat(np.arange(first_time, stop_time), n_bl)
    antenna1 = np.tile(context.antenna1, stop_time - first_time)
    antenna2 = np.tile(context.antenna2, stop_time - first_time)
    positions = context.antennas.positions_itrf_m
    uvw = baseline_uvw(context.projections, positions, time_index, antenna1, antenna2)
    freqs = layout.chan_freq_hz[spw_index]
    field = layout.time_field[time_index]
    vis = np.zeros((time_index.size, freqs.size, 4), dtype=np.complex128)
    bounds = np.flatnonzero(np.diff(field)) + 1
    for start, stop in zip(np.r_[0, bounds], np.r_[bounds, field.size], strict=True):
        f = field[start]
        lmn, stokes, shape = apparent_sky(
            context.sky, layout.field_ra_rad[f], layout.field_dec_rad[f], freqs
        )
        if lmn.shape[0]:
            predict_visibilities(
                uvw[start:stop], freqs, lmn, stokes, gaussian_shape=shape, out=vis[start:stop]
            )
    if config.feeds == "linear":
        vis = circular_to_linear(vis)
    seeds = [config.seed, int(layout.spw_ids[spw_index]), first_time]
    sigma = config.visibility_sigma_jy
    if sigma > 0:
        rng = np.random.default_rng(np.random.SeedSequence(seeds + [0]))
        vis.real += rng.standard_normal(vis.shape) * sigma
        vis.imag += rng.standard_normal(vis.shape) * sigma
    flag = _flags(context, seeds, time_index, antenna1, antenna2, freqs.size,
                  int(layout.spw_ids[spw_index]), field)
    keep = list(CORRELATION_SETS[config.correlations])
    vis, flag = vis[..., keep], flag[..., keep]
    ncorr = len(keep)
    weight_sigma = sigma if sigma > 0 else 1.0
    columns = {
        "DATA": vis.astype(np.complex64),
        "FLAG": flag,
        "FLAG_ROW": flag.all(axis=(1, 2)),
        "UVW": uvw,
        "WEIGHT": np.full((time_index.size, ncorr), weight_sigma**-2, dtype=np.float32),
        "SIGMA": np.full((time_index.size, ncorr), weight_sigma, dtype=np.float32),
        "TIME": layout.time_mjd_s[time_index],
        "TIME_CENTROID": layout.time_mjd_s[time_index],
        "INTERVAL": np.full(time_index.size, layout.integration_s),
        "EXPOSURE": np.full(time_index.size, layout.integration_s),
        "ANTENNA1": antenna1,
        "ANTENNA2": antenna2,
        "FIELD_ID": field.astype(np.int32),
        "DATA_DESC_ID": np.full(time_index.size, spw_index, dtype=np.int32),
        "SCAN_NUMBER": layout.time_scan[time_index],
    }
    for name in ("FEED1", "FEED2", "STATE_ID", "ARRAY_ID", "OBSERVATION_ID", "PROCESSOR_ID"):
        columns[name] = np.zeros(time_index.size, dtype=np.int32)
    if config.weight_spectrum:
        shape3 = (time_index.size, freqs.size, ncorr)
        columns["WEIGHT_SPECTRUM"] = np.full(shape3, weight_sigma**-2, dtype=np.float32)
        columns["SIGMA_SPECTRUM"] = np.full(shape3, weight_sigma, dtype=np.float32)
    return columns


def _flags(context, seeds, time_index, antenna1, antenna2, n_chan, spw, field
           ) -> NDArray[np.bool_]:  # fmt: skip
    """FLAG (row, chan, 4): random samples, time ranges, baselines and the spectral window's
    ``flag_spws`` rules of the config."""
    config, layout = context.config, context.layout
    sample = np.zeros((time_index.size, n_chan), dtype=bool)
    if config.flag_fraction > 0:
        rng = np.random.default_rng(np.random.SeedSequence(seeds + [1]))
        sample |= rng.random(sample.shape) < config.flag_fraction
    row = np.zeros(time_index.size, dtype=bool)
    offset = layout.time_mjd_s[time_index] - layout.start.mjd * 86400.0
    for start, end in config.flag_time_ranges_s:
        row |= (offset >= start) & (offset < end)
    names, stations = context.antennas.names, context.antennas.stations
    for pair in config.flag_baselines:
        ids = [i for i in range(len(names)) if names[i] in pair or stations[i] in pair]
        if len(ids) == 2:
            row |= np.isin(antenna1, ids) & np.isin(antenna2, ids)
    sample |= row[:, None]
    rules = [r for r in config.flag_spws if r.spw == spw]
    if rules:
        positions = context.antennas.positions_itrf_m
        length = np.linalg.norm(positions[antenna1] - positions[antenna2], axis=1)
        for k, rule in enumerate(rules):
            rows = length > rule.longer_than_m
            if rule.fields is not None:
                rows &= np.isin(field, rule.fields)
            rng = np.random.default_rng(np.random.SeedSequence(seeds + [2, k]))
            sample |= rows[:, None] & (rng.random(sample.shape) < rule.fraction)
    return np.repeat(sample[:, :, None], 4, axis=2)


def _main_dataset(context: SimulationContext, shared, spw_index: int) -> xr.Dataset:
    """Main-table rows of one spectral window as lazily computed dask arrays."""
    n_bl = context.antenna1.size
    n_chan = context.layout.chan_freq_hz.shape[1]
    ncorr = len(CORRELATION_SETS[context.config.correlations])
    per_chunk = max(1, context.config.rows_per_chunk // n_bl)
    n_times = context.layout.n_times
    pieces: dict[str, list] = {}
    for first in range(0, n_times, per_chunk):
        stop = min(first + per_chunk, n_times)
        rows = (stop - first) * n_bl
        chunk = dask.delayed(simulate_chunk, pure=True)(shared, spw_index, first, stop)
        shapes = {
            "DATA": ((rows, n_chan, ncorr), np.complex64),
            "FLAG": ((rows, n_chan, ncorr), np.bool_),
            "UVW": ((rows, 3), np.float64),
            "WEIGHT": ((rows, ncorr), np.float32),
            "SIGMA": ((rows, ncorr), np.float32),
            **{name: ((rows,), dtype) for name, dtype in _ROW_COLUMNS.items()},
        }
        if context.config.weight_spectrum:
            shapes["WEIGHT_SPECTRUM"] = ((rows, n_chan, ncorr), np.float32)
            shapes["SIGMA_SPECTRUM"] = ((rows, n_chan, ncorr), np.float32)
        for name, (shape, dtype) in shapes.items():
            pieces.setdefault(name, []).append(da.from_delayed(chunk[name], shape, dtype=dtype))
    dims = {3: ("row", "chan", "corr"), 2: ("row", "corr"), 1: ("row",)}
    variables = {}
    for name, arrays in pieces.items():
        data = da.concatenate(arrays, axis=0)
        variables[name] = (("row", "uvw") if name == "UVW" else dims[data.ndim], data)
    return xr.Dataset(variables)


def main_datasets(context: SimulationContext) -> list[xr.Dataset]:
    """The main table as lazy dask-backed Datasets, one per spectral window (row chunks of whole
    integrations; see the module docstring for the memory model)."""
    shared = dask.delayed(context, pure=True)
    return [_main_dataset(context, shared, i) for i in range(context.layout.spw_ids.size)]
