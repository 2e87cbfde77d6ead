"""Simulated rotation measures, circular polarisation, linear feeds and parallel-hand-only data."""

import numpy as np
import pandas as pd
import pytest
from daskms import xds_from_ms, xds_from_table

from vlassdask.errors import InputError
from vlassdask.imaging.stokes import circular_to_linear
from vlassdask.io.config_files import load_sky_model
from vlassdask.simulate.sky import SkyModel
from vlassdask.testing.ms import make_test_ms, sample_sky

from .helpers import read_table

C = 299792458.0
P, CHI0_DEG, RM, ALPHA, V_FRACTION = 0.3, 20.0, 40.0, -0.7, 0.1
#: One polarised source at the test MS's phase centre (primary beam 1).
POLARISED = pd.DataFrame({"ra_deg": [150.0], "dec_deg": [34.0], "flux_jy": [1.0],
                          "spectral_index": [ALPHA], "pol_fraction": [P],
                          "pol_angle_deg": [CHI0_DEG], "rotation_measure": [RM],
                          "circular_fraction": [V_FRACTION]})
#: Stokes I, Q, U, V from the four correlations of each feed basis (sky frame).
TO_STOKES = {
    "circular": lambda c: ((c[0] + c[3]) / 2, (c[1] + c[2]) / 2, -1j * (c[1] - c[2]) / 2,
                           (c[0] - c[3]) / 2),
    "linear": lambda c: ((c[0] + c[3]) / 2, (c[0] - c[3]) / 2, (c[1] + c[2]) / 2,
                         -1j * (c[1] - c[2]) / 2),
}


@pytest.fixture(scope="module")
def feed_pair(tmp_path_factory):
    """Noise-free circular and linear MSs of the same sky (seed, layout): ``{feeds: path}``."""
    base = tmp_path_factory.mktemp("feeds")
    sky = pd.concat([sample_sky().table, POLARISED], ignore_index=True)
    common = {"sky": sky, "duration_s": 0.9, "spw_ids": [0, 7, 15], "nchan_per_spw": 4}
    return {feeds: make_test_ms(base, name=f"{feeds}.ms", feeds=feeds, **common)
            for feeds in ("circular", "linear")}


def _natural_stokes_per_channel(ms, feeds):
    """Stokes I, Q, U, V per spectral window and channel: the natural-weighted mean of each
    Stokes combination of the correlations over all rows, shape (4, spw, chan)."""
    main = read_table(ms, ["DATA", "WEIGHT", "DATA_DESC_ID"])
    stokes = TO_STOKES[feeds](np.moveaxis(main["DATA"].astype(np.complex128), -1, 0))
    weight = main["WEIGHT"][:, None, 0]
    ddids = np.unique(main["DATA_DESC_ID"])
    return np.array([[(s[main["DATA_DESC_ID"] == d] * weight[main["DATA_DESC_ID"] == d]).sum(0)
                      / weight[main["DATA_DESC_ID"] == d].sum() for d in ddids] for s in stokes])


@pytest.mark.parametrize("feeds", ["circular", "linear"])
def test_rotation_measure_turns_q_and_u_per_channel(tmp_path, feeds):
    """At the phase centre every visibility is the source's flux: the mean of each Stokes
    combination over rows is p I cos 2chi(lambda), p I sin 2chi(lambda) per channel."""
    ms = make_test_ms(tmp_path, sky=POLARISED, duration_s=0.9, spw_ids=[0, 7, 15],
                      nchan_per_spw=4, feeds=feeds)
    freqs = read_table(ms, ["CHAN_FREQ"], "SPECTRAL_WINDOW")["CHAN_FREQ"]
    i, q, u, v = _natural_stokes_per_channel(ms, feeds)
    flux = (freqs / 3e9) ** ALPHA
    chi = np.radians(CHI0_DEG) + RM * (C / freqs) ** 2
    np.testing.assert_allclose(i, flux, atol=1e-6)
    np.testing.assert_allclose(q, P * flux * np.cos(2 * chi), atol=1e-6)
    np.testing.assert_allclose(u, P * flux * np.sin(2 * chi), atol=1e-6)
    np.testing.assert_allclose(v, V_FRACTION * flux, atol=1e-6)
    assert np.ptp(chi) > 0.6  # the angle turns by more than 0.6 rad across the band


def test_linear_feeds_are_circular_to_linear_of_the_same_sky(feed_pair):
    """Both MSs read back with dask-ms: the noise-free linear DATA are exactly
    circular_to_linear of the circular DATA (off-centre, extended and polarised sources)."""
    data = {}
    for feeds, ms in feed_pair.items():
        datasets = xds_from_ms(str(ms), columns=["DATA", "FLAG"], group_cols=["DATA_DESC_ID"])
        data[feeds] = np.concatenate([ds.DATA.values for ds in datasets])
    assert np.abs(data["circular"][..., 1]).max() > 0.01  # the cross-hands carry Q and U
    np.testing.assert_allclose(data["linear"], circular_to_linear(data["circular"]), atol=2e-7)


