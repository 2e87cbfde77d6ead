"""Coarse cubes end to end on simulated OTF data (SPEC "Coarse cubes")."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from astropy.io import fits
from dask.callbacks import Callback

from vlassdask.errors import ConfigError, InputError
from vlassdask.io.image_schema import check_image
from vlassdask.io.image_store import open_image_store
from vlassdask.products.coarse_cube import make_coarse_cube, plan_coarse_cube
from vlassdask.products.coarse_cube_config import CoarseCubeConfig
from vlassdask.products.simulation import simulate_observation
from vlassdask.qa.plane_rejection import IMAGED, NOT_IMAGED, REJECTED
from vlassdask.testing.otf import DEC_DEG, PHASE_CENTER, RA_DEG, otf_config

SPWS = (0, 3, 6, 9, 12, 15)
P_FRACTION, CHI_DEG, ALPHA, RM = 0.2, 30.0, -0.7, 50.0
C = 299792458.0
#: A tiny cube for CI: 256^2 planes of 1", cleaned to a threshold (noise-free data).
TINY = {"cube": {"imsize": 256, "subimage_size": 192},
        "clean": {"nsigma": 0.0, "threshold_jy": 0.002}}


def tiny_config(**sections) -> CoarseCubeConfig:
    doc = {k: dict(v) for k, v in TINY.items()}
    for name, values in sections.items():
        doc.setdefault(name, {}).update(values)
    return CoarseCubeConfig.from_document(doc)


@pytest.fixture(scope="module")
def polarised_ms(tmp_path_factory):
    base = tmp_path_factory.mktemp("cube_ms")
    sky = pd.DataFrame({"ra_deg": [RA_DEG], "dec_deg": [DEC_DEG], "flux_jy": [1.0],
                        "spectral_index": [ALPHA], "pol_fraction": [P_FRACTION],
                        "pol_angle_deg": [CHI_DEG], "rotation_measure": [RM]})
    return simulate_observation(otf_config(spw_ids=SPWS), sky, base / "otf.ms")


@pytest.fixture(scope="module")
def cube(polarised_ms, tmp_path_factory):
    out = tmp_path_factory.mktemp("cube_products")
    return make_coarse_cube(polarised_ms, PHASE_CENTER, out, tiny_config()), out


def _centre(ds, variable="SKY_PBCOR"):
    n = ds.sizes["l"]
    return ds[variable].isel(time=0, l=n // 2, m=n // 2).values


def test_graph_is_built_without_reading_data(polarised_ms, tmp_path):
    executed = []
    with Callback(pretask=lambda key, dsk, state: executed.append(key)):
        plan = plan_coarse_cube(polarised_ms, PHASE_CENTER, tmp_path, tiny_config())
        tasks = plan.tasks()  # the whole cube: flags -> decisions -> planes, and V
    assert executed == []
    assert plan.spws == list(range(len(SPWS))) and len(tasks) == len(SPWS) + 1
    assert np.all(np.diff(plan.frequencies_hz) > 0)
    assert not any(tmp_path.iterdir())  # nothing written either


def test_cube_store_validates_and_holds_every_plane(cube):
    product, _ = cube
    ds = open_image_store(product.names.store)
    check_image(ds, "cube")
    assert (ds.sizes["frequency"], ds.sizes["polarization"]) == (6, 3)
    assert list(ds.polarization.values) == ["I", "Q", "U"]
    assert (ds.PLANE_STATUS.values == 0).all() and (ds.FLAG_FRACTION.values == 0).all()
    assert product.accepted == list(range(6))
    beams = ds.BEAM.values[0, :, 0]
    assert np.all(np.diff(beams[:, 0]) < 0)  # beams shrink with frequency
    planes = ds.attrs["planes"]
    for p, f in zip(planes, ds.frequency.values, strict=True):
        assert p["reference_frequency_hz"] == pytest.approx(f)
        assert p["status"] == IMAGED and p["reasons"] == []
        assert p["position_correction"]["freq_hz"] == pytest.approx(f, rel=1e-3)
    # 2-D mosaic gridding: each plane gets its own w-term position correction (its amplitude
    # from the plane's own field weights at the image centre)
    shifts = np.array([p["position_correction"]["shift_arcsec"] for p in planes])
    assert np.all(shifts > 0) and np.unique(np.round(shifts, 6)).size == len(planes)
    rms = ds.RMS.isel(time=0, polarization=1).values
    assert np.isfinite(rms).any()  # a noise image per plane


def test_polarisation_and_spectral_index_recovered(cube):
    product, _ = cube
    ds = open_image_store(product.names.store)
    i, q, u = _centre(ds).T
    freqs = ds.frequency.values
    np.testing.assert_allclose(i, (freqs / 3e9) ** ALPHA, rtol=0.01)
    np.testing.assert_allclose(np.hypot(q, u) / i, P_FRACTION, atol=0.02)
    lambda2 = (C / freqs) ** 2
    chi = 0.5 * np.unwrap(np.arctan2(u, q))  # radians, per plane
    off = np.degrees(chi) - CHI_DEG - np.degrees(RM * lambda2)
    assert np.all(np.abs((off + 90.0) % 180.0 - 90.0) < 2.0)  # angles are modulo 180 deg
    rm, chi0 = np.polyfit(lambda2, chi, 1)  # rotation measure from the planes' angles
    assert rm == pytest.approx(RM, abs=5.0)
    assert abs((np.degrees(chi0) - CHI_DEG + 90.0) % 180.0 - 90.0) < 2.0
    alpha = open_image_store(product.names.alpha_store)
    n = alpha.sizes["l"]
    assert float(alpha.ALPHA.values[0, 0, 0, n // 2, n // 2]) == pytest.approx(ALPHA, abs=0.05)
    assert 0 < float(alpha.ALPHA_ERROR.values[0, 0, 0, n // 2, n // 2]) < 0.05
    v = open_image_store(product.names.v_store)
    assert list(v.polarization.values) == ["V"]
    assert abs(float(_centre(v)[0, 0])) < 1e-3  # no circular polarisation simulated


def test_per_spw_fits_have_frequency_axis_beams_and_names(cube):
    product, _ = cube
    ds = open_image_store(product.names.store)
    for k, spw in enumerate(product.accepted):
        paths = product.names.plane_fits(spw)
        assert paths["SKY_PBCOR"].name == (f"VLASS1.2.cc.T16t14.{PHASE_CENTER}.10.2048.v1.spw"
                                           f"{spw}.IQU.iter3.image.pbcor.tt0.subim.fits")
        with fits.open(paths["SKY_PBCOR"]) as hdul:
            header = hdul[0].header
            assert hdul[0].data.shape == (3, 1, 192, 192)
            assert header["CTYPE3"] == "FREQ"
            assert header["CRVAL3"] == pytest.approx(float(ds.frequency.values[k]))
            assert (header["CTYPE4"], header["CRVAL4"], header["CDELT4"]) == ("STOKES", 1, 1)
            assert header["REJECTED"] is False and header["FILNAM09"] == f"spw{spw}"
            table = hdul["BEAMS"].data
            assert len(table) == 3
            np.testing.assert_allclose(table["BMAJ"], ds.BEAM.values[0, k, :, 0], rtol=1e-6)
            # the plane's own position correction moved its reference pixel's coordinates
            pc = ds.attrs["planes"][k]["position_correction"]
            shift = np.hypot((header["CRVAL1"] - pc["ra_uncorrected"])
                             * np.cos(np.radians(header["CRVAL2"])),
                             header["CRVAL2"] - pc["dec_uncorrected"]) * 3600
            assert shift == pytest.approx(pc["shift_arcsec"], rel=1e-3)
        assert paths["RMS"].exists()


def test_common_beam_cube_and_report(cube):
    product, out = cube
    common = open_image_store(product.names.common_beam_store)
    target = common.BEAM.values[0, 0, 0]
    beams = open_image_store(product.names.store).BEAM.values[0, :, 0]
    assert target[0] >= beams[:, 0].max() - 1e-6 and target[1] >= beams[:, 1].max() - 1e-6
    assert np.allclose(common.BEAM.values[0, :, :, :2], target[:2])
    # a point source keeps its peak in Jy/beam, now spread over the common beam's area
    sky = common.SKY.isel(time=0, polarization=0).values
    n = sky.shape[-1]
    peak = sky[:, n // 2, n // 2]
    np.testing.assert_allclose(peak, _centre(open_image_store(product.names.store))[:, 0],
                               rtol=0.01)
    beam_pixels = np.pi / (4 * np.log(2)) * target[0] * target[1]  # 1" cells
    box = sky[:, n // 2 - 20: n // 2 + 21, n // 2 - 20: n // 2 + 21]
    np.testing.assert_allclose(box.sum(axis=(1, 2)) / beam_pixels, peak, rtol=0.03)
    html = (product.names.report / "report.html").read_text()
    assert "planes.png" in html and html.count("<tr") == 7
    assert (product.names.report / "planes.png").stat().st_size > 10_000
    summary = json.loads(product.names.summary.read_text())
    assert summary["accepted"] == product.accepted
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no scratch left


def test_config_naming_missing_spws_is_refused(polarised_ms, tmp_path):
    with pytest.raises(InputError, match=r"cube.spws names spectral window\(s\) \[7\] that .* "
                                         r"lacks \(it has \[0, 1, 2, 3, 4, 5\]\)"):
        plan_coarse_cube(polarised_ms, PHASE_CENTER, tmp_path, tiny_config(cube={"spws": [1, 7]}))


def test_config_document_matches_builtin_defaults():
    from vlassdask.io.config_files import read_yaml_mapping

    doc = read_yaml_mapping("pipelines/coarse_cube.yaml", what="coarse-cube configuration")
    assert CoarseCubeConfig.from_document(doc) == CoarseCubeConfig()
    assert CoarseCubeConfig.from_document(doc, preset="small") == \
        CoarseCubeConfig.from_document({}, preset="small")
    default = CoarseCubeConfig()
    imaging = default.plane.imaging
    assert (imaging.cell_arcsec, imaging.taper_arcsec, imaging.gridder) == (1.0, 2.0, "2d")
    assert (default.imsize, default.stokes, default.rejection.max_flagged_fields) == \
        (7290, "IQU", 12)


@pytest.mark.parametrize("doc, says", [
    ({"cube": {"stokes": "IQUV"}}, "cube.stokes must be distinct letters of IQU"),
    ({"imaging": {"imsize": 512}}, "imsize of coarse cubes is set under cube"),
    ({"imaging": {"stokes": "I"}}, "set under cube .stokes."),
    ({"cube": {"spws": [1, "a"]}}, "cube.spws must be a list"),
    ({"cube": {"colour": 1}}, "unknown cube option"),
    ({"cubes": {}}, "unknown coarse-cube section"),
])  # fmt: skip
def test_bad_configuration_is_refused(doc, says):
    with pytest.raises(ConfigError, match=says):
        CoarseCubeConfig.from_document(doc)


#: Spectral windows of the rejection case and what each must come out as (MS spw = index).
REJECTION_SPWS = (0, 2, 4, 6, 8, 10, 12, 14, 15)
REJECTION_RULES = [
    {"spw": 4, "fields": list(range(20))},        # > 12 fields flagged: not imaged
    {"spw": 6},                                   # all flagged: not imaged
    {"spw": 10, "fraction": 0.85},                # 85% flagged everywhere: rejected after
    {"spw": 12, "longer_than_m": 2500.0},         # long baselines flagged: beam too wide
]


@pytest.fixture(scope="module")
def flagged_cube(tmp_path_factory):
    base = tmp_path_factory.mktemp("cube_flags")
    sky = pd.DataFrame({"ra_deg": [RA_DEG], "dec_deg": [DEC_DEG], "flux_jy": [1.0],
                        "spectral_index": [ALPHA]})
    sim = otf_config(spw_ids=REJECTION_SPWS, flag_spws=REJECTION_RULES)
    ms = simulate_observation(sim, sky, base / "otf.ms")
    return make_coarse_cube(ms, PHASE_CENTER, base / "out", tiny_config(
        cube={"band_averaged_v": False}))


def test_flagged_planes_are_rejected_exactly_as_the_rules_say(flagged_cube):
    planes = {p["spw"]: p for p in flagged_cube.planes}  # MS spw = index into REJECTION_SPWS
    status = {REJECTION_SPWS[s]: p["status"] for s, p in planes.items()}
    assert status == {0: IMAGED, 2: IMAGED, 4: NOT_IMAGED, 6: NOT_IMAGED, 8: IMAGED,
                      10: REJECTED, 12: REJECTED, 14: IMAGED, 15: IMAGED}
    reasons = {REJECTION_SPWS[s]: p["reasons"] for s, p in planes.items()}
    assert len(reasons[4]) == 1 and "fields are more than 90% flagged (limit 12)" in reasons[4][0]
    assert reasons[6] == ["the spectral window is fully flagged"]
    assert len(reasons[10]) == 1 and reasons[10][0].startswith("85.")
    assert "of the spectral window is flagged (limit 80%)" in reasons[10][0]
    assert len(reasons[12]) >= 1 and all(r.startswith("beam ") for r in reasons[12])
    ds = open_image_store(flagged_cube.names.store)
    np.testing.assert_array_equal(ds.PLANE_STATUS.values[0, :, 0], [0, 0, 1, 1, 0, 2, 2, 0, 0])
    assert np.isnan(ds.SKY.values[0, 2]).all() and np.isnan(ds.BEAM.values[0, 3]).all()
    assert ds.FLAG_FRACTION.values[0, 3, 0] == 1.0
    # rejected planes keep their images, flagged, and stay out of spectral use
    assert np.isfinite(ds.SKY.values[0, 5]).any()
    alpha = open_image_store(flagged_cube.names.alpha_store)
    assert alpha.attrs["planes_used"] == [0, 1, 4, 7, 8]
    n = alpha.sizes["l"]
    assert float(alpha.ALPHA.values[0, 0, 0, n // 2, n // 2]) == pytest.approx(ALPHA, abs=0.05)
    common = open_image_store(flagged_cube.names.common_beam_store)
    assert np.isnan(common.SKY.values[0, 5]).all()  # a rejected plane is not convolved
    with fits.open(flagged_cube.names.plane_fits(6)["SKY_PBCOR"]) as hdul:  # spw 12
        assert hdul[0].header["REJECTED"] is True and hdul[0].header["REJREA1"].startswith("beam")
    assert not flagged_cube.names.plane_fits(2)["SKY_PBCOR"].exists()  # not imaged: no FITS
