"""The image product schema: declared once, used for construction, validation, encoding and docs.

An image product is an :class:`xarray.Dataset` with dims ``(time, frequency, polarization, l, m)``
(NRAO xradio's image convention). :data:`VARIABLES` is the single declaration of every variable a
product may hold (name, dims, dtype, units, description) and :data:`PRODUCT_KINDS` says which are
required for which kind of product. :func:`make_image_dataset` builds a product from arrays,
:func:`check_image` validates one, :func:`default_encoding` gives its Zarr chunking and
:func:`schema_markdown` renders the table for ``docs/image-store.md``.

Pixel grid and orientation
--------------------------
Pixel ``(x, y)`` (0-based) of an ``N_x x N_y`` image has ``l = -(x - N_x//2) * cell`` and
``m = (y - N_y//2) * cell`` (radians): RA increases to the left, so the ``l`` coordinate decreases
along its dim. Data arrays are indexed ``[..., x, y]`` (what ducc0 ``vis2dirty(flip_v=True)``
returns). The ``l``/``m`` coordinates are the truth for the pixel grid: :func:`wcs_header` derives
CRPIX/CDELT from them, so a cut-out (``ds.isel(l=..., m=...)``) keeps a correct WCS. The phase
centre (CRVAL1/CRVAL2) comes from ``attrs["fits_header"]`` so that a position correction applied
there (w-term shift) reaches every export.

Decisions
---------
* **Taylor terms** are named variables, not a ``term`` dim: ``SKY``/``RESIDUAL``/``MODEL``/
  ``POINT_SPREAD_FUNCTION`` are the zeroth term (tt0, identical to the single-term product) and
  ``SKY_TT1``, ``RESIDUAL_TT1``, ``MODEL_TT1``, ``POINT_SPREAD_FUNCTION_TT1`` and
  ``POINT_SPREAD_FUNCTION_TT2`` the higher ones. Every product then has the same five dims, a
  single-term product needs no length-1 ``term`` dim, and ``ALPHA``/``ALPHA_ERROR`` sit beside them.
* **Celestial frame**: ``RADESYS = 'FK5'``, ``EQUINOX = 2000.0``, as CASA writes VLASS images (the
  Measurement Set phase centres are J2000).
* **Precision**: image variables are floating point of either width; the precision follows the
  producer (float32 halves storage, float64 keeps reference comparisons exact).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import dask.array as da
import numpy as np
import xarray as xr
from astropy.io import fits
from astropy.wcs import WCS, FITSFixedWarning

from vlassdask.errors import InputError

# astropy notes that it derived OBSGEO-L/B/H from the OBSGEO-X/Y/Z of the VLASS headers; the
# filter is process-wide because warnings.catch_warnings is not thread-safe.
warnings.filterwarnings("ignore", message="'obsfix' made the change", category=FITSFixedWarning)

SCHEMA_VERSION = "1"
IMAGE_DIMS = ("time", "frequency", "polarization", "l", "m")
PLANE_DIMS = ("time", "frequency", "polarization")
#: The ``beam_param`` coordinate of the per-plane ``BEAM`` variable.
BEAM_PARAMS = ("major", "minor", "pa")
DEFAULT_CHUNK_PIXELS = 2048
_MJD_EPOCH = datetime(1858, 11, 17)
STOKES_CODES = {
    "I": 1, "Q": 2, "U": 3, "V": 4,
    "RR": -1, "LL": -2, "RL": -3, "LR": -4, "XX": -5, "YY": -6, "XY": -7, "YX": -8,
}  # fmt: skip


@dataclass(frozen=True)
class VariableSpec:
    """One variable of the image schema.

    Attributes
    ----------
    name, dims, units, description
        As stored in the Dataset (``units`` and ``description`` become the variable's attrs).
    dtype
        ``"floating"`` (float32 or float64, following the producer), ``"float64"`` or ``"bool"``.
    """

    name: str
    dims: tuple[str, ...]
    dtype: str
    units: str
    description: str

    def accepts(self, dtype: np.dtype) -> bool:
        """True if an array of ``dtype`` may be stored as this variable."""
        if self.dtype == "floating":
            return dtype in (np.dtype("float32"), np.dtype("float64"))
        return dtype == np.dtype(self.dtype)


def _image(name: str, units: str, description: str, dtype: str = "floating") -> VariableSpec:
    return VariableSpec(name, IMAGE_DIMS, dtype, units, description)


VARIABLES: dict[str, VariableSpec] = {
    spec.name: spec
    for spec in (
        _image("SKY", "Jy/beam", "Sky brightness: the restored image, or the dirty image in a "
               "dirty product (attr image_type says which); Taylor term 0 in MT-MFS."),
        _image("SKY_PBCOR", "Jy/beam", "Primary-beam-corrected restored image: SKY divided by "
               "the (mosaic) primary beam, NaN where the beam is below the PB limit."),
        _image("SKY_TT1", "Jy/beam", "Restored Taylor term 1 (MT-MFS)."),
        _image("RESIDUAL", "Jy/beam", "Residual image (Taylor term 0)."),
        _image("RESIDUAL_TT1", "Jy/beam", "Residual Taylor term 1."),
        _image("MODEL", "Jy/pixel", "Clean component model (Taylor term 0)."),
        _image("MODEL_TT1", "Jy/pixel", "Clean component model, Taylor term 1."),
        _image("POINT_SPREAD_FUNCTION", "", "Point spread function normalised to peak 1 "
               "(Taylor term 0)."),
        _image("POINT_SPREAD_FUNCTION_TT1", "", "PSF Taylor term 1, in units of the tt0 peak."),
        _image("POINT_SPREAD_FUNCTION_TT2", "", "PSF Taylor term 2, in units of the tt0 peak."),
        _image("PRIMARY_BEAM", "", "Primary beam (mosaic) response, peak 1."),
        _image("MASK", "", "Deconvolution mask: true where clean components may be placed.",
               dtype="bool"),
        _image("RMS", "Jy/beam", "Local noise: sliding-box robust rms (1.4826 x MAD)."),
        _image("ALPHA", "", "Spectral index tt1/tt0 (NaN where not measured)."),
        _image("ALPHA_ERROR", "", "Uncertainty of ALPHA."),
        _image("COVERAGE", "", "Number of epochs with a finite, weighted value at each pixel "
               "(combined products).", dtype="uint8"),
        VariableSpec("SUM_OF_WEIGHTS", PLANE_DIMS, "float64", "",
                     "Sum of imaging weights of the visibilities in each plane (CASA sumwt); "
                     "the dirty image and PSF are divided by it."),
        VariableSpec("BEAM", (*PLANE_DIMS, "beam_param"), "float64", "arcsec, arcsec, deg",
                     "Restoring beam of each plane: FWHM major and minor axes (arcsec) and "
                     "position angle (deg east of north), as CASA reports them; "
                     "attrs['restoring_beam'] holds the first plane's."),
        VariableSpec("PLANE_STATUS", PLANE_DIMS, "int8", "",
                     "Coarse-cube plane status: 0 imaged and accepted, 1 rejected before "
                     "imaging (not imaged: NaN images), 2 imaged and rejected after imaging "
                     "(excluded from spectral use); attrs['planes'] holds the reasons."),
        VariableSpec("FLAG_FRACTION", PLANE_DIMS, "float64", "",
                     "Fraction of the plane's visibilities (of the image's fields) flagged."),
        VariableSpec("GRID_CORRECTION_L", ("l",), "float64", "",
                     "Anti-aliasing (gridding kernel) correction along l: the dirty image was "
                     "divided by GRID_CORRECTION_L x GRID_CORRECTION_M."),
        VariableSpec("GRID_CORRECTION_M", ("m",), "float64", "",
                     "Anti-aliasing (gridding kernel) correction along m."),
    )
}  # fmt: skip


@dataclass(frozen=True)
class ProductKind:
    """A kind of image product: the variables it must hold and what its SKY is."""

    required: tuple[str, ...]
    image_type: str
    description: str


_GRID = ("SUM_OF_WEIGHTS", "GRID_CORRECTION_L", "GRID_CORRECTION_M")
PRODUCT_KINDS: dict[str, ProductKind] = {
    "dirty": ProductKind(("SKY", "POINT_SPREAD_FUNCTION", *_GRID), "dirty",
                         "Dirty image and PSF of one imaging run."),
    "clean": ProductKind(("SKY", "RESIDUAL", "MODEL", "POINT_SPREAD_FUNCTION", "SUM_OF_WEIGHTS",
                          "BEAM"), "restored",
                         "Deconvolved (single-term) image: restored, residual, model, PSF, "
                         "restoring beam per plane."),
    "mtmfs": ProductKind(("SKY", "SKY_TT1", "RESIDUAL", "RESIDUAL_TT1", "MODEL", "MODEL_TT1",
                          "ALPHA", "ALPHA_ERROR"), "restored",
                         "Multi-term MFS (nterms 2) image with spectral index. Planned "
                         "(Single Epoch): no recipe makes it yet."),
    "quicklook": ProductKind(("SKY", "SKY_PBCOR", "RESIDUAL", "MODEL", "POINT_SPREAD_FUNCTION",
                              "PRIMARY_BEAM", "RMS", "SUM_OF_WEIGHTS", "BEAM"), "restored",
                             "Quick Look image of one phase centre (full image): flat-noise "
                             "restored SKY, PB-corrected SKY_PBCOR, residual, model, PSF, mosaic "
                             "primary beam, rms of the PB-corrected image, QA attempts in attrs."),
    "rms": ProductKind(("RMS",), "rms", "Noise image on its own. Planned: Quick Look stores "
                       "its RMS inside the quicklook product."),
    "combined": ProductKind(("SKY", "RMS", "COVERAGE"), "combined",
                            "RMS-weighted mean of several epochs at a common beam."),
    "cube": ProductKind(("SKY", "SKY_PBCOR", "RESIDUAL", "MODEL", "PRIMARY_BEAM", "RMS",
                         "SUM_OF_WEIGHTS", "BEAM", "PLANE_STATUS", "FLAG_FRACTION"), "restored",
                        "Coarse cube of one phase centre: one plane per spectral window and "
                        "Stokes parameter (I, Q, U), each with its restoring beam, noise image, "
                        "flag fraction and status (attrs['planes']: reasons, per-plane "
                        "position correction)."),
    "cube_common_beam": ProductKind(("SKY", "BEAM", "PLANE_STATUS"), "restored",
                                    "A coarse cube's PB-corrected planes convolved to one "
                                    "common beam (for rotation-measure synthesis)."),
    "spectral_index": ProductKind(("ALPHA", "ALPHA_ERROR"), "alpha",
                                  "Spectral index of Stokes I fitted across a coarse cube's "
                                  "accepted planes, with its error."),
    "image": ProductKind(("SKY",), "restored",
                         "An image read from FITS (e.g. a VLASS archive image), with whichever "
                         "of RMS, PRIMARY_BEAM and RESIDUAL came with it."),
}  # fmt: skip


def _jsonable(value: Any) -> Any:
    """Return ``value`` with numpy scalars/arrays and tuples turned into JSON types."""
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def _as_variable(name: str, value: Any, shape: dict[str, int]) -> xr.Variable:
    """Wrap ``value`` as an :class:`xarray.Variable` with the schema's dims, dtype and attrs."""
    spec = VARIABLES[name]
    attrs = dict(value.attrs) if isinstance(value, xr.DataArray) else {}
    data = value.data if isinstance(value, xr.DataArray | xr.Variable) else value
    if not isinstance(data, da.Array):
        data = np.asarray(data)
    if spec.dims == IMAGE_DIMS and data.ndim == 2 and all(shape[d] == 1 for d in PLANE_DIMS):
        data = data[None, None, None]
    want = tuple(shape[d] for d in spec.dims)
    if data.shape != want:
        raise InputError(
            f"variable {name} has shape {data.shape}; expected {want} for dims {spec.dims}"
        )
    if spec.dtype == "floating" and data.dtype not in (np.float32, np.float64):
        data = data.astype(np.float64)
    elif spec.dtype != "floating" and data.dtype != np.dtype(spec.dtype):
        data = data.astype(spec.dtype)
    attrs.update(units=spec.units, description=spec.description)
    return xr.Variable(spec.dims, data, attrs=attrs)


def _grid_shape(variables: Mapping[str, Any]) -> tuple[int, int]:
    for name, value in variables.items():
        dims = VARIABLES[name].dims
        shape = np.shape(value)
        if dims == IMAGE_DIMS and len(shape) in (2, 5):
            return int(shape[-2]), int(shape[-1])
    lengths = {VARIABLES[n].dims[0]: np.shape(v)[0] for n, v in variables.items()
               if VARIABLES[n].dims in (("l",), ("m",))}  # fmt: skip
    if set(lengths) == {"l", "m"}:
        return int(lengths["l"]), int(lengths["m"])
    raise InputError("cannot tell the image size: give at least one image variable")


def make_image_dataset(
    variables: Mapping[str, Any],
    *,
    cell_rad: float,
    phase_center_rad: tuple[float, float],
    frequency_hz: Sequence[float],
    polarization: Sequence[str] = ("I",),
    time_mjd: Sequence[float] = (0.0,),
    product_kind: str,
    attrs: Mapping[str, Any] | None = None,
) -> xr.Dataset:
    """Build an image product Dataset following the schema.

    Parameters
    ----------
    variables
        Schema variable name -> array (numpy, dask or DataArray). Image variables have shape
        ``(time, frequency, polarization, nx, ny)`` (or ``(nx, ny)`` when time, frequency and
        polarization all have length 1), indexed ``[..., x, y]``; other variables have their own
        dims (``SUM_OF_WEIGHTS``: ``(time, frequency, polarization)``; ``GRID_CORRECTION_L``:
        ``(nx,)``; ``GRID_CORRECTION_M``: ``(ny,)``). Dask arrays stay lazy.
    cell_rad
        Pixel size in radians (square pixels).
    phase_center_rad
        ``(ra, dec)`` of the phase centre (pixel ``(nx//2, ny//2)``), radians.
    frequency_hz, polarization, time_mjd
        Coordinates of the plane dims: Hz; Stokes/correlation names; mean observing time, MJD
        days (UTC). The header's DATE-OBS/MJD-OBS default to the first time; producers that
        know the observing span pass ``DATE-OBS``/``DATE-END`` in ``attrs["fits_header"]``.
    product_kind
        A key of :data:`PRODUCT_KINDS`; its required variables must be present.
    attrs
        Extra Dataset attrs (JSON-compatible), overriding the defaults; a ``fits_header`` mapping
        is merged into the generated header (e.g. ``{"CDELT3": bandwidth_hz, "OBJECT": name}``).

    Returns
    -------
    xarray.Dataset
        Dims ``(time, frequency, polarization, l, m)``; attrs ``fits_header``, ``history``,
        ``phase_center_deg``, ``cell_arcsec``, ``restoring_beam``, ``units``, ``product_kind``,
        ``schema_version`` and ``provenance`` (completed by the store writer).

    Raises
    ------
    InputError
        Unknown variables or product kind, shapes that do not match, or an invalid grid.
    """
    unknown = sorted(set(variables) - set(VARIABLES))
    if unknown:
        raise InputError(f"unknown image variable(s) {unknown}; the schema has {list(VARIABLES)}")
    if product_kind not in PRODUCT_KINDS:
        raise InputError(f"unknown product kind {product_kind!r}; known: {list(PRODUCT_KINDS)}")
    if not (np.isfinite(cell_rad) and cell_rad > 0):
        raise InputError(f"cell size must be positive, got {cell_rad} rad")
    ra, dec = (float(v) for v in phase_center_rad)
    if not abs(dec) <= np.pi / 2:
        raise InputError(f"phase centre declination {np.degrees(dec)} deg is out of range")
    nx, ny = _grid_shape(variables)
    coords = {
        "time": ("time", np.asarray(time_mjd, dtype=np.float64),
                 {"units": "d", "format": "mjd", "scale": "utc"}),
        "frequency": ("frequency", np.asarray(frequency_hz, dtype=np.float64), {"units": "Hz"}),
        "polarization": ("polarization", np.asarray([str(p) for p in polarization])),
        "l": ("l", -(np.arange(nx) - nx // 2) * float(cell_rad),
              {"units": "rad", "description": "direction cosine towards east (RA decreases "
               "along the dim)"}),
        "m": ("m", (np.arange(ny) - ny // 2) * float(cell_rad),
              {"units": "rad", "description": "direction cosine towards north"}),
    }  # fmt: skip
    if "BEAM" in variables:
        coords["beam_param"] = ("beam_param", np.asarray(BEAM_PARAMS))
    shape = {name: len(c[1]) for name, c in coords.items()}
    data_vars = {name: _as_variable(name, value, shape) for name, value in variables.items()}
    kind = PRODUCT_KINDS[product_kind]
    if "SKY" in data_vars:
        data_vars["SKY"].attrs.setdefault("image_type", kind.image_type)
    ds = xr.Dataset(data_vars, coords=coords)
    extra = dict(attrs or {})
    header = _default_header(ds, np.degrees(ra), np.degrees(dec))
    header.update(extra.pop("fits_header", {}))
    ds.attrs = _jsonable({
        "fits_header": header,
        "history": [],
        "phase_center_deg": [np.degrees(ra), np.degrees(dec)],
        "cell_arcsec": float(np.degrees(cell_rad) * 3600.0),
        "restoring_beam": _first_beam(data_vars.get("BEAM")),
        "units": {name: VARIABLES[name].units for name in data_vars},
        "product_kind": product_kind,
        "schema_version": SCHEMA_VERSION,
        "provenance": {},
        **extra,
    })  # fmt: skip
    check_image(ds, product_kind)
    return ds


def _first_beam(beam: xr.Variable | None) -> dict[str, float] | None:
    """The ``restoring_beam`` attr of the first plane of a ``BEAM`` variable."""
    if beam is None:
        return None
    major, minor, pa = (float(v) for v in np.asarray(beam.data)[0, 0, 0])
    return {"major_arcsec": major, "minor_arcsec": minor, "pa_deg": pa}


def _default_header(ds: xr.Dataset, ra_deg: float, dec_deg: float) -> dict[str, Any]:
    mjd = float(ds["time"].values[0])
    header: dict[str, Any] = {
        "CTYPE1": "RA---SIN", "CRVAL1": ra_deg, "CUNIT1": "deg",
        "CTYPE2": "DEC--SIN", "CRVAL2": dec_deg, "CUNIT2": "deg",
        **_grid_keys(ds),
        "MJD-OBS": mjd,
        "DATE-OBS": (_MJD_EPOCH + timedelta(days=mjd)).isoformat(timespec="milliseconds"),
        "RADESYS": "FK5", "EQUINOX": 2000.0, "LONPOLE": 180.0, "LATPOLE": dec_deg,
        "TELESCOP": "VLA", "INSTRUME": "VLA", "ORIGIN": "vlassdask",
        "BUNIT": "Jy/beam", "BTYPE": "Intensity", "SPECSYS": "TOPOCENT", "TIMESYS": "UTC",
    }  # fmt: skip
    return header


def _stokes_axis(polarization: Sequence[str]) -> tuple[int, int] | None:
    """``(CRVAL4, CDELT4)`` for the polarization names; None if they are not evenly spaced."""
    try:
        codes = [STOKES_CODES[str(p).upper()] for p in polarization]
    except KeyError as exc:
        raise InputError(
            f"unknown polarization {exc.args[0]!r}; known: {list(STOKES_CODES)}"
        ) from None
    step = codes[1] - codes[0] if len(codes) > 1 else 1
    if step == 0 or np.any(np.diff(codes) != step):
        return None
    return codes[0], step


def _grid_keys(ds: xr.Dataset) -> dict[str, Any]:
    """FITS keys derived from the coordinates: pixel grid, spectral and Stokes axes."""
    l_rad, m_rad = ds["l"].values, ds["m"].values
    cell = float(m_rad[1] - m_rad[0]) if m_rad.size > 1 else float(-(l_rad[1] - l_rad[0]))
    freq = ds["frequency"].values
    stokes = _stokes_axis(ds["polarization"].values)
    keys = {
        "CDELT1": -np.degrees(cell), "CRPIX1": round(float(l_rad[0] / cell), 6) + 1.0,
        "CDELT2": np.degrees(cell), "CRPIX2": round(float(-m_rad[0] / cell), 6) + 1.0,
        "CTYPE3": "FREQ", "CRVAL3": float(freq[0]), "CRPIX3": 1.0, "CUNIT3": "Hz",
        "CDELT3": float(freq[1] - freq[0]) if freq.size > 1 else 1.0,
    }  # fmt: skip
    if stokes is not None:
        keys.update(CTYPE4="STOKES", CRVAL4=float(stokes[0]), CDELT4=float(stokes[1]),
                    CRPIX4=1.0, CUNIT4="")  # fmt: skip
    return keys


def current_fits_header(ds: xr.Dataset) -> dict[str, Any]:
    """``ds.attrs["fits_header"]`` with the coordinate-derived keys brought up to date.

    Celestial projection, phase centre (CRVAL1/2) and metadata come from the attrs; pixel grid
    (CRPIX/CDELT), spectral and Stokes keys are re-derived from the coordinates so that
    selections and cut-outs stay correct. For one frequency, CDELT3 keeps the value stored in the
    attrs (the bandwidth, when the producer set it).

    Raises
    ------
    InputError
        If the attrs carry no header with CRVAL1/CRVAL2.
    """
    stored = ds.attrs.get("fits_header")
    if not isinstance(stored, Mapping) or "CRVAL1" not in stored or "CRVAL2" not in stored:
        raise InputError("image has no fits_header attr with CRVAL1/CRVAL2")
    keys = {k: v for k, v in stored.items() if v is not None}
    derived = _grid_keys(ds)
    if ds.sizes["frequency"] == 1 and "CDELT3" in keys:
        derived.pop("CDELT3")
    if "CTYPE4" not in derived:
        for key in ("CTYPE4", "CRVAL4", "CDELT4", "CRPIX4", "CUNIT4"):
            keys.pop(key, None)
    keys.update(derived)
    return _jsonable(keys)


def wcs_header(ds: xr.Dataset) -> fits.Header:
    """The 4-axis FITS header (RA---SIN, DEC--SIN, FREQ, STOKES) of an image product.

    The keys are those of :func:`current_fits_header`; no NAXIS/BITPIX cards and no HISTORY
    (the FITS writer adds those).

    Raises
    ------
    InputError
        If the attrs carry no usable header or the polarizations are not evenly spaced Stokes
        codes (so cannot form one FITS axis).
    """
    keys = current_fits_header(ds)
    if "CTYPE4" not in keys:
        raise InputError(
            f"polarizations {list(ds['polarization'].values)} are not evenly spaced Stokes codes "
            "and cannot form one FITS axis; select some with ds.isel(polarization=...)"
        )
    header = fits.Header()
    header["WCSAXES"] = 4
    for key, value in keys.items():
        header[key] = value
    return header


def celestial_wcs(ds: xr.Dataset) -> WCS:
    """The celestial (RA/Dec SIN) WCS of the image; pixel axis 0 is x (the ``l`` index)."""
    return WCS(wcs_header(ds)).celestial


def check_image(ds: xr.Dataset, product_kind: str | None = None, *, check_values: bool = False
                ) -> None:  # fmt: skip
    """Validate an image product against the schema.

    Parameters
    ----------
    ds
        The image Dataset.
    product_kind
        Kind whose required variables must be present; default ``ds.attrs["product_kind"]``.
    check_values
        Also require every image variable to have at least one finite value. Numpy-backed
        variables are always checked; dask-backed ones only when this is true (it computes them).

    Raises
    ------
    InputError
        With one message listing every problem found.
    """
    if not isinstance(ds, xr.Dataset):
        raise InputError(f"expected an xarray.Dataset image, got {type(ds).__name__}")
    kind = product_kind or ds.attrs.get("product_kind")
    problems: list[str] = []
    if kind not in PRODUCT_KINDS:
        problems.append(f"unknown product kind {kind!r} (known: {list(PRODUCT_KINDS)})")
    else:
        missing = [n for n in PRODUCT_KINDS[kind].required if n not in ds.data_vars]
        if missing:
            problems.append(f"missing variable(s) {missing} required for a {kind!r} product")
    unknown = sorted(set(ds.data_vars) - set(VARIABLES))
    if unknown:
        problems.append(f"variable(s) {unknown} are not in the image schema")
    missing_coords = [c for c in IMAGE_DIMS if c not in ds.coords]
    if missing_coords:
        problems.append(f"missing coordinate(s) {missing_coords}")
    else:
        problems += _grid_problems(ds)
    for name, var in ds.data_vars.items():
        spec = VARIABLES.get(str(name))
        if spec is None:
            continue
        if var.dims != spec.dims:
            problems.append(f"{name} has dims {var.dims}; expected {spec.dims}")
        if not spec.accepts(var.dtype):
            problems.append(f"{name} has dtype {var.dtype}; expected {spec.dtype}")
        if spec.dims == IMAGE_DIMS and spec.dtype == "floating" and var.size:
            if (check_values or not isinstance(var.data, da.Array)) and not bool(
                np.isfinite(var.data).any()
            ):
                problems.append(f"{name} has no finite values")
    header = ds.attrs.get("fits_header")
    if not isinstance(header, Mapping):
        problems.append("attrs lack fits_header")
    elif (header.get("CTYPE1"), header.get("CTYPE2")) != ("RA---SIN", "DEC--SIN"):
        problems.append("fits_header CTYPE1/CTYPE2 must be RA---SIN/DEC--SIN")
    if problems:
        raise InputError("invalid image: " + "; ".join(problems))


def _grid_problems(ds: xr.Dataset) -> list[str]:
    l_rad, m_rad = ds["l"].values, ds["m"].values
    if l_rad.size < 2 or m_rad.size < 2:
        return ["image must be at least 2 x 2 pixels"]
    dl, dm = np.diff(l_rad), np.diff(m_rad)
    cell = dm[0]
    if not (cell > 0 and np.allclose(dm, cell, rtol=1e-9, atol=0)
            and np.allclose(dl, -cell, rtol=1e-9, atol=0)):  # fmt: skip
        return ["l and m must be uniform grids with one cell size, l decreasing and m increasing"]
    return []


def default_encoding(ds: xr.Dataset, chunk_pixels: int = DEFAULT_CHUNK_PIXELS) -> dict[str, dict]:
    """Zarr encoding for every data variable: chunks of one plane by ``chunk_pixels`` squared.

    Chunks are ``(1, 1, 1, chunk_pixels, chunk_pixels)`` for image variables, one chunk for the
    small ones, clipped to the array shape. Compression is left to Zarr's default codec.
    """
    encoding = {}
    for name, var in ds.data_vars.items():
        if var.dims == IMAGE_DIMS:
            want = (1, 1, 1, chunk_pixels, chunk_pixels)
            chunks = tuple(min(w, n) for w, n in zip(want, var.shape, strict=True))
        else:
            chunks = var.shape
        encoding[str(name)] = {"chunks": tuple(max(1, c) for c in chunks)}
    return encoding


def schema_markdown() -> str:
    """The schema as Markdown tables (variables, then product kinds) for the documentation."""
    lines = ["| Variable | Dims | Dtype | Units | Description |", "|---|---|---|---|---|"]
    for spec in VARIABLES.values():
        lines.append(
            f"| `{spec.name}` | ({', '.join(spec.dims)}) | {spec.dtype} | {spec.units or '-'} "
            f"| {spec.description} |"
        )
    lines += ["", "| Product kind | Required variables | SKY image_type | Description |",
              "|---|---|---|---|"]  # fmt: skip
    for name, kind in PRODUCT_KINDS.items():
        required = ", ".join(f"`{v}`" for v in kind.required)
        lines.append(f"| `{name}` | {required} | {kind.image_type} | {kind.description} |")
    return "\n".join(lines) + "\n"
