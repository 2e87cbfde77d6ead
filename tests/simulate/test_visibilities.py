"""Simulated DATA against independent formulas: point, offset (w-term), Gaussian, polarisation."""

import numpy as np
import pandas as pd
import pytest

from vlassdask.imaging.primary_beam import vla_primary_beam
from vlassdask.testing.ms import make_test_ms

from .helpers import read_table

C = 299792458.0


def _read(ms):
    main = read_table(ms, ["DATA", "UVW", "DATA_DESC_ID", "FIELD_ID"])
    main["FREQ"] = read_table(ms, ["CHAN_FREQ"], "SPECTRAL_WINDOW")["CHAN_FREQ"]
    main["PHASE_DIR"] = read_table(ms, ["PHASE_DIR"], "FIELD")["PHASE_DIR"][:, 0]
    return main


def _expected_point(main, ra_deg, dec_deg, flux):
    """Independent prediction of RR for one unpolarised point source (alpha = 0)."""
    freqs = main["FREQ"][main["DATA_DESC_ID"]]  # (row, chan)
    ra0, dec0 = main["PHASE_DIR"][main["FIELD_ID"]].T
    ra, dec = np.radians(ra_deg), np.radians(dec_deg)
    l_val = np.cos(dec) * np.sin(ra - ra0)
    m_val = np.sin(dec) * np.cos(dec0) - np.cos(dec) * np.sin(dec0) * np.cos(ra - ra0)
    n_val = np.sqrt(1 - l_val**2 - m_val**2)
    u, v, w = main["UVW"].T
    radius = np.arccos(np.sin(dec) * np.sin(dec0) + np.cos(dec) * np.cos(dec0) * np.cos(ra - ra0))
    beam = vla_primary_beam(radius[:, None], freqs)
    phase = 2 * np.pi * (u * l_val + v * m_val + w * (n_val - 1))[:, None] * freqs / C
    return flux * beam * np.exp(1j * phase)


def test_point_source_at_phase_centre_equals_flux(tmp_path):
    sky = pd.DataFrame(
        {"ra_deg": [150.0], "dec_deg": [34.0], "flux_jy": [2.0], "spectral_index": [-0.7]}
    )
    ms = make_test_ms(tmp_path, sky=sky, duration_s=0.45)
    main = _read(ms)
    freqs = main["FREQ"][main["DATA_DESC_ID"]]
    expected = 2.0 * (freqs / 3e9) ** -0.7
    np.testing.assert_allclose(main["DATA"][..., 0], expected, rtol=1e-6)
    np.testing.assert_allclose(main["DATA"][..., 3], expected, rtol=1e-6)
    np.testing.assert_allclose(main["DATA"][..., 1:3], 0.0, atol=1e-6)


def test_offset_source_with_w_term_and_primary_beam(tmp_path):
    # 9' off axis at a low elevation (Dec -26, HA -2 h): PB ~ 0.3, large w-term phases
    sky = pd.DataFrame({"ra_deg": [150.1], "dec_deg": [-26.12], "flux_jy": [1.0]})
    ms = make_test_ms(tmp_path, sky=sky, dec_deg=-26.0, hour_angle_h=-2.0, duration_s=0.9)
    main = _read(ms)
    expected = _expected_point(main, 150.1, -26.12, 1.0)
    assert 0.05 < np.abs(expected).max() < 0.8
    np.testing.assert_allclose(main["DATA"][..., 0], expected, atol=2e-6)
    np.testing.assert_allclose(main["DATA"][..., 3], expected, atol=2e-6)


