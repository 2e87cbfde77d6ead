"""VLASS product file names <-> a typed record, and the FITS header keywords of products.

Layout (dot-separated, as the NRAO archive names its images)::

    VLASS2.1.se.T13t10.J063820+113000.06.2048.v1.I.iter3.image.pbcor.tt0.subim.fits
    epoch    |  tile   phase centre   |  |    |  | iter  image type  term
             product (ql/se/cc)       |  |    version
                         pixel (0.1") bandwidth (MHz)

Coarse-cube planes carry the spectral window after the version
(``VLASS2.1.cc.T10t02.J005000-023000.06.2048.v1.spw10.IQU.iter3.image.pbcor.tt0.subim.fits``);
a cube's band-level images have none (the band-averaged Stokes V image
``...v1.V.iter3.image.pbcor.tt0.subim.fits``, the spectral index ``...v1.I.iter3.alpha...``);
rms images end in ``.rms.subim.fits``; spectral-index images have no Taylor term
(``...I.iter3.alpha.subim.fits``, ``...I.iter3.alpha.error.subim.fits``).

Header keywords: ``FILNAMnn`` hold the name's fields as CASA writes them for VLASS: the epoch split
in two (``VLASS1``, ``1``), then product, tile, phase centre, pixel, bandwidth, version, [spw],
Stokes, ``iterN``, the image type without ``pbcor`` (``image``) and the Taylor term; ``NFILNAM``
counts them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from vlassdask.errors import InputError
from vlassdask.survey.coordinates import parse_jname
from vlassdask.survey.tiles import get_tile

PRODUCT_TYPES = ("ql", "se", "cc")
IMAGE_TYPES = (
    "image.pbcor",
    "image",
    "residual",
    "model",
    "psf",
    "pb",
    "mask",
    "alpha",
    "alpha.error",
)
_NAME = re.compile(
    r"^(?P<epoch>VLASS\d\.\d)\.(?P<product>[a-z]+)\.(?P<tile>T\d{2}t\d{2})\."
    r"(?P<phase_center>J\d{6}[+-]\d{6})\.(?P<pixel>\d{2})\.(?P<bandwidth>\d+)\.v(?P<version>\d+)"
    r"(?:\.spw(?P<spw>\d+))?\.(?P<stokes>[IQUV]+)\.iter(?P<iteration>\d+)\."
    r"(?P<image_type>" + "|".join(re.escape(t) for t in sorted(IMAGE_TYPES, key=len)[::-1]) + ")"
    r"(?:\.tt(?P<taylor_term>\d))?(?P<rms>\.rms)?"
    r"(?P<subimage>\.subim)?\.fits$"
)


@dataclass(frozen=True)
class ProductName:
    """The fields of a VLASS product file name.

    Attributes
    ----------
    epoch
        Half-epoch, e.g. ``"VLASS2.1"``.
    product
        ``"ql"`` (Quick Look), ``"se"`` (Single Epoch continuum) or ``"cc"`` (coarse cube).
    tile
        ``TNNtMM``.
    phase_center
        ``Jhhmmss+ddmmss``.
    pixel_size_arcsec
        Cell size (1.0 for QL, 0.6 for SE/cc); written as tenths of an arcsec (``10``, ``06``).
    bandwidth_mhz
        Bandwidth field (2048).
    version
        Product version (``v1`` -> 1).
    stokes
        ``"I"``, ``"IQU"``, ...
    iteration
        Imaging iteration (``iter1`` for QL, ``iter3`` for SE).
    image_type
        One of :data:`IMAGE_TYPES` (``"image.pbcor"``, ``"image"`` for flat noise, ``"alpha"``...).
    taylor_term
        Taylor term (``tt0`` -> 0) or None.
    spw
        Spectral window of a coarse-cube plane, or None.
    rms
        True for the rms image of the product.
    subimage
        True for the published sub-image (``.subim``).
    """

    epoch: str
    product: str
    tile: str
    phase_center: str
    pixel_size_arcsec: float
    bandwidth_mhz: int
    version: int
    stokes: str
    iteration: int
    image_type: str = "image.pbcor"
    taylor_term: int | None = 0
    spw: int | None = None
    rms: bool = False
    subimage: bool = True

    def __post_init__(self) -> None:
        if not re.fullmatch(r"VLASS\d\.\d", self.epoch):
            raise InputError(f"bad epoch {self.epoch!r}: expected VLASSn.m, e.g. VLASS2.1")
        if self.product not in PRODUCT_TYPES:
            raise InputError(f"bad product type {self.product!r}: expected one of {PRODUCT_TYPES}")
        get_tile(self.tile)
        parse_jname(self.phase_center)
        if self.image_type not in IMAGE_TYPES:
            raise InputError(f"bad image type {self.image_type!r}: expected one of {IMAGE_TYPES}")
        if not 0 < round(self.pixel_size_arcsec * 10) < 100:
            raise InputError(f"pixel size {self.pixel_size_arcsec} arcsec is not 0.1..9.9")
        if not re.fullmatch(r"[IQUV]+", self.stokes):
            raise InputError(f"bad Stokes {self.stokes!r}: expected letters of IQUV")
        if self.spw is not None and self.product != "cc":
            raise InputError("a spectral window (spw) goes with coarse-cube (cc) products only")

    @property
    def file_name(self) -> str:
        """The product's file name."""
        fields = [
            self.epoch,
            self.product,
            self.tile,
            self.phase_center,
            f"{round(self.pixel_size_arcsec * 10):02d}",
            str(self.bandwidth_mhz),
            f"v{self.version}",
        ]
        if self.spw is not None:
            fields.append(f"spw{self.spw}")
        fields += [self.stokes, f"iter{self.iteration}", self.image_type]
        if self.taylor_term is not None:
            fields.append(f"tt{self.taylor_term}")
        if self.rms:
            fields.append("rms")
        if self.subimage:
            fields.append("subim")
        return ".".join(fields) + ".fits"

    def filnam_fields(self) -> list[str]:
        """The ``FILNAMnn`` values, in order."""
        series, half = self.epoch.split(".")
        fields = [series, half, self.product, self.tile, self.phase_center]
        fields += [f"{round(self.pixel_size_arcsec * 10):02d}", str(self.bandwidth_mhz)]
        fields.append(f"v{self.version}")
        if self.spw is not None:
            fields.append(f"spw{self.spw}")
        fields += [self.stokes, f"iter{self.iteration}"]
        fields += [f for f in self.image_type.split(".") if f != "pbcor"]
        if self.taylor_term is not None:
            fields.append(f"tt{self.taylor_term}")
        return fields