def test_linear_feed_ms_metadata(feed_pair):
    pol = xds_from_table(f"{feed_pair['linear']}::POLARIZATION")[0]
    assert pol.CORR_TYPE.values.tolist() == [[9, 10, 11, 12]]
    assert pol.CORR_PRODUCT.values.tolist() == [[[0, 0], [0, 1], [1, 0], [1, 1]]]
    assert pol.NUM_CORR.values.tolist() == [4]
    feed = read_table(feed_pair["linear"], ["POLARIZATION_TYPE", "RECEPTOR_ANGLE"], "FEED")
    assert feed["POLARIZATION_TYPE"]["array"] == ["X", "Y"] * 27
    np.testing.assert_allclose(feed["RECEPTOR_ANGLE"], [[0.0, np.pi / 2]] * 27)
    circular = read_table(feed_pair["circular"], ["POLARIZATION_TYPE"], "FEED")
    assert circular["POLARIZATION_TYPE"]["array"] == ["R", "L"] * 27
    assert read_table(feed_pair["circular"], ["CORR_TYPE"], "POLARIZATION")[
        "CORR_TYPE"].tolist() == [[5, 6, 7, 8]]


def test_linear_noise_is_drawn_per_correlation(tmp_path):
    """Noise is added after the conversion: each linear correlation has the configured sigma."""
    sky = POLARISED.assign(flux_jy=0.0)
    ms = make_test_ms(tmp_path, sky=sky, feeds="linear", noise_sigma_jy=0.5, spw_ids=[3])
    data = read_table(ms, ["DATA"])["DATA"]
    np.testing.assert_allclose(data.real.std(axis=(0, 1)), 0.5, rtol=0.03)
    np.testing.assert_allclose(data.imag.std(axis=(0, 1)), 0.5, rtol=0.03)


def test_parallel_hands_only(tmp_path):
    ms = make_test_ms(tmp_path, sky=POLARISED, duration_s=0.45, spw_ids=[3],
                      correlations="parallel", weight_spectrum=True)
    main = read_table(ms, ["DATA", "FLAG", "WEIGHT", "WEIGHT_SPECTRUM"])
    assert main["DATA"].shape[-1] == main["FLAG"].shape[-1] == 2
    assert main["WEIGHT"].shape[-1] == main["WEIGHT_SPECTRUM"].shape[-1] == 2
    freqs = read_table(ms, ["CHAN_FREQ"], "SPECTRAL_WINDOW")["CHAN_FREQ"][0]
    flux = (freqs / 3e9) ** ALPHA
    rr_ll = np.stack([flux * (1 + V_FRACTION), flux * (1 - V_FRACTION)], axis=-1)
    np.testing.assert_allclose(main["DATA"], np.broadcast_to(rr_ll, main["DATA"].shape),
                               atol=1e-6)  # RR = I + V, LL = I - V at the centre
    assert read_table(ms, ["CORR_TYPE"], "POLARIZATION")["CORR_TYPE"].tolist() == [[5, 8]]


def test_sky_polarisation_columns():
    sky = SkyModel(POLARISED)
    freqs = np.array([2e9, 3e9, 4e9])
    stokes = sky.stokes_per_channel(freqs)[0]
    chi = np.radians(CHI0_DEG) + RM * (C / freqs) ** 2
    np.testing.assert_allclose(stokes[:, 1] + 1j * stokes[:, 2],
                               P * stokes[:, 0] * np.exp(2j * chi))
    np.testing.assert_allclose(stokes[:, 3], V_FRACTION * stokes[:, 0])
    default = SkyModel(POLARISED.drop(columns=["rotation_measure", "circular_fraction"]))
    assert (default.column("rotation_measure") == 0).all()
    assert (default.stokes_per_channel(freqs)[0, :, 3] == 0).all()


@pytest.mark.parametrize("values, says", [
    ({"circular_fraction": 1.5}, "circular_fraction must be in \\[-1, 1\\]"),
    ({"pol_fraction": 0.8, "circular_fraction": -0.7},
     "pol_fraction\\^2 \\+ circular_fraction\\^2 must not exceed 1"),
    ({"rotation_measure": np.inf}, "values must be finite"),
])  # fmt: skip
def test_bad_polarisation_columns_are_refused(values, says):
    with pytest.raises(InputError, match=says):
        SkyModel(POLARISED.assign(**values))


def test_sky_files_carry_rotation_measure(tmp_path):
    csv = tmp_path / "sky.csv"
    csv.write_text("ra_deg,dec_deg,flux_jy,pol_fraction,rotation_measure\n150,34,1,0.1,-120\n")
    yml = tmp_path / "sky.yaml"
    yml.write_text("sky:\n  - {ra_deg: 150, dec_deg: 34, flux_jy: 1, rotation_measure: -120,\n"
                   "     circular_fraction: 0.01}\n")
    assert load_sky_model(csv).column("rotation_measure").tolist() == [-120.0]
    yaml_sky = load_sky_model(yml)
    assert yaml_sky.column("rotation_measure").tolist() == [-120.0]
    assert yaml_sky.column("circular_fraction").tolist() == [0.01]
