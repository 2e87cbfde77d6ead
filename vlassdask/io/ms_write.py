"""Write Measurement Sets with dask-ms: the main table chunk by chunk, then the subtables.

The main table is created with dask-ms's ``"ms"`` descriptor (python-casacore's ``default_ms``, so
every required subtable exists and is linked as a table keyword; DATA, FLAG and the weight
columns are fixed-shape tiled columns). Subtable rows are then appended through
``path::SUBTABLE`` (SOURCE, which is optional in the MS definition, is created the same way).

The builders below turn plain arrays into the xarray Datasets dask-ms writes: dimension
``row`` first, strings as object arrays, directions shaped as the MS definition wants them
(FIELD/POINTING (row, poly, 2) radians).
"""

from __future__ import annotations

import contextlib
import gc
import os
import sys
import tempfile
from collections.abc import Iterator, Mapping, Sequence

import dask
import dask.array as da
import numpy as np
import xarray as xr
from daskms import xds_to_table

from vlassdask.errors import InputError
from vlassdask.imaging.stokes import CORRELATION_SETS, FEED_CORR_TYPES

#: Receptor index pairs of the four correlations (RR, RL, LR, LL or XX, XY, YX, YY), (4, 2).
CORR_PRODUCTS = ((0, 0), (0, 1), (1, 0), (1, 1))
#: Receptor names of each feed basis.
RECEPTORS = {"circular": ("R", "L"), "linear": ("X", "Y")}
#: Receptor position angles (radians) of each feed basis: linear X at 0 (north, so that
#: XX = I + Q in the sky frame), Y orthogonal to it.
RECEPTOR_ANGLES = {"circular": (0.0, 0.0), "linear": (0.0, np.pi / 2)}

#: casacore frequency reference code of topocentric frequencies.
FREQ_REF_TOPO = 5


def table_dataset(columns: Mapping[str, np.ndarray | Sequence]) -> xr.Dataset:
    """A dask-backed Dataset of table columns, dimension ``row`` first.

    Parameters
    ----------
    columns
        Column name to array; the first axis of every array is the row. String columns may be
        lists or arrays of ``str`` (stored as object arrays).

    Returns
    -------
    xarray.Dataset
        One variable per column with dims ``("row", "<column>-1", ...)``, single dask chunk.
    """
    variables = {}
    for name, values in columns.items():
        array = np.asarray(values)
        if array.dtype.kind == "U":
            array = array.astype(object)
        dims = ("row",) + tuple(f"{name}-{axis}" for axis in range(1, array.ndim))
        variables[name] = (dims, da.from_array(array, chunks=array.shape or 1))
    return xr.Dataset(variables)


def antenna_table(
    names: Sequence[str],
    stations: Sequence[str],
    positions_itrf_m: np.ndarray,
    dish_diameter_m: np.ndarray,
) -> xr.Dataset:
    """ANTENNA rows: positions (antenna, 3) ITRF metres, ground-based alt-az dishes."""
    n = len(names)
    return table_dataset(
        {
            "NAME": list(names),
            "STATION": list(stations),
            "TYPE": ["GROUND-BASED"] * n,
            "MOUNT": ["ALT-AZ"] * n,
            "POSITION": np.asarray(positions_itrf_m, dtype=np.float64),
            "OFFSET": np.zeros((n, 3)),
            "DISH_DIAMETER": np.asarray(dish_diameter_m, dtype=np.float64),
            "FLAG_ROW": np.zeros(n, dtype=bool),
        }
    )


