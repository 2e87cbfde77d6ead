"""Visibility amplitudes of one field against uv distance (for the resolved-calibrator test).

The field is selected by its FIELD name; every spectral window is read through
:func:`vlassdask.io.ms_read.open_measurement_set` (dask-ms). Stokes I is the mean of the two
parallel hands where both are unflagged (as imaging counts them), its weight the sum of theirs.

Peak memory: three float32 values per unflagged visibility of the field (a VLASS calibrator scan
of a few minutes: a few hundred MB), plus one row chunk of the MS.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import dask
import numpy as np

from vlassdask.errors import InputError
from vlassdask.imaging.visibilities import parallel_hand_indices
from vlassdask.io.ms_read import open_measurement_set

SPEED_OF_LIGHT = 299_792_458.0


@dataclass(frozen=True)
class FieldAmplitudes:
    """Unflagged Stokes I visibilities of one field: uv distance (klambda), amplitude (Jy) and
    weight, one value per (row, channel)."""

    field: str
    uv_klambda: np.ndarray
    amplitude: np.ndarray
    weight: np.ndarray


def _chunk(uvw, flag, data, weight, field_id, *, field, hands, chan_freq):
    keep_row = field_id == field
    uvw, flag, data, weight = uvw[keep_row], flag[keep_row], data[keep_row], weight[keep_row]
    a, b = hands
    ok = ~(flag[..., a] | flag[..., b])
    if weight.ndim == 2:  # WEIGHT (row, corr)
        weight = np.broadcast_to(weight[:, None, :], data.shape)
    w = weight[..., a] + weight[..., b]
    stokes_i = 0.5 * (data[..., a] + data[..., b])
    uv = np.hypot(uvw[:, 0], uvw[:, 1])[:, None] * chan_freq[None, :] / SPEED_OF_LIGHT / 1e3
    ok &= np.isfinite(stokes_i) & (w > 0)
    return (uv[ok].astype(np.float32), np.abs(stokes_i[ok]).astype(np.float32),
            w[ok].astype(np.float32))


def read_field_amplitudes(path: str | os.PathLike, field: str, *, data_column: str = "DATA",
                          row_chunks: int = 100_000) -> FieldAmplitudes:  # fmt: skip
    """Read the unflagged Stokes I amplitudes of the field named ``field``.

    Raises
    ------
    InputError
        Not a Measurement Set, no field of that name, no parallel hands, or no unflagged data.
    """
    ms = open_measurement_set(path, data_column=data_column, row_chunks=row_chunks)
    names = ms.datasets[0].attrs["field_names"]
    if field not in names:
        raise InputError(f"{path} has no field named {field!r} (fields: {', '.join(names)})")
    field_id = names.index(field)
    parts = []
    for ds in ms.datasets:
        hands = parallel_hand_indices(ds.attrs["corr_types"])
        chan_freq = ds["chan_freq"].values
        blocks = zip(ds["UVW"].data.to_delayed().ravel(), ds["FLAG"].data.to_delayed().ravel(),
                     ds[data_column].data.to_delayed().ravel(),
                     ds[ms.weight_column].data.to_delayed().ravel(),
                     ds["FIELD_ID"].data.to_delayed().ravel(), strict=True)
        parts += [dask.delayed(_chunk)(*block, field=field_id, hands=hands, chan_freq=chan_freq)
                  for block in blocks]  # fmt: skip
    chunks = dask.compute(*parts)
    uv, amp, weight = (np.concatenate([c[k] for c in chunks]) for k in range(3))
    if uv.size == 0:
        raise InputError(f"field {field!r} of {path} has no unflagged visibilities")
    return FieldAmplitudes(field, uv, amp, weight)
