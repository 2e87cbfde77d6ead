"""Seeded images with injected sources, searched once per session."""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pandas as pd
import pytest
from astropy.coordinates import SkyCoord

from vlassdask.catalog.find import find_sources
from vlassdask.testing.sources import make_source_image

#: The main test image: 1024^2 1" pixels, beam 3" x 2.5" at PA 30 deg, 120 uJy/beam noise, 250
#: sources (30% extended, up to 6") with peak S/N 4-1000, 10 beams apart.
IMAGE = {"nx": 1024, "ny": 1024, "n_sources": 250, "snr_range": (4.0, 1000.0),
         "min_separation_beams": 10.0, "seed": 11}  # fmt: skip


def match(truth: pd.DataFrame, catalog: pd.DataFrame, radius_arcsec: float = 1.5
          ) -> pd.DataFrame:  # fmt: skip
    """``truth`` with the nearest catalog row's columns (suffix ``_cat``) and ``sep`` (arcsec);
    ``found`` says whether it lies within ``radius_arcsec``."""
    ours = SkyCoord(truth["ra"].to_numpy() * u.deg, truth["dec"].to_numpy() * u.deg)
    theirs = SkyCoord(catalog["RA"].to_numpy() * u.deg, catalog["DEC"].to_numpy() * u.deg)
    index, sep, _ = ours.match_to_catalog_sky(theirs)
    out = truth.reset_index(drop=True).copy()
    nearest = catalog.iloc[index].reset_index(drop=True).add_suffix("_cat")
    out = pd.concat([out, nearest], axis=1)
    out["sep"] = sep.arcsec
    out["found"] = out["sep"] <= radius_arcsec
    return out


@pytest.fixture(scope="session")
def source_image():
    """(image Dataset, truth table) of :data:`IMAGE`."""
    return make_source_image(**IMAGE)


@pytest.fixture(scope="session")
def source_catalog(source_image):
    """The catalog of the main test image (default finder)."""
    ds, _ = source_image
    return find_sources(ds, image_name="test")


@pytest.fixture(scope="session")
def matched(source_image, source_catalog):
    """Truth matched to the catalog within 1.5"."""
    return match(source_image[1], source_catalog)


@pytest.fixture
def rng():
    return np.random.default_rng(5)