def spectral_window_table(
    chan_freq_hz: np.ndarray, chan_width_hz: float, names: Sequence[str]
) -> xr.Dataset:
    """SPECTRAL_WINDOW rows from channel centre frequencies, shape (spw, chan), Hz.

    REF_FREQUENCY is the first channel's centre (the CASA convention), frequencies topocentric.
    """
    freqs = np.asarray(chan_freq_hz, dtype=np.float64)
    nspw, nchan = freqs.shape
    widths = np.full_like(freqs, chan_width_hz)
    return table_dataset(
        {
            "CHAN_FREQ": freqs,
            "CHAN_WIDTH": widths,
            "EFFECTIVE_BW": widths,
            "RESOLUTION": widths,
            "REF_FREQUENCY": freqs[:, 0],
            "TOTAL_BANDWIDTH": widths.sum(axis=1),
            "NUM_CHAN": np.full(nspw, nchan, dtype=np.int32),
            "NAME": list(names),
            "MEAS_FREQ_REF": np.full(nspw, FREQ_REF_TOPO, dtype=np.int32),
            "NET_SIDEBAND": np.ones(nspw, dtype=np.int32),
            "FREQ_GROUP": np.zeros(nspw, dtype=np.int32),
            "FREQ_GROUP_NAME": [""] * nspw,
            "IF_CONV_CHAIN": np.zeros(nspw, dtype=np.int32),
            "FLAG_ROW": np.zeros(nspw, dtype=bool),
        }
    )


def polarization_table(feeds: str = "circular", correlations: str = "all") -> xr.Dataset:
    """One POLARIZATION row: RR, RL, LR, LL (linear feeds: XX, XY, YX, YY; ``parallel``: the
    two parallel hands only)."""
    keep = list(CORRELATION_SETS[correlations])
    types = np.asarray(FEED_CORR_TYPES[feeds])[keep]
    return table_dataset(
        {
            "CORR_TYPE": np.array([types], dtype=np.int32),
            "CORR_PRODUCT": np.array([np.asarray(CORR_PRODUCTS)[keep]], dtype=np.int32),
            "NUM_CORR": np.array([types.size], dtype=np.int32),
            "FLAG_ROW": np.zeros(1, dtype=bool),
        }
    )


def data_description_table(n_spw: int) -> xr.Dataset:
    """DATA_DESCRIPTION rows: row i pairs SPECTRAL_WINDOW row i with POLARIZATION row 0."""
    return table_dataset(
        {
            "SPECTRAL_WINDOW_ID": np.arange(n_spw, dtype=np.int32),
            "POLARIZATION_ID": np.zeros(n_spw, dtype=np.int32),
            "FLAG_ROW": np.zeros(n_spw, dtype=bool),
        }
    )


def field_table(
    ra_rad: np.ndarray, dec_rad: np.ndarray, names: Sequence[str], time_mjd_s: np.ndarray
) -> xr.Dataset:
    """FIELD rows: PHASE_DIR = DELAY_DIR = REFERENCE_DIR, shape (field, 1, 2) radians (J2000)."""
    directions = np.stack([ra_rad, dec_rad], axis=-1)[:, None, :].astype(np.float64)
    n = directions.shape[0]
    return table_dataset(
        {
            "PHASE_DIR": directions,
            "DELAY_DIR": directions,
            "REFERENCE_DIR": directions,
            "NAME": list(names),
            "CODE": ["NONE"] * n,
            "NUM_POLY": np.zeros(n, dtype=np.int32),
            "SOURCE_ID": np.arange(n, dtype=np.int32),
            "TIME": np.asarray(time_mjd_s, dtype=np.float64),
            "FLAG_ROW": np.zeros(n, dtype=bool),
        }
    )


def source_table(
    ra_rad: np.ndarray,
    dec_rad: np.ndarray,
    names: Sequence[str],
    time_mjd_s: np.ndarray,
    interval_s: np.ndarray,
) -> xr.Dataset:
    """SOURCE rows, one per field (SOURCE_ID = field index, valid for all spectral windows)."""
    n = len(names)
    return table_dataset(
        {
            "SOURCE_ID": np.arange(n, dtype=np.int32),
            "TIME": np.asarray(time_mjd_s, dtype=np.float64),
            "INTERVAL": np.asarray(interval_s, dtype=np.float64),
            "SPECTRAL_WINDOW_ID": np.full(n, -1, dtype=np.int32),
            "NUM_LINES": np.zeros(n, dtype=np.int32),
            "NAME": list(names),
            "CALIBRATION_GROUP": np.zeros(n, dtype=np.int32),
            "CODE": ["NONE"] * n,
            "DIRECTION": np.stack([ra_rad, dec_rad], axis=-1).astype(np.float64),
            "PROPER_MOTION": np.zeros((n, 2)),
        }
    )


