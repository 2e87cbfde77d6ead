"""One QA run: pick the planes of an image product, check them, measure, detect and decide.

:func:`qa_images_from_dataset` turns an image Dataset (a Zarr store or a FITS image opened with
:mod:`vlassdask.io`) into :class:`~vlassdask.qa.types.QAImages`; :func:`assess` runs the
statistics (:mod:`vlassdask.qa.statistics`), the detectors (:mod:`vlassdask.qa.detectors`) and
the decision engine (:mod:`vlassdask.qa.decision`) on them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import xarray as xr

from vlassdask.errors import InputError
from vlassdask.qa.config import QAConfig
from vlassdask.qa.decision import QAResult, decide
from vlassdask.qa.detectors import run_detectors
from vlassdask.qa.planes import check_planes
from vlassdask.qa.statistics import ImageStatistics, image_statistics
from vlassdask.qa.types import QAImages

# Image variable of each QA plane, and the plane each detector cannot do without.
PLANE_VARIABLES = {"sky": "SKY", "residual": "RESIDUAL", "rms": "RMS", "pb": "PRIMARY_BEAM",
                   "psf": "POINT_SPREAD_FUNCTION"}
DETECTOR_INPUTS = {"pb_holes": "pb", "high_weights": "pb", "rfi": "rms"}
_COMPANION_OPTIONS = {"pb": "--pb", "rms": "--rms", "residual": "--residual"}


def subimage_box(
    shape: tuple[int, int], center: tuple[int, int], side: int
) -> tuple[int, int, int, int]:
    """Half-open ``(x0, x1, y0, y1)`` box of ``side`` pixels centred on ``center``, clipped to
    the image (the whole image when it is not larger than ``side``)."""
    box = []
    for n, c in zip(shape, center, strict=True):
        lo = c - side // 2
        box += [0, n] if side >= n else [max(0, lo), min(n, lo + side)]
    return box[0], box[1], box[2], box[3]


def qa_images_from_dataset(
    ds: xr.Dataset,
    config: QAConfig,
    *,
    name: str = "",
    time_index: int = 0,
    frequency_index: int = 0,
    polarization_index: int = 0,
) -> QAImages:
    """The QA planes of an image product.

    Parameters
    ----------
    ds
        Image Dataset (schema of :mod:`vlassdask.io.image_schema`), lazy or in memory. ``SKY``
        is required; ``RESIDUAL``, ``RMS`` and ``PRIMARY_BEAM`` are used when present.
    config
        QA configuration: its product type gives the sub-image size on the sky
        (``subimage_size x cell_arcsec``), centred on the phase centre (the pixel where
        ``l = m = 0``).
    name
        Name for reports.
    time_index, frequency_index, polarization_index
        The plane to assess.

    Returns
    -------
    QAImages
        Views of the chosen planes (no data is read).

    Raises
    ------
    InputError
        No ``SKY`` variable, or a plane index out of range.
    """
    if "SKY" not in ds.data_vars:
        raise InputError(f"{name or 'image'} has no SKY variable to assess")
    index = {"time": time_index, "frequency": frequency_index,
             "polarization": polarization_index}  # fmt: skip
    for dim, i in index.items():
        if not -ds.sizes[dim] <= i < ds.sizes[dim]:
            raise InputError(f"{dim} index {i} out of range (the image has {ds.sizes[dim]})")
    planes = {role: ds[var].isel(index).transpose("l", "m") if var in ds.data_vars else None
              for role, var in PLANE_VARIABLES.items()}  # fmt: skip
    l_rad, m_rad = ds["l"].values, ds["m"].values
    cell_rad = float(m_rad[1] - m_rad[0])
    cell_arcsec = float(np.degrees(cell_rad) * 3600.0)
    center = (int(round(l_rad[0] / cell_rad)), int(round(-m_rad[0] / cell_rad)))
    side = int(round(config.product.subimage_arcsec / cell_arcsec))
    beam = ds.attrs.get("restoring_beam")
    return QAImages(
        sky=planes["sky"], residual=planes["residual"], rms=planes["rms"], pb=planes["pb"],
        cell_arcsec=cell_arcsec,
        restoring_beam=dict(beam) if isinstance(beam, Mapping) else None,
        subimage=subimage_box((ds.sizes["l"], ds.sizes["m"]), center, side),
        frequency_hz=float(ds["frequency"].values[frequency_index]),
        name=name, psf=planes["psf"],
    )  # fmt: skip


def check_inputs(images: QAImages, config: QAConfig) -> None:
    """Refuse inputs the QA cannot assess before any pixel is read.

    Checks the planes' shapes and the sub-image box
    (:func:`vlassdask.qa.planes.check_planes`) and that every detector that is not listed in
    ``decision.optional_detectors`` has its input plane.

    Raises
    ------
    InputError
        Naming the image, the missing plane and the detectors that need it.
    """
    check_planes(images)
    optional = set(config.decision.optional_detectors)
    missing: dict[str, list[str]] = {}
    for detector, role in DETECTOR_INPUTS.items():
        if getattr(images, role) is None and detector not in optional:
            missing.setdefault(role, []).append(detector)
    if missing:
        role, detectors = next(iter(missing.items()))
        raise InputError(
            f"{images.name or 'image'} has no {role} image, needed by the "
            f"{' and '.join(detectors)} detector{'s' if len(detectors) > 1 else ''}: give it "
            f"({_COMPANION_OPTIONS[role]} for FITS) or list the detector under "
            "decision.optional_detectors in the QA config"
        )


def _check_measured(images: QAImages, statistics: ImageStatistics) -> None:
    """Refuse planes without a finite pixel in the sub-image (read off the statistics, which
    already refused an all-NaN residual)."""
    empty = [role for role, value, plane in (
        ("sky", statistics.sky_peak, images.sky),
        ("rms", statistics.rms_image_median, images.rms),
        ("pb", statistics.pb_median, images.pb),
    ) if plane is not None and (value is None or not math.isfinite(value))]  # fmt: skip
    if empty:
        raise InputError(f"{images.name or 'image'}: the {empty[0]} image has no finite values "
                         f"in the sub-image {tuple(images.subimage)} (all NaN)")  # fmt: skip


def assess(
    images: QAImages,
    config: QAConfig,
    *,
    attempt: int = 0,
    inputs: Mapping[str, str] | None = None,
) -> QAResult:
    """Check, measure, detect and decide: the QA of one image.

    Parameters
    ----------
    images
        The planes (see :func:`qa_images_from_dataset`).
    config
        QA configuration; its product type selects the decision rules and retry ladder.
    attempt
        Imaging attempt the image comes from (0 = first run).
    inputs
        Role -> path of what was read, recorded in the result.

    Returns
    -------
    QAResult

    Raises
    ------
    InputError
        Bad input: see :func:`check_inputs`; planes without a finite pixel; a negative
        attempt.

    Notes
    -----
    Peak memory: that of :func:`vlassdask.qa.statistics.image_statistics` and
    :func:`vlassdask.qa.detectors.run_detectors` (run one after the other).
    """
    check_inputs(images, config)
    statistics = image_statistics(images)
    _check_measured(images, statistics)
    detectors = run_detectors(images, config.detectors)
    decision, reasons, retry = decide(statistics, detectors, config.decision,
                                      config.product.ladder, attempt=attempt)  # fmt: skip
    return QAResult(
        name=images.name, decision=decision, reasons=reasons, statistics=statistics,
        detectors=tuple(detectors), retry=retry, attempt=int(attempt),
        product_type=config.product_type, inputs=dict(inputs or {}), config=config.to_dict(),
    )  # fmt: skip
