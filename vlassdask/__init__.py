"""vlassdask: Dask-parallel, array-native VLA Sky Survey imaging.

Importing the package configures astropy for offline use (see :mod:`vlassdask.offline`):
no step of vlassdask reaches the network.
"""

from vlassdask.offline import configure_offline

__version__ = "0.1.0"

configure_offline()

__all__ = ["__version__", "configure_offline"]