def pointing_table(
    antenna_id: np.ndarray,
    time_mjd_s: np.ndarray,
    interval_s: np.ndarray,
    ra_rad: np.ndarray,
    dec_rad: np.ndarray,
) -> xr.Dataset:
    """POINTING rows (row,): DIRECTION = TARGET = (ra, dec), shape (row, 1, 2) radians."""
    directions = np.stack([ra_rad, dec_rad], axis=-1)[:, None, :].astype(np.float64)
    n = directions.shape[0]
    time = np.asarray(time_mjd_s, dtype=np.float64)
    return table_dataset(
        {
            "ANTENNA_ID": np.asarray(antenna_id, dtype=np.int32),
            "TIME": time,
            "INTERVAL": np.asarray(interval_s, dtype=np.float64),
            "NAME": [""] * n,
            "NUM_POLY": np.zeros(n, dtype=np.int32),
            "TIME_ORIGIN": time,
            "DIRECTION": directions,
            "TARGET": directions,
            "TRACKING": np.ones(n, dtype=bool),
        }
    )


def feed_table(n_antennas: int, time_mjd_s: float, interval_s: float,
               feeds: str = "circular") -> xr.Dataset:  # fmt: skip
    """FEED rows, one per antenna: two receptors (R, L, or X, Y for linear feeds, with their
    :data:`RECEPTOR_ANGLES`), valid for all windows."""
    n = n_antennas
    return table_dataset(
        {
            "ANTENNA_ID": np.arange(n, dtype=np.int32),
            "FEED_ID": np.zeros(n, dtype=np.int32),
            "SPECTRAL_WINDOW_ID": np.full(n, -1, dtype=np.int32),
            "TIME": np.full(n, time_mjd_s),
            "INTERVAL": np.full(n, interval_s),
            "NUM_RECEPTORS": np.full(n, 2, dtype=np.int32),
            "BEAM_ID": np.full(n, -1, dtype=np.int32),
            "BEAM_OFFSET": np.zeros((n, 2, 2)),
            "POLARIZATION_TYPE": np.array([list(RECEPTORS[feeds])] * n),
            "POL_RESPONSE": np.tile(np.eye(2, dtype=np.complex64), (n, 1, 1)),
            "POSITION": np.zeros((n, 3)),
            "RECEPTOR_ANGLE": np.tile(RECEPTOR_ANGLES[feeds], (n, 1)),
        }
    )


def observation_table(
    time_range_mjd_s: tuple[float, float], telescope: str, observer: str, project: str
) -> xr.Dataset:
    """One OBSERVATION row."""
    return table_dataset(
        {
            "TIME_RANGE": np.array([time_range_mjd_s], dtype=np.float64),
            "TELESCOPE_NAME": [telescope],
            "OBSERVER": [observer],
            "PROJECT": [project],
            "LOG": np.array([["simulated"]]),
            "SCHEDULE": np.array([["simulated"]]),
            "SCHEDULE_TYPE": [""],
            "RELEASE_DATE": np.zeros(1),
            "FLAG_ROW": np.zeros(1, dtype=bool),
        }
    )


def state_table() -> xr.Dataset:
    """One STATE row: on-source target observation."""
    return table_dataset(
        {
            "SIG": np.ones(1, dtype=bool),
            "REF": np.zeros(1, dtype=bool),
            "CAL": np.zeros(1),
            "LOAD": np.zeros(1),
            "SUB_SCAN": np.zeros(1, dtype=np.int32),
            "OBS_MODE": ["OBSERVE_TARGET#UNSPECIFIED"],
            "FLAG_ROW": np.zeros(1, dtype=bool),
        }
    )


def processor_table() -> xr.Dataset:
    """One PROCESSOR row: the WIDAR correlator."""
    return table_dataset(
        {
            "TYPE": ["CORRELATOR"],
            "SUB_TYPE": ["WIDAR"],
            "TYPE_ID": np.zeros(1, dtype=np.int32),
            "MODE_ID": np.zeros(1, dtype=np.int32),
            "FLAG_ROW": np.zeros(1, dtype=bool),
        }
    )


