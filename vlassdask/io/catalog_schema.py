"""The component catalog schema: declared once, used for construction, validation and docs.

A catalog is a :class:`pandas.DataFrame` with one row per component. :data:`COLUMNS` is the single
declaration of every column (name, dtype, unit, description); the names are PyBDSF's source-list
names (``Total_flux``, ``E_Peak_flux``, ``DC_Maj``, ``S_Code``, ...) and the CIRADA VLASS
catalog's additions (``Component_name``, ``Peak_to_ring``, ``Duplicate_flag``, ``Quality_flag``,
``Alpha``), in the CIRADA units: flux densities in mJy (peak in mJy/beam), sizes and position
errors in arcsec, angles in degrees, positions in degrees. :func:`make_catalog` orders and casts
a table to the schema, :func:`check_catalog` validates one, :func:`catalog_units` gives the unit of
every column (written into FITS tables and Parquet metadata) and :func:`schema_markdown` renders
the table for ``docs/catalogs.md``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from vlassdask.errors import InputError

SCHEMA_VERSION = "1"
#: ``S_Code`` values: a single-Gaussian source alone in its island, a source of several
#: Gaussians, a single-Gaussian source in an island with other sources (PyBDSF's codes).
S_CODES = ("S", "M", "C")


@dataclass(frozen=True)
class ColumnSpec:
    """One catalog column.

    Attributes
    ----------
    name, unit, description
        As written (the unit goes into FITS ``TUNITn`` and the Parquet schema metadata).
    dtype
        numpy dtype name (``float64``, ``int64``, ``int8``) or ``str``.
    required
        Whether every component catalog has it (the others are filled by later steps: merge,
        spectral index).
    """

    name: str
    dtype: str
    unit: str
    description: str
    required: bool = True


def _col(name: str, dtype: str, unit: str, description: str, required: bool = True) -> ColumnSpec:
    return ColumnSpec(name, dtype, unit, description, required)


COLUMNS: dict[str, ColumnSpec] = {
    spec.name: spec
    for spec in (
        _col("Component_name", "str", "", "IAU-style name from the position, "
             "'VLASS J hhmmss.ss+ddmmss.s' (truncated)."),
        _col("Source_id", "int64", "", "Component number within its image (0-based)."),
        _col("Isl_id", "int64", "", "Island number within its image."),
        _col("Image", "str", "", "Image the component was found in (file or store name)."),
        _col("Tile", "str", "", "VLASS tile of the image ('' when the name does not say)."),
        _col("RA", "float64", "deg", "Right ascension of the fitted centre (J2000)."),
        _col("E_RA", "float64", "arcsec", "Error of RA (on the sky)."),
        _col("DEC", "float64", "deg", "Declination of the fitted centre (J2000)."),
        _col("E_DEC", "float64", "arcsec", "Error of DEC."),
        _col("Total_flux", "float64", "mJy", "Integrated flux density of the fitted Gaussian(s)."),
        _col("E_Total_flux", "float64", "mJy", "Error of Total_flux (Condon 1997)."),
        _col("Peak_flux", "float64", "mJy/beam", "Peak brightness of the fitted model."),
        _col("E_Peak_flux", "float64", "mJy/beam", "Error of Peak_flux (Condon 1997)."),
        _col("RA_max", "float64", "deg", "Right ascension of the brightest island pixel of the "
             "component."),
        _col("DEC_max", "float64", "deg", "Declination of that pixel."),
        _col("Xposn", "float64", "pix", "Fitted centre, image x (0-based, RA axis)."),
        _col("E_Xposn", "float64", "pix", "Error of Xposn."),
        _col("Yposn", "float64", "pix", "Fitted centre, image y (0-based, Dec axis)."),
        _col("E_Yposn", "float64", "pix", "Error of Yposn."),
        _col("Maj", "float64", "arcsec", "Fitted FWHM major axis (convolved with the beam)."),
        _col("E_Maj", "float64", "arcsec", "Error of Maj."),
        _col("Min", "float64", "arcsec", "Fitted FWHM minor axis."),
        _col("E_Min", "float64", "arcsec", "Error of Min."),
        _col("PA", "float64", "deg", "Fitted position angle of the major axis, east of north, "
             "0-180."),
        _col("E_PA", "float64", "deg", "Error of PA."),
        _col("DC_Maj", "float64", "arcsec", "Beam-deconvolved FWHM major axis (0: unresolved)."),
        _col("E_DC_Maj", "float64", "arcsec", "Error of DC_Maj."),
        _col("DC_Min", "float64", "arcsec", "Beam-deconvolved FWHM minor axis (0: unresolved)."),
        _col("E_DC_Min", "float64", "arcsec", "Error of DC_Min."),
        _col("DC_PA", "float64", "deg", "Beam-deconvolved position angle, east of north, 0-180."),
        _col("E_DC_PA", "float64", "deg", "Error of DC_PA."),
        _col("Isl_Total_flux", "float64", "mJy", "Sum of the island's pixels above the mean "
             "divided by the beam area."),
        _col("E_Isl_Total_flux", "float64", "mJy", "Error of Isl_Total_flux."),
        _col("Isl_rms", "float64", "mJy/beam", "Mean background rms over the island."),
        _col("Isl_mean", "float64", "mJy/beam", "Mean background level over the island."),
        _col("Resid_Isl_rms", "float64", "mJy/beam", "Rms of the fit residual over the island."),
        _col("Resid_Isl_mean", "float64", "mJy/beam", "Mean of the fit residual over the island."),
        _col("S_Code", "str", "", "S: one Gaussian alone in its island; M: several Gaussians; "
             "C: one Gaussian in an island shared with other components."),
        _col("N_Gaussians", "int64", "", "Gaussians fitted to the component."),
        _col("Peak_to_ring", "float64", "", "Peak_flux over the brightest pixel in the 5-10 "
             "arcsec annulus around the component (inf when the annulus has none above 0)."),
        _col("NN_dist", "float64", "arcsec", "Distance to the nearest other component of the "
             "catalog.", required=False),
        _col("Duplicate_flag", "int8", "", "0: unique; 1: duplicate kept (higher S/N); 2: "
             "duplicate not preferred (CIRADA).", required=False),
        _col("Quality_flag", "int8", "", "Bits: +1 NN_dist >= 20 arcsec and Peak_to_ring < 2 "
             "(possible sidelobe); +2 Peak_flux < 5 Isl_rms; +4 Peak_flux > Total_flux.",
             required=False),
        _col("Alpha", "float64", "", "Spectral index: mean of the 3x3 alpha pixels around the "
             "peak pixel (NaN: no alpha image or no finite pixel).", required=False),
        _col("E_Alpha", "float64", "", "Error of Alpha: mean of the 3x3 alpha-error pixels "
             "(correlated over the beam, so not divided by 3); without an error image the "
             "standard deviation of the 3x3 alpha pixels.", required=False),
    )
}  # fmt: skip


def required_columns() -> list[str]:
    """Names of the columns every component catalog has, in schema order."""
    return [c.name for c in COLUMNS.values() if c.required]


def catalog_units() -> dict[str, str]:
    """Column name -> unit (empty string for dimensionless columns)."""
    return {c.name: c.unit for c in COLUMNS.values()}


def _cast(values: pd.Series, spec: ColumnSpec) -> pd.Series:
    if spec.dtype == "str":
        return values.fillna("").astype(str)
    if np.dtype(spec.dtype).kind in "iu":
        return values.fillna(0).astype(spec.dtype)
    return values.astype(spec.dtype)


def empty_catalog(extra: Iterable[str] = ()) -> pd.DataFrame:
    """A catalog with no rows and the required columns (plus ``extra`` schema columns)."""
    names = [*required_columns(), *[n for n in extra if not COLUMNS[n].required]]
    return pd.DataFrame({n: pd.Series([], dtype=_pandas_dtype(COLUMNS[n])) for n in names})


def _pandas_dtype(spec: ColumnSpec) -> str:
    return "object" if spec.dtype == "str" else spec.dtype


def make_catalog(rows: pd.DataFrame | Iterable[Mapping]) -> pd.DataFrame:
    """Order and cast a table to the schema: required columns first, then the optional ones
    present; columns not in the schema are kept at the end.

    Raises
    ------
    InputError
        If a required column is missing.
    """
    table = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(list(rows))
    if table.empty and not len(table.columns):
        return empty_catalog()
    missing = [n for n in required_columns() if n not in table.columns]
    if missing:
        raise InputError(f"catalog lacks required column(s) {missing}")
    names = [n for n in COLUMNS if n in table.columns]
    out = pd.DataFrame({n: _cast(table[n], COLUMNS[n]) for n in names}, index=table.index)
    others = [c for c in table.columns if c not in COLUMNS]
    for name in others:
        out[name] = table[name]
    return out.reset_index(drop=True)


def check_catalog(table: pd.DataFrame, *, require: Iterable[str] | None = None) -> None:
    """Validate a catalog against the schema.

    Parameters
    ----------
    table
        The catalog.
    require
        Columns that must be present (default: every required column).

    Raises
    ------
    InputError
        With one message listing every problem: missing columns, wrong dtypes, positions out
        of range, unknown S_Code or flag values.
    """
    problems: list[str] = []
    want = list(require) if require is not None else required_columns()
    missing = [n for n in want if n not in table.columns]
    if missing:
        problems.append(f"missing column(s) {missing}")
    for name in table.columns:
        spec = COLUMNS.get(str(name))
        if spec is None:
            continue
        kind = table[name].dtype.kind
        if spec.dtype == "str":
            ok = kind in "OUS" or str(table[name].dtype) in ("string", "str")
        else:
            ok = kind in ("f" if np.dtype(spec.dtype).kind == "f" else "iu")
        if not ok:
            problems.append(f"{name} has dtype {table[name].dtype}; expected {spec.dtype}")
    if "RA" in table and table["RA"].dtype.kind == "f":
        ra = table["RA"].to_numpy()
        if np.any(~np.isfinite(ra) | (ra < 0) | (ra >= 360)):
            problems.append("RA must be finite and in [0, 360) deg")
    if "DEC" in table and table["DEC"].dtype.kind == "f":
        dec = table["DEC"].to_numpy()
        if np.any(~np.isfinite(dec) | (np.abs(dec) > 90)):
            problems.append("DEC must be finite and in [-90, 90] deg")
    if "S_Code" in table and len(table):
        bad = sorted(set(table["S_Code"].astype(str)) - set(S_CODES))
        if bad:
            problems.append(f"S_Code values {bad} are not in {list(S_CODES)}")
    if "Duplicate_flag" in table and len(table):
        bad = sorted(set(int(v) for v in table["Duplicate_flag"]) - {0, 1, 2})
        if bad:
            problems.append(f"Duplicate_flag values {bad} are not 0, 1 or 2")
    if problems:
        raise InputError("invalid catalog: " + "; ".join(problems))


def schema_markdown() -> str:
    """The schema as a Markdown table for the documentation."""
    lines = ["| Column | Dtype | Unit | Always | Description |", "|---|---|---|---|---|"]
    for spec in COLUMNS.values():
        lines.append(f"| `{spec.name}` | {spec.dtype} | {spec.unit or '-'} | "
                     f"{'yes' if spec.required else 'no'} | {spec.description} |")
    return "\n".join(lines) + "\n"
