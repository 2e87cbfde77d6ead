"""Choice of grid size, anti-aliasing kernel, w-layers and w-kernel tables for an image.

The w-term is handled by *w-projection within w-layers*: visibilities are sorted into layers of
width ``dw`` in w; each layer is gridded with w-projection kernels for its residual w (tabulated,
oversampled, see :mod:`vlassdask.kernels.wkernels`), Fourier transformed, and multiplied by the
exact w phase of its centre. One layer with wide kernels is classic w-projection; many layers with
narrow kernels approach w-stacking. :func:`plan_gridding` chooses the number of layers (and hence
the kernel support) that minimises the estimated cost (gridding ~ nvis x support^2, FFTs ~ layers
x G^2 log G) subject to the requested accuracy; plain 2-D gridding is chosen when the w-term is
below the accuracy over the whole field, or when asked for (``gridder="2d"``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import ducc0
import numpy as np

from vlassdask.errors import ConfigError
from vlassdask.kernels.antialias import ESKernel, choose_es_kernel
from vlassdask.kernels.constants import SPEED_OF_LIGHT
from vlassdask.kernels.wkernels import KernelTable, make_kernel_table, required_support

_COST_PER_TAP = 1.0  # relative cost of one complex multiply-add on the grid
_COST_PER_FFT_POINT = 1.0  # relative cost per point per log2(size) of a 2-D FFT (+ layer pass)
_MAX_TABLE_BYTES = 512 * 2**20  # kernel tables beyond this mean too few w-layers were asked for
_COST_PER_TABLE_POINT = 0.05  # relative cost of building the kernel table (dense BLAS)


@dataclass(frozen=True)
class GridPlan:
    """Everything the gridder needs to know about an image's geometry and w handling.

    Attributes
    ----------
    nx, ny
        Image size in pixels (even).
    cell
        Pixel size in radians.
    ngrid
        Side of the (square, padded) uv grid.
    kernel
        Anti-aliasing kernel.
    table
        w-projection kernel table shared by all layers.
    layer_width
        Width of a w-layer in wavelengths (``inf`` for a single 2-D layer).
    n_layers
        Number of w-layers (1 for 2-D or pure w-projection).
    w_projection
        True when the w-term is corrected (False: plain 2-D gridding, w ignored).
    chirp
        Chirp rate per wavelength of residual w: a = chirp * (w - w_layer), from the fitted
        Fresnel coefficient alpha (n - 1 ~ -alpha r^2 over the image): chirp = 2 pi alpha L^2.
    alpha
        The fitted Fresnel coefficient.
    first_order
        Grid a companion grid with the values times the residual w, whose image (times
        -2 pi i q, q = n - 1 + alpha r^2) removes the first-order error of the quadratic
        approximation; the remaining error is second order, so wide fields need far fewer layers.
    """

    nx: int
    ny: int
    cell: float
    ngrid: int
    kernel: ESKernel
    table: KernelTable
    layer_width: float
    n_layers: int
    w_projection: bool
    chirp: float = 0.0
    alpha: float = 0.5
    first_order: bool = False

    @property
    def corrects_w(self) -> bool:
        """True when the plan corrects the w-term (w-projection or several w-layers); False
        for plain 2-D gridding."""
        return bool(self.w_projection or self.n_layers > 1)

    @property
    def n_grids(self) -> int:
        """Grids per layer: 2 with the first-order Fresnel correction, else 1."""
        return 2 if self.first_order else 1

    @property
    def layer_centers(self) -> np.ndarray:
        """w (wavelengths) at the centre of each layer (0 for 2-D)."""
        if not self.w_projection:
            return np.zeros(1)
        return (np.arange(self.n_layers) + 0.5) * self.layer_width

    def grid_correction(self) -> tuple[np.ndarray, np.ndarray]:
        """psi along l (x pixels) and m (y pixels): the factors the image is divided by."""
        gx = self.kernel.correction((np.arange(self.nx) - self.nx // 2) / self.ngrid)
        gy = self.kernel.correction((np.arange(self.ny) - self.ny // 2) / self.ngrid)
        return gx, gy

    def max_uv(self) -> float:
        """Largest |u| or |v| (wavelengths) whose kernel footprint lies fully on the grid."""
        return (0.5 * self.ngrid - 0.5 * self.table.support - 1.0) / (self.ngrid * self.cell)

    def off_grid(self, uvw: np.ndarray, freq: np.ndarray) -> np.ndarray:
        """bool (row, chan): visibilities beyond :meth:`max_uv` (the gridder skips them)."""
        scale = freq[None, :] / SPEED_OF_LIGHT
        limit = self.max_uv()
        return (np.abs(uvw[:, 0:1] * scale) > limit) | (np.abs(uvw[:, 1:2] * scale) > limit)

    def describe(self) -> dict:
        """A JSON-serialisable summary for provenance and logs."""
        return {
            "ngrid": self.ngrid,
            "padding": round(self.ngrid / max(self.nx, self.ny), 4),
            "kernel_width": self.kernel.width,
            "kernel_beta": self.kernel.beta,
            "support": self.table.support,
            "oversample": self.table.oversample,
            "w_kernel_planes": self.table.n_planes,
            "w_layers": self.n_layers,
            "w_layer_width": None if math.isinf(self.layer_width) else self.layer_width,
            "w_projection": self.w_projection,
            "fresnel_first_order": self.first_order,
        }


def good_grid_size(n: float) -> int:
    """Smallest even FFT-friendly size >= n."""
    size = int(ducc0.fft.good_size(int(math.ceil(n))))
    while size % 2:
        size = int(ducc0.fft.good_size(size + 1))
    return size


#: relative rounding error of a single-precision grid after the FFT (float32 eps x FFT growth)
_SINGLE_PRECISION_NOISE = 1e-6


def edge_amplification(kernel: ESKernel, padding: float) -> float:
    """psi(0) / psi(image edge): how much the grid correction amplifies errors at the edge."""
    psi = kernel.correction(np.array([0.0, 0.5 / padding]))
    return float(psi[0] / psi[1])


def _oversample_for(kernel: ESKernel, epsilon: float, amplification: float) -> int:
    """Table samples per cell so that linear interpolation stays below ``epsilon`` at the edge."""
    need = math.sqrt(kernel.beta * amplification / (kernel.width**2 * epsilon))
    return int(min(2048, max(32, 2 ** math.ceil(math.log2(need)))))


def _corner_r2(nx: int, ny: int, cell: float) -> float:
    r2 = (0.5 * nx * cell) ** 2 + (0.5 * ny * cell) ** 2
    if r2 >= 1.0:
        raise ConfigError("the image extends beyond the horizon: reduce --imsize or --cell")
    return r2


def fresnel_fit(r2_max: float) -> tuple[float, float]:
    """Minimax fit 1 - n ~ alpha r^2 over the image disc r^2 <= ``r2_max``.

    With s = r^2, 1 - n = s/2 + s^2/8 + ...; the coefficient alpha = 1/2 + beta with
    beta = r2_max (sqrt 2 - 1) / 4 equioscillates the leading error term (about 6x smaller than
    the Taylor choice alpha = 1/2).

    Returns
    -------
    alpha : float
    max_error : float
        max over the disc of |1 - n - alpha r^2| (evaluated exactly, not from the series).
    """
    alpha = 0.5 + r2_max * (math.sqrt(2.0) - 1.0) / 4.0
    s = np.linspace(0.0, r2_max, 2049)
    err = np.abs(s / (1.0 + np.sqrt(1.0 - s)) - alpha * s).max()
    return alpha, float(err)


@dataclass(frozen=True)
class _Layout:
    """A candidate plan (before its kernel table is built) and its estimated cost."""

    padding: float
    kernel: ESKernel
    ngrid: int
    w_projection: bool
    layers: int
    width: float
    a_max: float
    support: int
    chirp: float
    cost: float
    alpha: float = 0.5
    first_order: bool = False


def _kernel_planes(a_max: float, epsilon: float, padding: float) -> int:
    """Chirp planes for linear interpolation in a: error ~ da^2/8 x^4, |x| <= 1/(2 padding)."""
    da = math.sqrt(8.0 * epsilon * 16.0 * padding**4)
    return max(3, 2 * math.ceil(a_max / da) + 1)


def _table_bytes(planes: int, oversample: int, support: int) -> int:
    return planes * (oversample + 1) * support * 16


def _fft_cost(ngrid: int, layers: int) -> float:
    return layers * ngrid**2 * 2 * math.log2(ngrid) * _COST_PER_FFT_POINT


def _layout(
    nx: int, ny: int, cell: float, w_max: float, *, epsilon: float, padding: float,
    gridder: str, n_layers: int | None, support: int | None, n_vis: int, w_planes: int | None,
    single: bool,
) -> _Layout | None:
    kernel = choose_es_kernel(float(epsilon), float(padding))
    if single and edge_amplification(kernel, padding) * _SINGLE_PRECISION_NOISE > epsilon:
        return None  # float32 rounding, amplified at the image edge, would exceed epsilon
    ngrid = good_grid_size(padding * max(nx, ny))
    scale = ngrid * cell
    r2_max = _corner_r2(nx, ny, cell)
    alpha, fresnel_error = fresnel_fit(r2_max)
    chirp = 2.0 * math.pi * alpha * scale**2
    negligible = 2 * math.pi * w_max * (1.0 - math.sqrt(1.0 - r2_max)) <= epsilon
    if gridder == "2d" or w_planes == 1 or (gridder == "auto" and negligible) or w_max == 0.0:
        s = max(support or kernel.width, kernel.width)
        cost = n_vis * s * s * _COST_PER_TAP + _fft_cost(ngrid, 1)
        return _Layout(padding, kernel, ngrid, False, 1, math.inf, 0.0, s, 0.0, cost)

    oversample = _oversample_for(kernel, epsilon, edge_amplification(kernel, padding))

    def candidate(layers: int, first_order: bool) -> _Layout:
        width = w_max / layers
        a_max = chirp * 0.5 * width
        s = support or required_support(kernel, a_max, epsilon=epsilon, sigma=padding)
        grids = 2 if first_order else 1
        planes = _kernel_planes(a_max, epsilon, padding)
        table_cost = planes * 20 * s * s * oversample * _COST_PER_TABLE_POINT
        # complex w-kernels cost ~2 real taps; the companion grid doubles the multiply-adds
        cost = n_vis * s * s * _COST_PER_TAP * 2.0 * grids + \
            grids * _fft_cost(ngrid, layers) + table_cost
        if _table_bytes(planes, oversample, s) > _MAX_TABLE_BYTES:
            cost = math.inf
        return _Layout(padding, kernel, ngrid, True, layers, width, a_max, s, chirp, cost, alpha,
                       first_order)

    # the residual phase 2 pi (w_max / 2 layers) q must stay below epsilon (zeroth order), or
    # its square / 2 must (with the first-order correction grid)
    phase = 2 * math.pi * 0.5 * w_max * fresnel_error
    min_plain = max(1, math.ceil(phase / epsilon))
    min_first = max(1, math.ceil(phase / math.sqrt(2.0 * epsilon)))
    if n_layers is not None:
        return candidate(n_layers, n_layers < min_plain)
    # the residual chirp a_max = chirp * w_max / (2 layers); try a_max from 64 down to 0.25
    a_full = chirp * 0.5 * w_max
    counts = sorted({math.ceil(a_full / a) for a in
                     (64, 48, 32, 24, 16, 12, 8, 6, 4, 3, 2, 1, 0.5, 0.25)})
    options = [candidate(max(min_plain, n), False) for n in counts]
    options += [candidate(max(min_first, n), True) for n in counts if max(min_first, n) <
                min_plain]
    return min(options, key=lambda c: c.cost)


#: padding factors tried when none is given (as ducc0 does, the cheapest one is used)
AUTO_PADDINGS = (1.25, 1.4, 1.5, 1.6, 1.75, 2.0)


def plan_gridding(
    nx: int,
    ny: int,
    cell: float,
    w_max: float,
    *,
    epsilon: float = 1e-5,
    padding: float | None = None,
    gridder: str = "auto",
    n_layers: int | None = None,
    support: int | None = None,
    n_vis: int = 10_000_000,
    w_planes: int | None = None,
    single_precision: bool = True,
) -> GridPlan:
    """Choose the gridding parameters for an image.

    Parameters
    ----------
    nx, ny
        Image size in pixels (even, >= 2).
    cell
        Pixel size in radians.
    w_max
        Largest |w| of the data in wavelengths.
    epsilon
        Requested relative accuracy of the image (1e-2 ... 1e-7).
    padding
        Grid over image size ratio (1.2 ... 3); default: the cheapest of :data:`AUTO_PADDINGS`
        for this accuracy (smaller grids need wider kernels).
    gridder
        ``"auto"`` (w-projection when the w-term matters), ``"wproject"`` (always correct w)
        or ``"2d"`` (ignore w).
    n_layers
        Force this many w-layers (1 = pure w-projection); default: chosen by cost.
    support
        Force this kernel support in cells (must be >= the anti-aliasing kernel width).
    n_vis
        Number of visibilities (row x channel), used to balance gridding against FFT cost.
    w_planes
        Force this many w-kernel planes in the table (1 = plain 2-D gridding); default: enough
        for ``epsilon`` with linear interpolation.
    single_precision
        The grid will be complex64 (as for Measurement Set data): paddings whose edge
        amplification of float32 rounding exceeds ``epsilon`` are not used.
    """
    if nx < 2 or ny < 2 or nx % 2 or ny % 2:
        raise ConfigError(f"image size must be even and >= 2, got {nx} x {ny}")
    if not 1e-8 <= epsilon <= 0.1:
        raise ConfigError(f"epsilon must be in [1e-8, 0.1], got {epsilon}")
    if padding is not None and not 1.2 <= padding <= 3.0:
        raise ConfigError(f"padding must be in [1.2, 3.0], got {padding}")
    if gridder not in ("auto", "wproject", "2d"):
        raise ConfigError(f"gridder must be auto, wproject or 2d, got {gridder!r}")
    if n_layers is not None and n_layers < 1:
        raise ConfigError(f"number of w-layers must be >= 1, got {n_layers}")
    w_max = float(abs(w_max))
    layouts = [_layout(nx, ny, cell, w_max, epsilon=epsilon, padding=p, gridder=gridder,
                       n_layers=n_layers, support=support, n_vis=n_vis, w_planes=w_planes,
                       single=single_precision and not padding)
               for p in ((padding,) if padding else AUTO_PADDINGS)]
    layouts = [lay for lay in layouts if lay is not None]
    if not layouts:
        raise ConfigError(f"epsilon {epsilon} is below single-precision accuracy; use >= 1e-5")
    best = min(layouts, key=lambda lay: lay.cost)
    kernel = best.kernel
    if best.support < kernel.width:
        raise ConfigError(f"support {best.support} is smaller than the anti-aliasing kernel "
                          f"({kernel.width})")
    oversample = _oversample_for(kernel, epsilon, edge_amplification(kernel, best.padding))
    if not best.w_projection:
        table = make_kernel_table(kernel, a_max=0.0, n_planes=1, support=best.support,
                                  oversample=oversample)
        return GridPlan(nx, ny, cell, best.ngrid, kernel, table, math.inf, 1, False)
    n_planes = w_planes or _kernel_planes(best.a_max, epsilon, best.padding)
    table_bytes = _table_bytes(n_planes, oversample, best.support)
    if table_bytes > _MAX_TABLE_BYTES:
        raise ConfigError(f"w-kernel table of {table_bytes / 1e9:.1f} GB ({n_planes} planes x "
                          f"support {best.support}): use more w-layers or a larger epsilon")
    table = make_kernel_table(kernel, a_max=best.a_max, n_planes=n_planes, support=best.support,
                              oversample=oversample)
    return GridPlan(nx, ny, cell, best.ngrid, kernel, table, best.width, best.layers, True,
                    best.chirp, best.alpha, best.first_order)
