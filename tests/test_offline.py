"""vlassdask never reaches the network: importing it switches astropy's downloads off."""

from astropy.time import Time
from astropy.utils import iers
from astropy.utils.data import conf as data_conf

import vlassdask


def test_import_turns_astropy_downloads_off():
    vlassdask.configure_offline()
    assert iers.conf.auto_download is False
    assert data_conf.allow_internet is False


def test_sidereal_time_works_from_bundled_tables():
    """UT1 and sidereal time come from the bundled astropy-iers-data tables, no download."""
    lst = Time("2023-06-01T00:00:00", scale="utc").sidereal_time("apparent", longitude=-107.618)
    assert 0 <= lst.hour < 24
