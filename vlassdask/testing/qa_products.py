"""QA test images as products on disk: Zarr image stores and VLASS-named FITS files.

Turns :class:`~vlassdask.qa.types.QAImages` (e.g. from :mod:`vlassdask.testing.artifacts`) into
what ``vlassdask qa`` reads, so the recipes, batch mode and CLI can be tested end to end::

    images, truth = make_qa_case("rfi", seed=3, size=256)
    write_qa_store(images, tmp_path / "J061400-013000.zarr")
    write_qa_fits(images, tmp_path, "VLASS2.1.ql.T08t10.J061820-113000.10.2048.v1.I.iter1."
                  "image.pbcor.tt0.subim.fits")
    stores = write_qa_case_products(tmp_path / "products", ("clean", "rfi"), size=256)
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from vlassdask.io.image_schema import make_image_dataset
from vlassdask.io.image_store import write_image_store
from vlassdask.qa.config import QAConfig
from vlassdask.qa.types import QAImages
from vlassdask.survey.product_names import parse_product_name
from vlassdask.testing.artifacts import make_qa_case
from vlassdask.testing.fits import write_vlass_fits

_VARIABLES = {"sky": "SKY", "residual": "RESIDUAL", "rms": "RMS", "pb": "PRIMARY_BEAM"}


def _planes(images: QAImages) -> dict[str, np.ndarray]:
    given = {role: getattr(images, role) for role in _VARIABLES}
    return {role: np.asarray(p, dtype=np.float32) for role, p in given.items() if p is not None}


def qa_image_dataset(
    images: QAImages, *, phase_center_deg: tuple[float, float] = (150.0, 30.0)
) -> xr.Dataset:
    """An image product (kind ``"image"``) holding the planes of ``images`` as float32.

    The phase centre is pixel ``(nx // 2, ny // 2)``; the restoring beam and frequency come
    from ``images``.
    """
    variables = {_VARIABLES[role]: p for role, p in _planes(images).items()}
    return make_image_dataset(
        variables,
        cell_rad=np.radians(images.cell_arcsec / 3600.0),
        phase_center_rad=tuple(np.radians(phase_center_deg)),
        frequency_hz=[images.frequency_hz],
        time_mjd=[60000.5],
        product_kind="image",
        attrs={"restoring_beam": images.restoring_beam,
               "history": ["made by vlassdask.testing.qa_products"]},  # fmt: skip
    )


def write_qa_store(images: QAImages, path: str | os.PathLike) -> Path:
    """Write ``images`` as a Zarr image store (see :func:`qa_image_dataset`)."""
    return Path(write_image_store(qa_image_dataset(images), path))


def write_qa_fits(images: QAImages, directory: str | os.PathLike, name: str) -> dict[str, Path]:
    """Write ``images`` as a VLASS FITS image ``name`` and its companions beside it.

    Parameters
    ----------
    images
        The planes; each present one is written.
    directory
        Where to write.
    name
        VLASS product file name of the image (``...image.pbcor.tt0.subim.fits``); the rms,
        primary-beam and residual files are named as the archive names them.

    Returns
    -------
    dict
        ``"sky"``, ``"rms"``, ``"pb"``, ``"residual"`` -> path, for the planes written.
    """
    product = parse_product_name(name)
    names = {
        "sky": product,
        "rms": dataclasses.replace(product, rms=True),
        "pb": dataclasses.replace(product, image_type="pb", rms=False),
        "residual": dataclasses.replace(product, image_type="residual", rms=False),
    }
    beam = images.restoring_beam
    beam_arcsec = (beam["major_arcsec"], beam["minor_arcsec"], beam["pa_deg"]) if beam else None
    out = {}
    for role, plane in _planes(images).items():
        out[role] = write_vlass_fits(Path(directory) / names[role].file_name, plane,
                                     cell_arcsec=images.cell_arcsec, beam_arcsec=beam_arcsec,
                                     frequency_hz=images.frequency_hz,
                                     bunit="" if role == "pb" else "Jy/beam")  # fmt: skip
    return out


def write_qa_case_products(
    directory: str | os.PathLike, kinds: Sequence[str], *, size: int = 256, seed: int = 0
) -> dict[str, Path]:
    """Write one Zarr store ``<kind>.zarr`` per artifact kind (:func:`make_qa_case`).

    Returns
    -------
    dict
        kind -> store path.
    """
    directory = Path(directory)
    return {kind: write_qa_store(make_qa_case(kind, seed, size=size)[0],
                                 directory / f"{kind}.zarr") for kind in kinds}  # fmt: skip


def synthetic_qa_config(size: int, **decision: Any) -> QAConfig:
    """The QA configuration for :func:`make_qa_case` images of ``size`` pixels.

    Those images are a QL full field (7290") at ``size`` pixels, so the restoring beam spans
    ~2.5 pixels of ``7290 / size`` arcsec: the beam limits (6" major, 1" minor at 1" cells) are
    scaled to that cell. Other ``decision`` options may be given.
    """
    cell = 7290.0 / size
    return QAConfig.from_mapping({"decision": {"beam_major_max_arcsec": 6.0 * cell,
                                               "beam_minor_min_arcsec": 1.0 * cell,
                                               **decision}})  # fmt: skip
