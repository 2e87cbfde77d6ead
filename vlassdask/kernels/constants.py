"""Physical constants shared by the kernels."""

#: speed of light in vacuum, m/s (exact, SI)
SPEED_OF_LIGHT = 299792458.0