def history_table(time_mjd_s: float, message: str, app_params: Sequence[str]) -> xr.Dataset:
    """One HISTORY row recording the application and its parameters."""
    return table_dataset(
        {
            "TIME": np.array([time_mjd_s]),
            "OBSERVATION_ID": np.zeros(1, dtype=np.int32),
            "MESSAGE": [message],
            "PRIORITY": ["NORMAL"],
            "ORIGIN": ["vlassdask.simulate"],
            "OBJECT_ID": np.zeros(1, dtype=np.int32),
            "APPLICATION": ["vlassdask"],
            "CLI_COMMAND": np.array([[""]]),
            "APP_PARAMS": np.array([list(app_params) or [""]]),
        }
    )


def _is_descriptor_noise(line: str) -> bool:
    """casacore's ``complete_ms_desc`` (dask-ms's ``"ms"`` descriptor) prints ``Data type: 24,
    SORT_COLUMNSnot handled`` (and SORT_ORDER) for two optional keywords it cannot default:
    harmless, but alarming on every write."""
    return line.startswith("Data type: ") and line.endswith("not handled")


@contextlib.contextmanager
def _descriptor_noise_filtered() -> Iterator[None]:
    """Capture file descriptor 2 (where casacore's C++ code writes) for the enclosed call,
    then pass on every line but :func:`_is_descriptor_noise`."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            for line in capture.read().decode(errors="replace").splitlines():
                if not _is_descriptor_noise(line):
                    print(line, file=sys.stderr)


def write_measurement_set(
    path: str | os.PathLike,
    main: Sequence[xr.Dataset],
    subtables: Mapping[str, xr.Dataset],
) -> None:
    """Create a Measurement Set at ``path`` (which must not exist) and write all tables.

    Parameters
    ----------
    path
        Directory of the new MS.
    main
        Main-table datasets (dask-backed, dims ``row``, ``chan``, ``corr``, ``uvw``), written in
        order, chunk by chunk; peak memory is that of the chunks in flight.
    subtables
        Subtable name (ANTENNA, FIELD, ..., SOURCE) to its rows.
    """
    table = str(path)
    with _descriptor_noise_filtered():  # the descriptor is made here, not when computing
        writes = xds_to_table(list(main), table, columns="ALL", descriptor="ms")
    dask.compute(writes)
    del writes
    for name, dataset in subtables.items():
        # one table per compute: appending rows to several subtables in a single compute
        # fails with "putColumn: no such row" (dask-ms 0.2.32)
        dask.compute(xds_to_table(dataset, f"{table}::{name}", columns="ALL"))
    # dask-ms caches open tables per path; drop them so that no handle outlives the write
    gc.collect()


#: Parallel-hand correlation types (RR, LL, XX, YY): they carry Stokes I of a model.
PARALLEL_HANDS = (5, 8, 9, 12)


def write_model_data(ms: str | os.PathLike, datasets: Sequence[xr.Dataset],
                     model_vis: Sequence[da.Array]) -> None:
    """Write Stokes I model visibilities into the MODEL_DATA column of ``ms``.

    The column is created if the MS lacks it (complex, like DATA). Parallel hands get the
    model, cross hands zero: what tclean's ``savemodel='modelcolumn'`` leaves for an
    unpolarised model. This is the one change vlassdask makes to an input, and only when asked.

    Parameters
    ----------
    ms
        The Measurement Set the datasets were read from.
    datasets
        As :func:`vlassdask.io.ms_read.open_measurement_set` returned them (with ROWID).
    model_vis
        One complex (row, chan) dask array per dataset, chunked like its rows.

    Notes
    -----
    Peak memory: one row chunk of model visibilities (``rows x chan x corr x 8`` bytes) per
    worker thread.
    """
    out = []
    for ds, model in zip(datasets, model_vis, strict=True):
        hands = np.isin(np.asarray(ds.attrs["corr_types"]), PARALLEL_HANDS)
        data = model.astype(np.complex64)[:, :, None] * hands.astype(np.complex64)[None, None]
        if "ROWID" not in ds.coords:
            raise InputError("the datasets carry no ROWID: they were not read from an MS")
        # ROWID says which rows to update; without it dask-ms would append new rows
        out.append(xr.Dataset({"MODEL_DATA": (("row", "chan", "corr"), data)},
                              coords={"ROWID": ds.ROWID}, attrs=ds.attrs))
    dask.compute(xds_to_table(out, str(ms), columns=["MODEL_DATA"]))