def parse_product_name(name: str) -> ProductName:
    """Parse a VLASS product file name (a path is fine: its last component is used).

    Raises
    ------
    InputError
        If the name does not follow the VLASS layout, or names an unknown tile.
    """
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    match = _NAME.match(base)
    if not match:
        raise InputError(
            f"malformed VLASS product file name {base!r}: expected e.g. "
            "VLASS2.1.se.T13t10.J063820+113000.06.2048.v1.I.iter3.image.pbcor.tt0.subim.fits"
        )
    g = match.groupdict()
    return ProductName(
        epoch=g["epoch"],
        product=g["product"],
        tile=g["tile"],
        phase_center=g["phase_center"],
        pixel_size_arcsec=int(g["pixel"]) / 10.0,
        bandwidth_mhz=int(g["bandwidth"]),
        version=int(g["version"]),
        stokes=g["stokes"],
        iteration=int(g["iteration"]),
        image_type=g["image_type"],
        taylor_term=None if g["taylor_term"] is None else int(g["taylor_term"]),
        spw=None if g["spw"] is None else int(g["spw"]),
        rms=g["rms"] is not None,
        subimage=g["subimage"] is not None,
    )


def product_header_keywords(product: ProductName, ra_deg: float, dec_deg: float) -> dict[str, Any]:
    """FITS header keywords identifying a product, as on the NRAO archive images.

    Parameters
    ----------
    product
        The product's name record.
    ra_deg, dec_deg
        The (uncorrected) phase centre, written as OBSRA/OBSDEC.

    Returns
    -------
    dict
        ``OBJECT`` (phase-centre name), ``TELESCOP`` (``EVLA``), ``OBSRA``, ``OBSDEC``,
        ``OBSGEO-X/Y/Z`` (VLA, ITRF m), ``FILNAM01``..``FILNAMnn``, ``NFILNAM``, ``ITER``.
    """
    keywords: dict[str, Any] = {
        "OBJECT": product.phase_center,
        "TELESCOP": "EVLA",
        "OBSRA": float(ra_deg),
        "OBSDEC": float(dec_deg),
        "OBSGEO-X": -1601156.673,
        "OBSGEO-Y": -5041988.986,
        "OBSGEO-Z": 3554879.237,
    }
    fields = product.filnam_fields()
    for i, value in enumerate(fields, start=1):
        keywords[f"FILNAM{i:02d}"] = value
    keywords["NFILNAM"] = len(fields)
    keywords["ITER"] = product.iteration
    return keywords


_PRODUCT_DEFAULTS = {
    "ql": {"pixel_size_arcsec": 1.0, "iteration": 1, "stokes": "I"},
    "se": {"pixel_size_arcsec": 0.6, "iteration": 3, "stokes": "I"},
    "cc": {"pixel_size_arcsec": 0.6, "iteration": 3, "stokes": "IQU"},
}


def product_name_for(
    epoch: str, product: str, tile: str, phase_center: str, **fields: Any
) -> ProductName:
    """A product name with the VLASS defaults of its type (QL: 1", iter1; SE/cc: 0.6", iter3).

    ``fields`` override any :class:`ProductName` attribute (e.g. ``image_type="alpha"``,
    ``taylor_term=None``, ``spw=10``, ``rms=True``).
    """
    if product not in _PRODUCT_DEFAULTS:
        raise InputError(f"bad product type {product!r}: expected one of {PRODUCT_TYPES}")
    values: dict[str, Any] = {"bandwidth_mhz": 2048, "version": 1, **_PRODUCT_DEFAULTS[product]}
    values.update(fields)
    return ProductName(epoch=epoch, product=product, tile=tile, phase_center=phase_center, **values)
