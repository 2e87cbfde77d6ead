"""Shared pytest configuration: offline astropy and a dask scheduler per test session."""

import dask
import pytest

import vlassdask  # noqa: F401  (configures astropy for offline use)


@pytest.fixture(scope="session", autouse=True)
def _synchronous_dask_by_default():
    """Tests run on the threaded scheduler unless they start a distributed client themselves."""
    with dask.config.set(scheduler="threads"):
        yield
