"""The w-term position correction: sizes, a real archive header, FITS headers and image Datasets."""

import numpy as np
import pytest
import xarray as xr
from astropy.io import fits
from astropy.time import Time
from scipy.optimize import minimize_scalar

import vlassdask  # noqa: F401
from vlassdask.errors import ConfigError, InputError
from vlassdask.survey import (
    apply_position_correction,
    apply_position_correction_to_header,
    correction_magnitude,
    position_correction,
)

# VLASS1.1.ql.T06t24.J152614-163000...rms.subim.fits (NRAO archive): uncorrected 231.56045, -16.5;
# CRVAL1/2 after the pipeline's correction; its HISTORY: (-4.724E-02/cos(CRVAL2), -3.052E-01)"
REAL = {
    "ra": 231.56045,
    "dec": -16.5,
    "crval1": 231.5604363154962,
    "crval2": -16.50008477186014,
    "date_obs": "2018-02-08T13:41:34.125",
    "east": -4.724e-2,
    "north": -3.052e-1,
}
CASA_VLA = {"lon_deg": -107.61833, "lat_deg": 33.90049}  # the pipeline's VLA position


@pytest.mark.parametrize(("zd", "expected"), [(30, 0.14), (45, 0.25), (60, 0.43), (74, 0.88)])
def test_magnitudes_at_3ghz(zd, expected):
    # SPEC.md quotes two decimals; 0.25" tan(74 deg) = 0.872"
    assert correction_magnitude(zd) == pytest.approx(expected, abs=0.01)


def test_frequency_scaling_and_broadcasting():
    sizes = correction_magnitude(45.0, np.array([2e9, 3e9, 4e9]))
    np.testing.assert_allclose(sizes, 0.25 * np.array([2.25, 1.0, 0.5625]))
    corr = position_correction(231.56045, -16.5, 58157.58, freq_hz=np.array([[2.052e9], [3.948e9]]))
    assert corr.shift_arcsec.shape == (2, 1)
    assert corr.shift_arcsec[0, 0] / corr.shift_arcsec[1, 0] == pytest.approx((3.948 / 2.052) ** 2)
    np.testing.assert_allclose(np.hypot(corr.east_arcsec, corr.north_arcsec), corr.shift_arcsec)


def test_direction_follows_spec():
    corr = position_correction(100.0, 20.0, 58500.3)
    chi, dec = np.radians(corr.parallactic_angle), np.radians(20.0)
    shift_deg = corr.shift_arcsec / 3600
    assert corr.ra_corrected == pytest.approx(100.0 - shift_deg * np.sin(chi) / np.cos(dec))
    assert corr.dec_corrected == pytest.approx(20.0 - shift_deg * np.cos(chi))


def test_reproduces_a_real_archive_correction():
    """A mean time exists that gives both recorded shift components and the header's CRVALs."""
    t0 = Time(REAL["date_obs"], scale="utc").mjd

    def misfit(hours):
        c = position_correction(REAL["ra"], REAL["dec"], t0 + hours / 24, **CASA_VLA)
        return float(np.hypot(c.east_arcsec - REAL["east"], c.north_arcsec - REAL["north"]))

    best = minimize_scalar(misfit, bounds=(0.0, 1.0), method="bounded", options={"xatol": 1e-6})
    assert best.fun < 1e-3  # arcsec; the history rounds to 4 digits
    c = position_correction(REAL["ra"], REAL["dec"], t0 + best.x / 24, **CASA_VLA)
    assert float(c.ra_corrected) == pytest.approx(REAL["crval1"], abs=1e-7)
    assert float(c.dec_corrected) == pytest.approx(REAL["crval2"], abs=1e-7)


def _header():
    h = fits.Header()
    h["CTYPE1"], h["CRVAL1"], h["CDELT1"], h["CRPIX1"] = "RA---SIN", 231.56045, -2.7778e-4, 1861.0
    h["CTYPE2"], h["CRVAL2"], h["CDELT2"], h["CRPIX2"] = "DEC--SIN", -16.5, 2.7778e-4, 1861.0
    h["CTYPE3"], h["CRVAL3"] = "FREQ", 3.0e9
    h["DATE-OBS"], h["DATE-END"], h["TIMESYS"] = "2018-02-08T13:41:34", "2018-02-08T14:10:00", "UTC"
    return h


