"""Bad baselines: stripes, seen as isolated peaks in the Fourier transform of the residual.

A baseline with corrupt visibilities adds a fringe (stripes) to the image: a peak at that
baseline's (u, v) in the image's Fourier transform (VLASS paper section 4.1; Otto's later
version looks at the residual, which gives fewer false positives). The detector

1. takes the residual (the sky without one) over the sub-image, cropped to an FFT-friendly size
   (5-smooth, centred), subtracts the median, replaces NaN by 0, zeroes everything within
   ``mask_radius_beams`` of residual structure above ``mask_sigma`` robust rms and clips the
   rest at +- ``clip_sigma``: under-cleaned sources and their sidelobes are strong and local,
   and their Fourier power, which follows the uv weights squared, would otherwise make peaks;
   stripes are weak and extended and pass. Then it tapers the edges (cosine,
   ``taper_fraction``) and computes the power ``P = |rfft2|^2`` (one real FFT);
2. ignores spatial frequencies of period above ``max_period_arcmin`` (the centre: sources, the
   PB and large-scale structure) and beyond the Nyquist circle;
3. in each ring of constant spatial frequency estimates the background as the
   ``background_quantile`` of P over the ring's *sampled* cells: the uv coverage of an image
   fills only part of each ring (cells outside it hold only leakage, orders of magnitude
   weaker, and are recognised as below 1e-3 of the 99th percentile of P), and its density
   varies (the arms of the VLA's Y), so a high quantile of the sampled cells is the level a
   good baseline reaches; a bad baseline fills only a few cells of a ring;
4. **score** = the largest ``P / background``. On the synthetic tuning set (512^2 sub-images
   of B-configuration coverage, :mod:`vlassdask.testing.artifacts`) noise alone gives 10-45,
   under-cleaned sources and PB holes up to ~80 after the masking, stripes of 0.5-2 sigma
   amplitude 95 and more (mostly thousands); the default threshold is 90.

**With the PSF** (``QAImages.psf``, which products of the imaging operator have), ``P`` is first
divided by the PSF's Fourier amplitude ``|FFT(PSF)|`` (same crop and taper), the gridded
imaging weights ``sum w`` per cell, and only cells above ``psf_sampled_floor`` of its peak are
assessed. The noise power per cell is ``sum w^2 sigma^2``, which for natural weights
(``sigma^2 = 1 / w``) is ``sum w``: the amplitude, not the power, of the PSF's transform is the
noise's spectrum (for Briggs weights it is a smooth approximation). Without it, the sparse uv
coverage of a short OTF raster (a few snapshots) makes the ring quantile a poor background:
noise alone scored 135-140 on the main job's 1-minute raster. Measured with the PSF (2026-12-05,
1024^2 crops): noise-only rasters 18-42, a 9-s single pointing 12 before and 101 after one
baseline is offset by 2+1j Jy (sigma 1 Jy), stripes of 0.1 / 0.25 sigma added to a raster's
residual 97 / 539.

Limitation: without the PSF, the uv weights are unknown, so a bad baseline is recognised only
by standing far above the other sampled cells of its ring; images dominated by deconvolution
artifacts are masked and lose sensitivity to stripes there.

The peak gives the baseline's (u, v) in wavelengths (``u = -f_x / cell``, ``v = f_y / cell``;
the sign of the pair is arbitrary), the stripe period and the position angle of the crests (from
north through east). The location is where the stripes are strongest: the Fourier plane around
the peak (33 x 33 pixels) is shifted to zero frequency and inverted, which gives the stripes'
amplitude envelope on a coarse grid. Peak memory: the residual crop (float32), its transform
(complex64, same bytes) and a few float32 / int32 arrays of half the image size (~20 bytes per
image pixel in all: ~280 MB for a 3722^2 sub-image; with the PSF, its crop and transform add
~12 bytes per pixel).
"""

from __future__ import annotations

import math

import numpy as np
import scipy.fft
from scipy import ndimage

from vlassdask.qa.detectors.common import skipped
from vlassdask.qa.detectors.config import DetectorConfig
from vlassdask.qa.planes import beam_pixels, materialise, plane_data, subimage_slices
from vlassdask.qa.robust import MAD_TO_RMS
from vlassdask.qa.types import DetectorResult, Location, QAImages

