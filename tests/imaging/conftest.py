"""Fixtures for imaging accuracy tests: real VLA snapshot geometry at zenith distance ~60 deg."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
from casacore.tables import table

from vlassdask.testing.ms import make_test_ms

#: inner VLA B-configuration pads: baselines up to ~3 km, so 2" cells hold all of the uv plane
INNER_STATIONS = ("W04", "W08", "W12", "W16", "E04", "E08", "E12", "E16", "N04", "N08", "N12",
                  "N16")
ZD60 = {"ra_deg": 150.0, "dec_deg": -22.0, "date": "2019-06-01", "hour_angle_h": -1.5}


@dataclass(frozen=True)
class Snapshot:
    uvw: np.ndarray  # (row, 3) metres
    freq: np.ndarray  # (chan,) Hz
    mjd: float  # mean time, MJD days
    ra_deg: float
    dec_deg: float


def read_snapshot(ms) -> Snapshot:
    with table(str(ms), ack=False) as tab:
        uvw = tab.getcol("UVW")
        mjd = float(tab.getcol("TIME").mean() / 86400.0)
    with table(f"{ms}::SPECTRAL_WINDOW", ack=False) as spw:
        freq = np.concatenate([spw.getcell("CHAN_FREQ", r) for r in range(spw.nrows())])
    return Snapshot(uvw, freq, mjd, ZD60["ra_deg"], ZD60["dec_deg"])


@pytest.fixture(scope="session")
def zd60_ms(tmp_path_factory):
    """Noiseless 4.5 s snapshot of the inner array at hour angle -1.5 h, Dec -22 (ZD ~60 deg)."""
    return make_test_ms(tmp_path_factory.mktemp("zd60"), name="zd60.ms", **ZD60,
                        duration_s=4.5, spw_ids=[0], nchan_per_spw=4,
                        antennas=list(INNER_STATIONS), noise_sigma_jy=0.0)


@pytest.fixture(scope="session")
def zd60(zd60_ms) -> Snapshot:
    return read_snapshot(zd60_ms)
