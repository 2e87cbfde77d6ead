"""Combined-epoch image: plan from the inputs' metadata, then one lazy dask graph to the products.

:func:`plan_combination` checks the inputs (variables, units, planes, beams, overlap) and decides,
from metadata only, the common beam and for each epoch its difference kernel, beam-area and rms
scale factors and how it reaches the reference grid. :func:`combine_epochs` turns that into a
single graph per output chunk: read the epoch chunks (with their halo) -> convolve to the common
beam (:mod:`~vlassdask.combine.convolve`; integer and sub-pixel shifts folded in) -> [interpolate
if the grids differ otherwise, :mod:`~vlassdask.combine.regrid`] -> weight by ``1/(f rms)^2`` and
sum over epochs -> divide (:mod:`~vlassdask.combine.mean`). No intermediate products are stored
and no epoch is ever held whole in memory.

The rms of an epoch is scaled to the common beam (``f``, :func:`~vlassdask.combine.beam.
noise_scale`) before it sets the weights and the combined rms: smoothing beam-correlated noise
to a larger beam and rescaling to Jy/beam raises the rms (by ~5% for a 20% larger beam). The rms
maps themselves are not convolved (they are smooth on the scale of the beam).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import dask
import dask.array as da
import numpy as np
import xarray as xr

from vlassdask.combine.beam import GaussianBeam, common_beam, deconvolve, noise_scale
from vlassdask.combine.config import CombineConfig
from vlassdask.combine.convolve import convolve_image
from vlassdask.combine.mean import weighted_mean
from vlassdask.combine.regrid import (
    GridAlignment,
    align_grids,
    interpolate_to_grid,
    shift_to_reference,
)
from vlassdask.errors import InputError
from vlassdask.io.image_schema import IMAGE_DIMS, celestial_wcs, make_image_dataset

ARCSEC_PER_RAD = 180.0 * 3600.0 / math.pi
_MJD_EPOCH = datetime(1858, 11, 17)
# Header cards of the reference image that do not describe the combined image.
_EPOCH_KEYS = ("BMAJ", "BMIN", "BPA", "DATE-OBS", "DATE-END", "MJD-OBS", "MJD-END", "BUNIT",
               "BTYPE", "ORIGIN")


@dataclass(frozen=True)
class EpochPlan:
    """What happens to one epoch.

    Attributes
    ----------
    name
        How the epoch is named in messages and history (its file name when known).
    beam
        Its restoring beam.
    kernel
        The difference kernel to the common beam; None when it is below the skip threshold.
    area_scale
        ``A_common / A_beam`` applied to the convolved image (1 without convolution).
    rms_scale
        ``f``: its rms is multiplied by this before weighting (1 without convolution).
    alignment
        How its pixel grid reaches the reference grid.
    time_mjd
        Its observing time (MJD).
    """

    name: str
    beam: GaussianBeam
    kernel: GaussianBeam | None
    area_scale: float
    rms_scale: float
    alignment: GridAlignment
    time_mjd: float

    def describe(self) -> dict[str, Any]:
        """JSON form for the ``combine`` attr."""
        return {
            "name": self.name,
            "beam": self.beam.to_attr(),
            "kernel": self.kernel.to_attr() if self.kernel else None,
            "area_scale": self.area_scale,
            "rms_scale": self.rms_scale,
            "grid": self.alignment.method,
            "shift_pixels": [a + b for a, b in zip(self.alignment.integer_shift,
                                                   self.alignment.fraction, strict=True)],
            "time_mjd": self.time_mjd,
        }  # fmt: skip


@dataclass(frozen=True)
class CombinePlan:
    """The common beam and the per-epoch plans; ``reference`` indexes the grid-giving epoch."""

    common_beam: GaussianBeam
    reference: int
    epochs: tuple[EpochPlan, ...]

    def history(self) -> list[str]:
        """History lines naming every input, its beam, kernel, rms scale and grid handling."""
        lines = [
            f"vlassdask combine: RMS-weighted mean of {len(self.epochs)} epoch(s) at the common "
            f"beam {self.common_beam.describe()}; weights 1/(f_i RMS_i)^2 per pixel, "
            "RMS = (sum of weights)^-1/2, COVERAGE = number of contributing epochs",
            f"pixel grid of {self.epochs[self.reference].name}",
        ]
        for i, epoch in enumerate(self.epochs):
            smoothing = (f"kernel {epoch.kernel.describe()}, area scale {epoch.area_scale:.5g}"
                         if epoch.kernel else "no convolution (kernel below the skip threshold)")
            lines.append(
                f"epoch {i}: {epoch.name} (MJD {epoch.time_mjd:.5f}), beam "
                f"{epoch.beam.describe()}; {smoothing}; rms scale f = {epoch.rms_scale:.5g}; "
                f"{epoch.alignment.describe()}"
            )  # fmt: skip
        return lines

    def describe(self) -> dict[str, Any]:
        """JSON form for the ``combine`` attr and the provenance."""
        return {"common_beam": self.common_beam.to_attr(), "reference": self.reference,
                "epochs": [e.describe() for e in self.epochs]}  # fmt: skip


def _unit_key(unit: str) -> str:
    text = unit.strip().lower().replace(" ", "")
    return {"jy/beam": "jy/beam", "jybeam-1": "jy/beam", "jy/bm": "jy/beam"}.get(text, text)


def _declared_unit(ds: xr.Dataset, name: str) -> str:
    """The unit an input declares for a variable: its FITS BUNIT, else the store's units attr."""
    candidates = [ds[name].attrs.get("fits_bunit")]
    if name == "SKY":
        candidates.append((ds.attrs.get("fits_header") or {}).get("BUNIT"))
    candidates += [(ds.attrs.get("units") or {}).get(name), ds[name].attrs.get("units")]
    return next((str(c) for c in candidates if c not in (None, "")), "")