NAME = "bad_baselines"
ARCSEC = math.pi / (180.0 * 3600.0)
#: Histogram bins per octave of power for the ring quantiles.
BINS_PER_OCTAVE = 16
#: Cells weaker than this fraction of the 99th percentile count as outside the uv coverage.
SAMPLED_FLOOR = 1e-3
#: Rings with fewer sampled cells are not assessed.
MIN_RING_CELLS = 20
#: Ring width as a fraction of the radius (at least 2 Fourier pixels).
RING_WIDTH_FRACTION = 0.05
#: Entries of the squared-radius -> ring table.
RADIUS2_TABLE = 1 << 20
#: Octaves of power below the maximum covered by the ring histograms.
HISTOGRAM_OCTAVES = 60
#: Half-size of the Fourier box used to find where the stripes are.
ENVELOPE_HALF = 16
#: Smallest sub-image side the detector works on.
MIN_SIDE = 32
#: Block size (pixels) of the bright-structure mask.
MASK_BLOCK = 16
#: Sampling step of the pixels whose median and MAD set the clipping level.
CLIP_SAMPLE_STRIDE = 3


def smooth_size_below(n: int) -> int:
    """Largest 5-smooth integer (2^a 3^b 5^c) not above ``n``: a fast FFT length."""
    for m in range(n, 0, -1):
        k = m
        for p in (2, 3, 5):
            while k % p == 0:
                k //= p
        if k == 1:
            return m
    return 1


def _taper(n: int, fraction: float) -> np.ndarray:
    """Cosine (Tukey) window: 1 in the middle, 0 -> 1 over ``fraction`` of ``n`` at each end."""
    window = np.ones(n, dtype=np.float32)
    edge = int(fraction * n)
    if edge > 0:
        ramp = 0.5 * (1 - np.cos(np.pi * (np.arange(edge) + 0.5) / edge))
        window[:edge] = ramp
        window[-edge:] = ramp[::-1]
    return window


def _ring_edges(r_min: float, min_width: float) -> np.ndarray:
    """Ring edges (cycles per pixel) from ``r_min`` to 0.5: ``RING_WIDTH_FRACTION`` of the
    radius wide, at least ``min_width``."""
    edges = [r_min]
    while edges[-1] < 0.5:
        edges.append(edges[-1] + max(min_width, RING_WIDTH_FRACTION * edges[-1]))
    edges[-1] = 0.5
    return np.asarray(edges)


def _rings(nx: int, ny: int, r_min: float) -> tuple[np.ndarray, int]:
    """Ring index of every cell of an (nx, ny // 2 + 1) rfft2 plane (-1: not assessed), from a
    table over the squared radius (resolution 1 / (2 :data:`RADIUS2_TABLE`) cycles^2/pixel^2)."""
    edges = _ring_edges(r_min, 2.0 / min(nx, ny))
    table_r2 = (np.arange(RADIUS2_TABLE) + 0.5) / (2 * RADIUS2_TABLE)  # r^2 in [0, 0.5]
    table = np.searchsorted(edges**2, table_r2, side="right").astype(np.int32) - 1
    table[table >= edges.size - 1] = -1
    fx = np.fft.fftfreq(nx).astype(np.float32) ** 2
    fy = np.fft.rfftfreq(ny).astype(np.float32) ** 2
    r2 = np.add.outer(fx, fy)
    np.multiply(r2, np.float32(2 * RADIUS2_TABLE), out=r2)
    index = np.minimum(r2.astype(np.int32), RADIUS2_TABLE - 1)
    return table[index], edges.size - 1


def _ring_background(power: np.ndarray, ring: np.ndarray, n_rings: int, quantile: float
                     ) -> np.ndarray:  # fmt: skip
    """``quantile`` of the sampled cells' power in each ring (``ring`` = -1: not assessed).

    Cells count as sampled when their power exceeds :data:`SAMPLED_FLOOR` x the 99th percentile
    of all assessed cells (outside the uv coverage the transform holds only leakage, orders of
    magnitude weaker). Rings with fewer than :data:`MIN_RING_CELLS` sampled cells get an
    infinite background (not assessed). Quantiles come from one histogram of log2 power in
    1/:data:`BINS_PER_OCTAVE`-octave bins per ring (~4% resolution).
    """
    assessed = ring >= 0
    top = float(power.max(where=assessed, initial=0.0))
    if not top > 0:
        return np.full(n_rings, np.inf)
    high = math.ceil(math.log2(top)) + 1
    low = high - HISTOGRAM_OCTAVES
    nbins = HISTOGRAM_OCTAVES * BINS_PER_OCTAVE
    level = np.log2(np.maximum(power, np.float32(2.0**low)))
    level -= np.float32(low)
    level *= np.float32(BINS_PER_OCTAVE)
    index = np.minimum(level.astype(np.int64), nbins - 1)
    index += np.where(assessed, ring, n_rings).astype(np.int64) * nbins
    counts = np.bincount(index.ravel(), minlength=(n_rings + 1) * nbins)
    counts = counts.reshape(n_rings + 1, nbins)[:-1]
    overall = np.cumsum(counts.sum(axis=0))
    floor_bin = int(np.searchsorted(overall, 0.99 * overall[-1])) \
        - int(math.log2(1.0 / SAMPLED_FLOOR) * BINS_PER_OCTAVE)
    counts[:, :max(floor_bin, 1)] = 0  # leakage, and the bin of everything at or below 2^low
    cumulative = np.cumsum(counts, axis=1)
    totals = cumulative[:, -1]
    first = (cumulative < (quantile * totals)[:, None]).sum(axis=1)
    background = 2.0 ** (low + (first + 0.5) / BINS_PER_OCTAVE)
    background[totals < MIN_RING_CELLS] = np.inf
    return background