def test_gaussian_source_amplitude(tmp_path):
    sky = pd.DataFrame(
        {
            "ra_deg": [150.0],
            "dec_deg": [34.0],
            "flux_jy": [1.0],
            "major_arcsec": [10.0],
            "minor_arcsec": [10.0],
        }
    )
    ms = make_test_ms(tmp_path, sky=sky, duration_s=0.45)
    main = _read(ms)
    freqs = main["FREQ"][main["DATA_DESC_ID"]]
    uv_wavelengths = np.hypot(*main["UVW"][:, :2].T)[:, None] * freqs / C
    fwhm = np.radians(10.0 / 3600.0)
    expected = np.exp(-((np.pi * fwhm * uv_wavelengths) ** 2) / (4 * np.log(2)))
    np.testing.assert_allclose(np.abs(main["DATA"][..., 0]), expected, atol=2e-6)
    assert expected.min() < 0.5  # the test resolves the source


def test_polarised_source_cross_hands(tmp_path):
    sky = pd.DataFrame(
        {
            "ra_deg": [150.0],
            "dec_deg": [34.0],
            "flux_jy": [1.0],
            "pol_fraction": [0.1],
            "pol_angle_deg": [30.0],
        }
    )
    ms = make_test_ms(tmp_path, sky=sky, duration_s=0.45, spw_ids=[7])
    data = _read(ms)["DATA"]
    q, u = 0.1 * np.cos(np.radians(60.0)), 0.1 * np.sin(np.radians(60.0))
    np.testing.assert_allclose(data[..., 1], q + 1j * u, atol=1e-6)
    np.testing.assert_allclose(data[..., 2], q - 1j * u, atol=1e-6)


def test_otf_rows_phased_to_their_own_field(otf_ms):
    main = _read(otf_ms)
    field = read_table(otf_ms, ["PHASE_DIR", "NAME"], "FIELD")
    assert len(field["NAME"]) == 4 and np.unique(main["FIELD_ID"]).size == 4
    expected = _expected_point(main, 150.0, -26.0, 1.0)
    np.testing.assert_allclose(main["DATA"][..., 0], expected, atol=2e-6)


def test_otf_fields_step_by_2_98_arcmin(otf_ms):
    from astropy.coordinates import SkyCoord

    directions = read_table(otf_ms, ["PHASE_DIR"], "FIELD")["PHASE_DIR"][:, 0]
    centres = SkyCoord(directions[:, 0], directions[:, 1], unit="rad")
    steps = centres[1:].separation(centres[:-1]).arcmin
    np.testing.assert_allclose(steps, 3.31 * 0.9, rtol=1e-4)
    np.testing.assert_allclose(np.degrees(directions[:, 1]), -26.0)
    assert np.all(np.diff(directions[:, 0]) > 0)  # first raster row scans towards increasing RA
    main = read_table(otf_ms, ["TIME", "FIELD_ID"])
    per_time = {t: set(main["FIELD_ID"][main["TIME"] == t]) for t in np.unique(main["TIME"])}
    fields = [per_time[t].pop() for t in sorted(per_time)]
    assert fields == [0, 0, 1, 1, 2, 2, 3, 3]  # a new phase centre every 2 integrations
    pointing = read_table(otf_ms, ["DIRECTION", "TIME", "ANTENNA_ID"], "POINTING")
    assert pointing["TIME"].size == 4 * 27
    np.testing.assert_allclose(pointing["DIRECTION"][::27, 0], directions)


def test_pointed_flags(pointed_ms):
    main = read_table(pointed_ms, ["FLAG", "FLAG_ROW", "ANTENNA1", "ANTENNA2", "TIME"])
    flag = main["FLAG"]
    assert np.all(flag == flag[..., :1])  # correlations flagged together
    start = np.unique(main["TIME"])[0]  # flag_time_ranges_s [[0, 0.45]]
    assert flag[main["TIME"] == start].all()
    baseline = (main["ANTENNA1"] == 0) & (main["ANTENNA2"] == 1)
    assert flag[baseline].all()
    np.testing.assert_array_equal(main["FLAG_ROW"], flag.all(axis=(1, 2)))
    rest = flag[(main["TIME"] != start) & ~baseline]
    assert rest.mean() == pytest.approx(0.1, abs=0.01)