def _check_units(images: Sequence[xr.Dataset], names: Sequence[str]) -> None:
    for var in ("SKY", "RMS"):
        units = [_declared_unit(ds, var) for ds in images]
        if len({_unit_key(u) for u in units}) > 1:
            listed = ", ".join(f"{n}: {u!r}" for n, u in zip(names, units, strict=True))
            raise InputError(f"inconsistent units of {var} across the inputs ({listed})")
        if _unit_key(units[0]) != "jy/beam":
            raise InputError(f"{var} of the inputs is in {units[0]!r}; combining needs Jy/beam")


def _cell_arcsec(ds: xr.Dataset) -> float:
    m = ds["m"].values
    return float(m[1] - m[0]) * ARCSEC_PER_RAD


def _check_planes(ds: xr.Dataset, ref: xr.Dataset, name: str, config: CombineConfig) -> None:
    for var in ("SKY", "RMS"):
        if var not in ds.data_vars:
            what = "an RMS variable (rms image)" if var == "RMS" else "a SKY variable"
            raise InputError(f"{name} has no {what}")
        if ds[var].dims != IMAGE_DIMS:
            raise InputError(f"{name}: {var} has dims {ds[var].dims}; expected {IMAGE_DIMS}")
    if ds.sizes["time"] != 1:
        raise InputError(f"{name} has {ds.sizes['time']} times; give one image per epoch")
    pols = [str(p) for p in ds["polarization"].values]
    if pols != [str(p) for p in ref["polarization"].values]:
        raise InputError(f"{name} has polarizations {pols}; the reference has "
                         f"{[str(p) for p in ref['polarization'].values]}")  # fmt: skip
    freq, ref_freq = ds["frequency"].values, ref["frequency"].values
    if freq.shape != ref_freq.shape or not np.allclose(freq, ref_freq,
                                                       rtol=config.frequency_rtol, atol=0):
        raise InputError(f"{name} has frequencies {freq.tolist()} Hz; the reference has "
                         f"{ref_freq.tolist()} Hz")  # fmt: skip


def epoch_names(images: Sequence[xr.Dataset], names: Sequence[str] | None = None) -> list[str]:
    """``names`` if given, else each input's SKY file name when it came from FITS, else
    ``epoch <i>``."""
    if names is not None:
        if len(names) != len(images):
            raise InputError(f"{len(names)} names for {len(images)} inputs")
        return [str(n) for n in names]
    out = []
    for i, ds in enumerate(images):
        source = (ds.attrs.get("source_files") or {}).get("SKY")
        out.append(str(source).rsplit("/", 1)[-1] if source else f"epoch {i}")
    return out


