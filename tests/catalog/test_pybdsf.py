"""The finder against PyBDSF (the ``bdsf`` wheel) on the same seeded image."""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from astropy.table import Table

from vlassdask.testing.fits import write_vlass_fits

bdsf = pytest.importorskip("bdsf")  # a test extra: CI installs it


@pytest.fixture(scope="module")
def pybdsf_sources(source_image, tmp_path_factory):
    ds, _ = source_image
    beam = ds.attrs["restoring_beam"]
    directory = tmp_path_factory.mktemp("pybdsf")
    image = write_vlass_fits(directory / "image.fits", ds["SKY"].values[0, 0, 0],
                             beam_arcsec=(beam["major_arcsec"], beam["minor_arcsec"],
                                          beam["pa_deg"]))  # fmt: skip
    result = bdsf.process_image(str(image), rms_box=(60, 20), rms_box_bright=(20, 6),
                                adaptive_rms_box=True, thresh_isl=3.0, thresh_pix=5.0,
                                quiet=True, ncores=1)  # fmt: skip
    out = directory / "image.srl.fits"
    result.write_catalog(outfile=str(out), format="fits", catalog_type="srl", clobber=True)
    return Table.read(out).to_pandas()


def test_pybdsf_components_above_7_sigma_are_found_with_the_same_flux(pybdsf_sources,
                                                                      source_catalog):
    theirs = pybdsf_sources[pybdsf_sources["Peak_flux"] > 7 * pybdsf_sources["Isl_rms"]]
    assert len(theirs) > 150
    a = SkyCoord(theirs["RA"].to_numpy() * u.deg, theirs["DEC"].to_numpy() * u.deg)
    b = SkyCoord(source_catalog["RA"].to_numpy() * u.deg,
                 source_catalog["DEC"].to_numpy() * u.deg)
    index, sep, _ = a.match_to_catalog_sky(b)
    hit = sep.arcsec <= 1.0
    assert hit.mean() >= 0.98
    ratio = source_catalog["Total_flux"].to_numpy()[index[hit]] / (
        theirs["Total_flux"].to_numpy()[hit] * 1e3)  # PyBDSF writes Jy, we mJy
    assert abs(np.median(ratio) - 1) <= 0.01
    rms_ratio = source_catalog["Isl_rms"].to_numpy()[index[hit]] / (
        theirs["Isl_rms"].to_numpy()[hit] * 1e3)
    assert abs(np.median(rms_ratio) - 1) <= 0.03