def test_apply_to_fits_header():
    header = _header()
    out = apply_position_correction_to_header(header)  # mean time: DATE-OBS/DATE-END midpoint
    assert header["CRVAL1"] == 231.56045  # input untouched
    mjd = Time(["2018-02-08T13:41:34", "2018-02-08T14:10:00"], scale="utc").mjd.mean()
    corr = position_correction(231.56045, -16.5, mjd)
    assert out["CRVAL1"] == pytest.approx(float(corr.ra_corrected), abs=1e-12)
    assert out["CRVAL2"] == pytest.approx(float(corr.dec_corrected), abs=1e-12)
    assert out["TELMJD"] == pytest.approx(mjd) and out["ZD"] == pytest.approx(corr.zenith_distance)
    history = [str(h) for h in out["HISTORY"]]
    assert history[0] == "Uncorrected CRVAL1 = 2.315604500000E+02 deg"
    assert history[1] == "Uncorrected CRVAL2 = -1.650000000000E+01 deg"
    assert history[-1].startswith("Position correction (") and history[-1].endswith("applied")
    with pytest.raises(InputError, match="already"):
        apply_position_correction_to_header(out)


def test_header_frequency_and_missing_time():
    header = _header()
    header["CRVAL3"] = 2.0e9
    low = apply_position_correction_to_header(header, 58157.58)
    ref = apply_position_correction_to_header(header, 58157.58, freq_hz=3e9)
    d_low = (low["CRVAL2"] - header["CRVAL2"]) * 3600
    d_ref = (ref["CRVAL2"] - header["CRVAL2"]) * 3600
    assert d_low / d_ref == pytest.approx(2.25)
    del header["DATE-END"]
    with pytest.raises(InputError, match="mean observing time"):
        apply_position_correction_to_header(header)


def _image():
    data = np.zeros((1, 1, 1, 8, 8), dtype=np.float32)
    ds = xr.Dataset({"SKY": (("time", "frequency", "polarization", "l", "m"), data)})
    ds.attrs["fits_header"] = {k: v for k, v in _header().items() if k not in ("DATE-END",)}
    ds.attrs["history"] = ["made"]
    return ds


def test_apply_to_image_dataset():
    ds = _image()
    out = apply_position_correction(ds, 58157.58, freq_hz=2.5e9)
    corr = position_correction(231.56045, -16.5, 58157.58, freq_hz=2.5e9)
    assert ds.attrs["fits_header"]["CRVAL1"] == 231.56045 and "position_correction" not in ds.attrs
    assert out.attrs["fits_header"]["CRVAL1"] == pytest.approx(float(corr.ra_corrected))
    assert out.attrs["fits_header"]["CRVAL2"] == pytest.approx(float(corr.dec_corrected))
    rec = out.attrs["position_correction"]
    assert rec["ra_uncorrected"] == 231.56045 and rec["dec_uncorrected"] == -16.5
    assert rec["shift_arcsec"] == pytest.approx(float(corr.shift_arcsec))
    assert rec["freq_hz"] == 2.5e9 and rec["mjd"] == 58157.58
    assert set(rec) >= {"zenith_distance_deg", "parallactic_angle_deg"}
    assert all(isinstance(v, float) for v in rec.values())  # JSON/Zarr-safe
    assert out.attrs["history"][0] == "made" and out.attrs["history"][-1].startswith("Position")
    assert out["SKY"].data is ds["SKY"].data  # data shared, not copied
    with pytest.raises(InputError, match="already"):
        apply_position_correction(out, 58157.58)
    with pytest.raises(InputError, match="mean observing time"):
        apply_position_correction(ds)
    with pytest.raises(InputError, match="fits_header"):
        apply_position_correction(xr.Dataset(), 58157.58)


def test_bad_values():
    with pytest.raises(ConfigError, match="frequency"):
        correction_magnitude(30.0, 0.0)
    with pytest.raises(ConfigError, match="horizon"):
        correction_magnitude(95.0)