def plan_combination(images: Sequence[xr.Dataset], config: CombineConfig,
                     names: Sequence[str] | None = None) -> CombinePlan:  # fmt: skip
    """Check the inputs and plan their combination from metadata alone (nothing is read).

    Parameters
    ----------
    images
        Image Datasets (schema of :mod:`vlassdask.io.image_schema`) with ``SKY`` and ``RMS``, a
        restoring beam and a single time each; dask- or numpy-backed.
    config
        Combination parameters.
    names
        Names of the inputs for messages and history (default: see :func:`epoch_names`).

    Raises
    ------
    InputError
        Missing SKY/RMS, several times, mismatched planes, units other than (or inconsistent)
        Jy/beam, a missing beam, an input that does not overlap the reference image, or no
        common beam.
    """
    if not images:
        raise InputError("no input images to combine")
    if config.reference >= len(images):
        raise InputError(f"reference {config.reference} is not an input index (0 ... "
                         f"{len(images) - 1})")  # fmt: skip
    names = epoch_names(images, names)
    ref = images[config.reference]
    for ds, name in zip(images, names, strict=True):
        _check_planes(ds, ref, name, config)
    _check_units(images, names)
    beams = [GaussianBeam.from_attr(ds.attrs.get("restoring_beam"), name)
             for ds, name in zip(images, names, strict=True)]  # fmt: skip
    ref_wcs, ref_shape = celestial_wcs(ref), (ref.sizes["l"], ref.sizes["m"])
    alignments = [
        align_grids(celestial_wcs(ds), (ds.sizes["l"], ds.sizes["m"]), ref_wcs, ref_shape,
                    regrid_tolerance=config.regrid_tolerance,
                    shift_tolerance_pixels=config.shift_tolerance_pixels, what=name)
        for ds, name in zip(images, names, strict=True)
    ]  # fmt: skip
    target = common_beam(beams, config)
    epochs = []
    for ds, name, beam, alignment in zip(images, names, beams, alignments, strict=True):
        kernel = deconvolve(target, beam)
        diagonal = _cell_arcsec(ds) * math.sqrt(2.0)
        if kernel.major_arcsec < config.kernel_skip_fraction * diagonal:
            kernel, area, rms_scale = None, 1.0, 1.0
        else:
            area = target.area_arcsec2 / beam.area_arcsec2
            rms_scale = noise_scale(target, beam) if config.scale_rms else 1.0
        epochs.append(EpochPlan(name, beam, kernel, area, rms_scale, alignment,
                                float(ds["time"].values[0])))  # fmt: skip
    return CombinePlan(target, config.reference, tuple(epochs))


def _dask_image(var: xr.DataArray, dtype: np.dtype, chunk_pixels: int) -> da.Array:
    chunks = (1, 1, 1, chunk_pixels, chunk_pixels)
    data = var.data if isinstance(var.data, da.Array) else da.from_array(var.data, chunks=chunks)
    return data.astype(dtype).rechunk(chunks)


def _epoch_on_reference(ds: xr.Dataset, epoch: EpochPlan, ref: xr.Dataset, dtype: np.dtype,
                        config: CombineConfig) -> tuple[da.Array, da.Array]:  # fmt: skip
    """The epoch's image at the common beam and its rms map, both on the reference grid."""
    chunk = config.chunk_pixels
    ref_shape = (ref.sizes["l"], ref.sizes["m"])
    sky, rms = (_dask_image(ds[v], dtype, chunk) for v in ("SKY", "RMS"))
    alignment, shift = epoch.alignment, (0.0, 0.0)
    if alignment.method == "shift":
        sky, rms = (shift_to_reference(a, alignment.integer_shift, ref_shape)
                    .rechunk((1, 1, 1, chunk, chunk)) for a in (sky, rms))  # fmt: skip
        shift = alignment.fraction
    if epoch.kernel is not None or shift != (0.0, 0.0):
        cov = (epoch.kernel.pixel_covariance(_cell_arcsec(ds)) if epoch.kernel is not None
               else np.zeros((2, 2)))  # fmt: skip
        sky = convolve_image(sky, cov=(cov[0, 0], cov[0, 1], cov[1, 1]), shift=shift,
                             scale=epoch.area_scale, truncate_sigma=config.kernel_truncate_sigma,
                             min_support=config.min_support)  # fmt: skip
    if alignment.method == "interpolate":
        src_wcs, ref_wcs = celestial_wcs(ds), celestial_wcs(ref)
        sky, rms = (interpolate_to_grid(a, src_wcs, ref_wcs, ref_shape, chunk)
                    for a in (sky, rms))  # fmt: skip
    return sky, rms


def _date(mjd: float) -> str:
    return (_MJD_EPOCH + timedelta(days=mjd)).isoformat(timespec="milliseconds")


