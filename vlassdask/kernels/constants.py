"""Physical constants shared by the kernels."""

#: speed of light in vacuum, m/s (exact, SI)
SPEED_OF_LIGHT = 299792458.0
#: FWHM of a Gaussian over its standard deviation, sqrt(8 ln 2)
FWHM_PER_SIGMA = 2.3548200450309493