def _mask_bright(image: np.ndarray, level: float, radius: float) -> None:
    """Zero, in place, the pixels within ``radius`` of any |value| above ``level`` (on a grid of
    :data:`MASK_BLOCK`-pixel blocks: a block is masked when its centre lies within ``radius``
    plus half a block diagonal of a bright block's centre)."""
    b = MASK_BLOCK
    mx, my = -(-image.shape[0] // b), -(-image.shape[1] // b)
    padded = np.zeros((mx * b, my * b), dtype=image.dtype)
    padded[:image.shape[0], :image.shape[1]] = np.abs(image)
    bright = padded.reshape(mx, b, my, b).max(axis=(1, 3)) > level
    if not bright.any():
        return
    reach = int(math.ceil(radius / b + 0.71))
    offsets = np.arange(-reach, reach + 1)
    disc = (offsets[:, None] ** 2 + offsets[None, :] ** 2) <= (radius / b + 0.71) ** 2
    masked = ndimage.binary_dilation(bright, structure=disc)
    full = np.repeat(np.repeat(masked, b, axis=0), b, axis=1)
    image[full[:image.shape[0], :image.shape[1]]] = 0.0


def _hermitian_box(spectrum: np.ndarray, ix: int, iy: int, half: int, nx: int) -> np.ndarray:
    """Full-plane Fourier values at frequency indices (ix + a, iy + b), |a|, |b| <= half, from
    an rfft2 spectrum (negative y frequencies via Hermitian symmetry)."""
    ny_half = spectrum.shape[1]
    ny = 2 * (ny_half - 1)
    a = (ix + np.arange(-half, half + 1)) % nx
    b = iy + np.arange(-half, half + 1)
    out = np.zeros((a.size, b.size), dtype=np.complex128)
    for j, bj in enumerate(b):
        bj_mod = bj % ny
        if bj_mod < ny_half:
            out[:, j] = spectrum[a, bj_mod]
        else:
            out[:, j] = np.conj(spectrum[(-a) % nx, ny - bj_mod])
    return out


def _envelope_peak(spectrum: np.ndarray, ix: int, iy: int, shape: tuple[int, int]
                   ) -> tuple[float, float, float]:  # fmt: skip
    """Centre (x, y) and half-maximum radius, in crop pixels, of the stripes' envelope."""
    box = _hermitian_box(spectrum, ix, iy, ENVELOPE_HALF, shape[0])
    envelope = np.abs(np.fft.ifft2(np.fft.ifftshift(box)))
    m = envelope.shape[0]
    px, py = np.unravel_index(int(np.argmax(envelope)), envelope.shape)
    above = envelope >= 0.5 * envelope[px, py]
    scale_x, scale_y = shape[0] / m, shape[1] / m
    radius = math.sqrt(above.sum() * scale_x * scale_y / math.pi)
    return (px + 0.5) * scale_x, (py + 0.5) * scale_y, radius


def _psf_amplitude(psf, shape: tuple[int, int], taper_fraction: float) -> np.ndarray:
    """``|rfft2|`` of the PSF cropped to ``shape`` about the image's centre pixel (zero-padded
    where the PSF is smaller) and tapered like the residual."""
    data = materialise(plane_data(psf)).astype(np.float32)
    crop = np.zeros(shape, dtype=np.float32)
    src, dst = [], []
    for n, size in zip(data.shape, shape, strict=True):
        lo = n // 2 - size // 2
        a, b = max(lo, 0), min(lo + size, n)
        src.append(slice(a, b))
        dst.append(slice(a - lo, b - lo))
    crop[tuple(dst)] = np.nan_to_num(data[tuple(src)])
    crop *= _taper(shape[0], taper_fraction)[:, None]
    crop *= _taper(shape[1], taper_fraction)[None, :]
    return np.abs(scipy.fft.rfft2(crop, workers=1)).astype(np.float32)


def _whitened(power: np.ndarray, ring: np.ndarray, psf, shape: tuple[int, int],
              cfg) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """The power over the PSF's Fourier amplitude (the noise spectrum), and the rings with the
    cells below ``psf_sampled_floor`` of its peak not assessed (-1)."""
    amplitude = _psf_amplitude(psf, shape, cfg.taper_fraction)
    sampled = amplitude > cfg.psf_sampled_floor * amplitude.max()
    whitened = np.divide(power, amplitude, out=np.zeros_like(power), where=sampled)
    return whitened, np.where(sampled, ring, -1).astype(ring.dtype)


def detect_bad_baselines(images: QAImages, config: DetectorConfig) -> DetectorResult:
    """Find stripes from isolated peaks in |FFT|^2 of the residual (see the module docstring).

    Parameters
    ----------
    images
        Uses ``residual`` (``sky`` without one) over the sub-image, and ``psf`` if present.
    config
        ``config.bad_baselines`` is used.

    Returns
    -------
    DetectorResult
        score: the largest power / ring background; details: (u, v) in wavelengths, stripe
        period (arcsec) and crest position angle (deg), the ring background.
    """
    cfg = config.bad_baselines
    plane = images.residual if images.residual is not None else images.sky
    sx, sy = subimage_slices(images)
    nx, ny = smooth_size_below(sx.stop - sx.start), smooth_size_below(sy.stop - sy.start)
    if min(nx, ny) < MIN_SIDE:
        return skipped(NAME, cfg.peak_threshold, f"sub-image smaller than {MIN_SIDE} pixels")
    ox = sx.start + (sx.stop - sx.start - nx) // 2
    oy = sy.start + (sy.stop - sy.start - ny) // 2
    crop = materialise(plane_data(plane)[ox:ox + nx, oy:oy + ny]).astype(np.float32)
    finite = np.isfinite(crop)
    if not finite.any():
        return skipped(NAME, cfg.peak_threshold, "no finite residual pixels in the sub-image")
    sample = crop[::CLIP_SAMPLE_STRIDE, ::CLIP_SAMPLE_STRIDE]
    sample = sample[np.isfinite(sample)].astype(np.float64)
    median = float(np.median(sample)) if sample.size else 0.0
    clip = cfg.clip_sigma * MAD_TO_RMS * float(np.median(np.abs(sample - median))) \
        if sample.size else np.inf
    crop -= np.float32(median)
    crop[~finite] = 0.0
    _mask_bright(crop, cfg.mask_sigma * clip / cfg.clip_sigma,
                 cfg.mask_radius_beams * max(beam_pixels(images)))  # fmt: skip
    np.clip(crop, -clip, clip, out=crop)
    crop *= _taper(nx, cfg.taper_fraction)[:, None]
    crop *= _taper(ny, cfg.taper_fraction)[None, :]
    spectrum = scipy.fft.rfft2(crop, workers=1)
    del crop
    power = spectrum.real**2 + spectrum.imag**2
    fx, fy = np.fft.fftfreq(nx), np.fft.rfftfreq(ny)
    ring, n_rings = _rings(nx, ny, images.cell_arcsec / (cfg.max_period_arcmin * 60.0))
    if images.psf is not None:
        power, ring = _whitened(power, ring, images.psf, (nx, ny), cfg)
    background = _ring_background(power, ring, n_rings, cfg.background_quantile)
    # ring -1 (not assessed) picks the appended infinite background: ratio 0
    ratio = power / np.append(background, np.inf).astype(np.float32)[ring]
    ix, iy = np.unravel_index(int(np.argmax(ratio)), ratio.shape)
    score = float(ratio[ix, iy])
    f_x, f_y = float(fx[ix]), float(fy[iy])
    cell_rad = images.cell_arcsec * ARCSEC
    u, v = -f_x / cell_rad, f_y / cell_rad
    f = math.hypot(f_x, f_y)
    crest_pa = (math.degrees(math.atan2(u, v)) + 90.0) % 180.0
    details = {"uv_lambda": [u, v], "period_arcsec": images.cell_arcsec / f if f else math.inf,
               "crest_pa_deg": crest_pa, "ring_background": float(background[ring[ix, iy]]),
               "pixels_above_threshold": int((ratio >= cfg.peak_threshold).sum()),
               "fft_shape": [nx, ny], "psf_whitened": images.psf is not None}  # fmt: skip
    detected = score >= cfg.peak_threshold
    locations: tuple[Location, ...] = ()
    if detected:
        cx, cy, extent = _envelope_peak(spectrum, ix, iy, (nx, ny))
        locations = (Location(ox + cx, oy + cy, extent,
                              f"stripes: period {details['period_arcsec']:.3g}\", crest PA "
                              f"{crest_pa:.0f} deg"),)  # fmt: skip
    return DetectorResult(name=NAME, score=score, threshold=cfg.peak_threshold,
                          detected=detected, locations=locations, details=details)  # fmt: skip