def combine_epochs(
    images: Sequence[xr.Dataset],
    config: CombineConfig | None = None,
    *,
    names: Sequence[str] | None = None,
    attrs: Mapping[str, Any] | None = None,
) -> xr.Dataset:
    """The combined-epoch image product of several epochs, as a lazy dask-backed Dataset.

    Parameters
    ----------
    images
        Epoch images with ``SKY`` and ``RMS`` (Jy/beam), a restoring beam and one time each,
        e.g. from :func:`vlassdask.io.image_store.open_image_store` or
        :func:`vlassdask.io.fits_import.open_fits_image`; any pixel grids that overlap the
        reference (``config.reference``), NaN where blank.
    config
        Combination parameters (default :class:`CombineConfig`, the VLASS values).
    names
        Names of the inputs for messages and history.
    attrs
        Extra attrs of the product (e.g. ``provenance``).

    Returns
    -------
    xarray.Dataset
        Product kind ``combined`` on the reference grid: ``SKY`` (Jy/beam at the common beam),
        ``RMS`` and ``COVERAGE`` (uint8), dask-backed with ``chunk_pixels`` chunks; time = mean of
        the epochs (``DATE-OBS``/``DATE-END`` span them); ``restoring_beam`` = the common beam;
        ``history`` and ``attrs["combine"]`` describe every epoch (beam, kernel, scales, grid).
        The image dtype is float32 when every input is float32.

    Raises
    ------
    InputError
        As :func:`plan_combination`.

    Notes
    -----
    Peak memory per worker thread: one convolution task (about 5 padded chunks,
    :func:`~vlassdask.combine.convolve.convolve_plane`), each epoch's convolved chunk and rms
    chunk, and the weighted mean's 3 output chunks: with 1024^2 float32 chunks about
    ``20 + 8 n_epochs + 12`` MB (measured: ~40 MB per thread for three epochs), plus the input
    chunks dask holds for the halos of neighbouring tasks (a few rows of store chunks per input).
    It does not grow with the number of chunks: three 6202^2 epochs peak at 1.1 GB (1 thread)
    to 1.7 GB (16 threads) including the Python process.
    """
    config = config or CombineConfig()
    plan = plan_combination(images, config, names)
    ref = images[config.reference]
    dtype = np.result_type(np.float32, *(ds["SKY"].dtype for ds in images))
    skies, rmss = [], []
    for ds, epoch in zip(images, plan.epochs, strict=True):
        sky, rms = _epoch_on_reference(ds, epoch, ref, dtype, config)
        skies.append(sky)
        rmss.append(rms)
    sky, rms, coverage = weighted_mean(skies, rmss, [e.rms_scale for e in plan.epochs])
    header = {k: v for k, v in (ref.attrs.get("fits_header") or {}).items()
              if k not in _EPOCH_KEYS}  # fmt: skip
    times = [e.time_mjd for e in plan.epochs]
    header.update({"DATE-OBS": _date(min(times)), "DATE-END": _date(max(times)),
                   "MJD-OBS": min(times), "MJD-END": max(times)})
    crval = (float(header["CRVAL1"]), float(header["CRVAL2"]))
    out = make_image_dataset(
        {"SKY": sky, "RMS": rms, "COVERAGE": coverage},
        cell_rad=_cell_arcsec(ref) / ARCSEC_PER_RAD,
        phase_center_rad=(math.radians(crval[0]), math.radians(crval[1])),
        frequency_hz=ref["frequency"].values,
        polarization=[str(p) for p in ref["polarization"].values],
        time_mjd=[float(np.mean(times))],
        product_kind="combined",
        attrs={
            "fits_header": header,
            "restoring_beam": plan.common_beam.to_attr(),
            "history": plan.history(),
            "phase_center_deg": ref.attrs.get("phase_center_deg", list(crval)),
            "combine": plan.describe(),
            **dict(attrs or {}),
        },
    )
    return out.assign_coords(l=("l", ref["l"].values, out["l"].attrs),
                             m=("m", ref["m"].values, out["m"].attrs))  # fmt: skip


def _centre_out_blocks(shape: tuple[int, ...]) -> list[tuple[int, ...]]:
    centre = [(n - 1) / 2.0 for n in shape]
    return sorted(np.ndindex(*shape),
                  key=lambda b: sum((i - c) ** 2 for i, c in zip(b, centre, strict=True)))


def _usable(sky: np.ndarray, rms: np.ndarray) -> bool:
    with np.errstate(invalid="ignore"):
        return bool((np.isfinite(sky) & np.isfinite(rms) & (rms > 0)).any())


def check_epochs_have_data(images: Sequence[xr.Dataset],
                           names: Sequence[str] | None = None) -> None:  # fmt: skip
    """Refuse an epoch with no pixel that has both a finite image value and a positive rms.

    Looks at a 64 x 64 window at the image centre first (for FITS inputs a tiny read; for a
    store, its centre chunk), then at whole chunks from the centre outwards, and stops at the
    first usable pixel: every chunk is read only for a blank epoch.

    Raises
    ------
    InputError
        Naming the blank epoch.
    """
    names = epoch_names(images, names)
    for ds, name in zip(images, names, strict=True):
        sky = da.asarray(ds["SKY"].data)
        rms = da.asarray(ds["RMS"].data).rechunk(sky.chunks)
        nx, ny = sky.shape[-2:]
        window = (..., slice(max(0, nx // 2 - 32), nx // 2 + 32),
                  slice(max(0, ny // 2 - 32), ny // 2 + 32))  # fmt: skip
        if _usable(*dask.compute(sky[window], rms[window])):
            continue
        if not any(_usable(*dask.compute(sky.blocks[b], rms.blocks[b]))
                   for b in _centre_out_blocks(sky.numblocks)):  # fmt: skip
            raise InputError(f"{name} has no usable pixel: its image (or rms image) is blank "
                             "(NaN) or its rms is not positive everywhere")  # fmt: skip
