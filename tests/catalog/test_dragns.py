"""The DRAGN finder on a constructed catalog returns exactly the constructed doubles and cores."""

from __future__ import annotations

import numpy as np
import pandas as pd

from vlassdask.catalog.dragns import find_dragns
from vlassdask.catalog.names import component_names

DEC0 = 10.0


def _component(ra: float, dec: float, flux: float, dc_maj: float, dc_pa: float) -> dict:
    return {"RA": ra, "DEC": dec, "Total_flux": flux, "E_Total_flux": 0.1 * flux,
            "DC_Maj": dc_maj, "DC_PA": dc_pa}


def _offset(ra: float, dec: float, east_arcsec: float, north_arcsec: float):
    return (ra + east_arcsec / 3600 / np.cos(np.radians(dec)), dec + north_arcsec / 3600)


def constructed():
    """Four true doubles (two with cores), and decoys that each break one rule."""
    rows, truth = [], []
    ra = 150.0
    for k, (sep, pa_axis, core) in enumerate([(20.0, 0.0, True), (40.0, 60.0, False),
                                              (12.0, 135.0, True), (80.0, 90.0, False)]):
        centre = (ra + 0.5 * k, DEC0)
        half = 0.5 * sep
        east, north = np.sin(np.radians(pa_axis)), np.cos(np.radians(pa_axis))
        a = _offset(*centre, -half * east, -half * north)
        b = _offset(*centre, half * east, half * north)
        first = len(rows)
        rows.append(_component(*a, 5.0, 5.0, pa_axis + 10))
        rows.append(_component(*b, 4.0, 6.0, pa_axis - 15))
        core_id = -1
        if core:
            core_id = len(rows)
            rows.append(_component(*_offset(*centre, 1.0, 0.5), 1.0, 0.5, 0.0))
            rows.append(_component(*_offset(*centre, 0.5 * sep - 1, 0.0), 0.8, 0.4, 0.0)
                        if sep > 15 else _component(*_offset(*centre, 40.0, 0.0), 0.8, 0.4, 0.0))
        truth.append((first, first + 1, core_id))
    decoy_ra = ra + 5.0
    # misaligned pair: lobes perpendicular to their axis at 100" (limit there: 33 deg)
    rows.append(_component(*_offset(decoy_ra, DEC0, 0, -50), 5.0, 5.0, 90.0))
    rows.append(_component(*_offset(decoy_ra, DEC0, 0, 50), 5.0, 5.0, 90.0))
    # too close: 5" apart
    rows.append(_component(*_offset(decoy_ra + 0.5, DEC0, 0, -2.5), 5.0, 5.0, 0.0))
    rows.append(_component(*_offset(decoy_ra + 0.5, DEC0, 0, 2.5), 5.0, 5.0, 0.0))
    # unresolved pair, and a faint pair (below 1.2 mJy)
    rows.append(_component(*_offset(decoy_ra + 1.0, DEC0, 0, -10), 5.0, 2.0, 0.0))
    rows.append(_component(*_offset(decoy_ra + 1.0, DEC0, 0, 10), 5.0, 2.0, 0.0))
    rows.append(_component(*_offset(decoy_ra + 1.5, DEC0, 0, -10), 1.0, 5.0, 0.0))
    rows.append(_component(*_offset(decoy_ra + 1.5, DEC0, 0, 10), 1.0, 5.0, 0.0))
    table = pd.DataFrame(rows)
    table["Component_name"] = component_names(table["RA"], table["DEC"])
    return table, truth


def test_finds_exactly_the_constructed_doubles_and_cores():
    table, truth = constructed()
    dragns = find_dragns(table)
    found = sorted((min(r.Lobe_1_id, r.Lobe_2_id), max(r.Lobe_1_id, r.Lobe_2_id), r.Core_id)
                   for r in dragns.itertuples())
    assert found == sorted(truth)
    assert (dragns["Sep"] > 6).all()
    assert dragns["Name"].str.startswith("VLASS DRAGN J").all()


def test_duplicates_are_not_used():
    table, truth = constructed()
    table["Duplicate_flag"] = 0
    table.loc[truth[0][0], "Duplicate_flag"] = 2
    found = {(r.Lobe_1_id, r.Lobe_2_id) for r in find_dragns(table).itertuples()}
    assert all(truth[0][0] not in pair for pair in found)
    assert len(found) == len(truth) - 1
