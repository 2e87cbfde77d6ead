"""Gridder choice per tile from a schedule of tile observations."""

import numpy as np
import pandas as pd
import pytest

import vlassdask  # noqa: F401
from vlassdask.errors import ConfigError, InputError
from vlassdask.survey import (
    GridderThresholds,
    check_schedule,
    choose_gridder,
    local_sidereal_time,
    phase_centers,
    plan_schedule,
    schedule_images,
)


def _transit_start(ra_deg, mjd0=58_500.0, half_width_h=0.5):
    """A UTC start so that RA ``ra_deg`` transits half_width_h after it (VLA, mean LST)."""
    lst0 = float(local_sidereal_time(mjd0))
    days = ((ra_deg - lst0) % 360.0) / 360.0 / 1.0027379
    return pd.Timestamp("1858-11-17", tz="UTC") + pd.Timedelta(days=mjd0 + days - half_width_h / 24)


def _row(tile, start, hours=1.0, epoch="VLASS2.1"):
    return {
        "tile": tile,
        "start_utc": start.isoformat(),
        "stop_utc": (start + pd.Timedelta(hours=hours)).isoformat(),
        "epoch": epoch,
    }


def test_choose_gridder_thresholds():
    out = choose_gridder([30, 44.9, 45, 40, 40], [40, 49.9, 46, 50, 49.99])
    assert out.tolist() == ["mosaic", "mosaic", "wproject", "wproject", "mosaic"]
    custom = GridderThresholds(median_deg=30, max_deg=60)
    assert choose_gridder([35], [40], custom).tolist() == ["wproject"]
    with pytest.raises(ConfigError, match="threshold"):
        GridderThresholds(median_deg=95)


def test_plan_near_transit_and_low_elevation():
    # T21t15 (Dec 40..44) near transit passes ~7 deg from zenith: mosaic.
    # T01t10 (Dec -40..-36) never rises above 16 deg elevation at the VLA: w-projection.
    sched = pd.DataFrame(
        [
            _row("T21t15", _transit_start(212.5)),
            _row("T01t10", _transit_start(67.5)),
        ]
    )
    plan = plan_schedule(sched)
    assert plan["tile"].tolist() == ["T21t15", "T01t10"]
    assert plan["gridder"].tolist() == ["mosaic", "wproject"]
    assert plan["n_images"].tolist() == [len(phase_centers("T21t15")), len(phase_centers("T01t10"))]
    assert plan.loc[0, "zd_max"] < 20 and plan.loc[1, "zd_min"] > 70
    assert (plan["zd_min"] <= plan["zd_median"]).all()
    assert (plan["zd_median"] <= plan["zd_max"]).all()
    assert plan.loc[1, "max_shift_arcsec"] > 0.8
    assert plan["epoch"].tolist() == ["VLASS2.1", "VLASS2.1"]


def test_raster_time_model():
    start = pd.Timestamp("2019-07-12T03:00:00Z")
    sched = pd.DataFrame([_row("T06t24", start, hours=2.0)])
    images = schedule_images(sched)
    row_time = images.groupby("dec")["mjd"].first()
    t0 = (start - pd.Timestamp("1858-11-17", tz="UTC")) / pd.Timedelta(days=1)
    expected = t0 + (row_time.index.to_numpy() + 20.0) / 4.0 * (2.0 / 24)
    np.testing.assert_allclose(row_time.to_numpy(), expected, atol=1e-9)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"tile": "T40t01"}, "unknown tile"),
        ({"stop_utc": "2019-07-12T02:00:00"}, "not after"),
        ({"start_utc": "yesterday"}, "unreadable"),
    ],
)
def test_bad_schedules(change, message):
    row = {"tile": "T06t24", "start_utc": "2019-07-12T03:00:00", "stop_utc": "2019-07-12T04:00:00"}
    with pytest.raises(InputError, match=message):
        check_schedule(pd.DataFrame([{**row, **change}]))
    with pytest.raises(InputError, match="lacks column"):
        check_schedule(pd.DataFrame([{"tile": "T06t24"}]))
