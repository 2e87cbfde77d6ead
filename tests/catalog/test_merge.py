"""Survey merge: duplicates in image overlaps, Quality_flag bits, spectral indices."""

from __future__ import annotations

import dask.array as da
import numpy as np
import pandas as pd
import pytest

from vlassdask.catalog.find import find_sources
from vlassdask.catalog.merge import merge_catalogs, quality_flags
from vlassdask.catalog.spectral_index import spectral_indices
from vlassdask.errors import InputError
from vlassdask.io.image_schema import celestial_wcs
from vlassdask.io.image_store import write_image_store
from vlassdask.products.catalog import catalog_table
from vlassdask.testing.sources import make_source_image

DEC = 30.0
COS = np.cos(np.radians(DEC))


@pytest.fixture(scope="module")
def overlapping():
    """Two 384^2 images 250" apart in RA with a 134" overlap; one source in the overlap,
    one in each image alone."""
    sky = pd.DataFrame({"ra": [150.0, 150.0 - 250 / 3600 / COS, 150.0 + 250 / 3600 / COS],
                        "dec": [DEC, DEC + 20 / 3600, DEC - 20 / 3600],
                        "flux_mjy": [5.0, 3.0, 4.0]})
    centres = [(150.0 - 125 / 3600 / COS, DEC), (150.0 + 125 / 3600 / COS, DEC)]
    catalogs = []
    for k, centre in enumerate(centres):
        ds, truth = make_source_image(nx=384, ny=384, phase_center_deg=centre, sky_sources=sky,
                                      seed=20 + k)
        assert len(truth) == 2
        catalogs.append(find_sources(ds, image_name=f"image{k}"))
    return catalogs


def test_overlap_source_appears_once_flagged_preferred(overlapping):
    merged = merge_catalogs(overlapping)
    assert len(merged) == 3
    near = np.hypot((merged["RA"] - 150.0) * COS, merged["DEC"] - DEC) * 3600 < 1
    assert near.sum() == 1
    assert merged.loc[near, "Duplicate_flag"].item() == 1
    assert (merged.loc[~near, "Duplicate_flag"] == 0).all()
    snr = [c.loc[np.hypot((c["RA"] - 150.0) * COS, c["DEC"] - DEC) * 3600 < 1]
           for c in overlapping]
    best = max(snr, key=lambda t: (t["Peak_flux"] / t["Isl_rms"]).item())
    assert merged.loc[near, "Image"].item() == best["Image"].item()


def test_keep_duplicates_keeps_the_other_copy_with_flag_2(overlapping):
    merged = merge_catalogs(overlapping, keep_duplicates=True)
    assert sorted(merged["Duplicate_flag"]) == [0, 0, 1, 2]
    twins = merged[merged["Duplicate_flag"] > 0]
    assert twins["NN_dist"].iloc[0] == pytest.approx(twins["NN_dist"].iloc[1], abs=0.1)
    assert (merged["NN_dist"] > 200).all()


def test_same_image_twice_is_refused(overlapping):
    with pytest.raises(InputError, match="different images"):
        merge_catalogs([overlapping[0], overlapping[0]])


def test_quality_flag_bits():
    table = pd.DataFrame({"NN_dist": [30.0, 30.0, 5.0, 30.0], "Peak_to_ring": [1.5, 10, 1.5, 10],
                          "Peak_flux": [1.0, 0.4, 1.0, 2.0], "Isl_rms": [0.1, 0.1, 0.1, 0.1],
                          "Total_flux": [2.0, 1.0, 0.9, 1.0]})
    assert list(quality_flags(table)) == [1, 2, 4, 4]


def test_spectral_index_is_the_mean_of_the_3x3_block_around_the_peak_pixel():
    ds, _ = make_source_image(nx=256, ny=256, n_sources=8, seed=9)
    cat = find_sources(ds)
    x, y = np.meshgrid(np.arange(256), np.arange(256), indexing="ij")
    alpha = -0.7 + 0.001 * x + 0.002 * y**1.5
    error = np.full((256, 256), 0.05)
    values, errors = spectral_indices(cat, da.from_array(alpha, chunks=64),
                                      celestial_wcs(ds), da.from_array(error, chunks=64))
    wcs = celestial_wcs(ds)
    px, py = wcs.wcs_world2pix(cat["RA_max"], cat["DEC_max"], 0)
    for k, (i, j) in enumerate(zip(np.rint(px).astype(int), np.rint(py).astype(int),
                                   strict=True)):
        assert values[k] == pytest.approx(alpha[i - 1:i + 2, j - 1:j + 2].mean(), rel=1e-12)
    np.testing.assert_allclose(errors, 0.05)
    scatter = spectral_indices(cat, da.from_array(alpha, chunks=64), wcs)[1]
    assert (scatter > 0).all()


def test_a_zarr_store_with_alpha_gets_spectral_indices(tmp_path):
    ds, truth = make_source_image(nx=256, ny=256, n_sources=10, seed=3)
    ds["ALPHA"] = ds["SKY"] * 0 - 0.5
    write_image_store(ds, tmp_path / "image.zarr")
    table = catalog_table(tmp_path / "image.zarr")
    assert len(table) == len(truth) and np.allclose(table["Alpha"], -0.5)
    assert (table["Image"] == "image").all()
