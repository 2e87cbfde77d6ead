"""Rows with NaN or infinite UVW are unusable data: excluded and counted like flagged rows."""

from __future__ import annotations

import shutil
import subprocess
import sys

import numpy as np
import pytest
import xarray as xr
from casacore.tables import table

from vlassdask.testing.ms import make_test_ms

INNER = ["W04", "W08", "W12", "E04", "E08", "E12", "N04", "N08", "N12"]
BAD_ROWS = [3, 50, 51, 300]


def _image(ms, out, gridder):
    return subprocess.run([sys.executable, "-m", "vlassdask.cli.main", "image", "--ms", str(ms),
                           "--out", str(out), "--imsize", "128", "--cell", "4arcsec",
                           "--gridder", gridder, "--scheduler", "threads", "--no-preview"],
                          capture_output=True, text=True, check=False, timeout=300)


@pytest.mark.parametrize("gridder", ["wproject", "2d"])
def test_nan_uvw_rows_are_excluded_and_counted(tmp_path, gridder):
    ms = make_test_ms(tmp_path, name="good.ms", spw_ids=[3], nchan_per_spw=2, antennas=INNER,
                      noise_sigma_jy=0.01)
    nan_ms, flagged_ms = tmp_path / "nan.ms", tmp_path / "flagged.ms"
    shutil.copytree(ms, nan_ms)
    shutil.copytree(ms, flagged_ms)
    with table(str(nan_ms), readonly=False, ack=False) as tab:
        uvw = tab.getcol("UVW")
        uvw[BAD_ROWS[:2], 0] = np.nan
        uvw[BAD_ROWS[2:], 2] = np.inf
        tab.putcol("UVW", uvw)
        nchan = tab.getcell("DATA", 0).shape[0]
    with table(str(flagged_ms), readonly=False, ack=False) as tab:
        flag_row = tab.getcol("FLAG_ROW")
        flag_row[BAD_ROWS] = True
        tab.putcol("FLAG_ROW", flag_row)
    proc = _image(nan_ms, tmp_path / "nan.zarr", gridder)
    assert proc.returncode == 0, proc.stderr
    assert f"warning: {len(BAD_ROWS) * nchan} visibilities have NaN or infinite UVW" \
        in proc.stderr
    assert _image(flagged_ms, tmp_path / "flagged.zarr", gridder).returncode == 0
    with xr.open_zarr(tmp_path / "nan.zarr") as a, xr.open_zarr(tmp_path / "flagged.zarr") as b:
        assert a.attrs["visibility_counts"]["non_finite_uvw"] == len(BAD_ROWS) * nchan
        assert a.attrs["visibility_counts"]["unflagged"] == \
            b.attrs["visibility_counts"]["unflagged"]
        np.testing.assert_array_equal(a.SKY.values, b.SKY.values)
        assert np.isfinite(a.SKY.values).all()
