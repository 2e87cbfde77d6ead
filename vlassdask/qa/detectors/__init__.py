"""The artifact detectors of the quality assessment (SPEC.md "Quality assessment").

Each detector takes :class:`~vlassdask.qa.types.QAImages` and a :class:`DetectorConfig` and
returns a :class:`~vlassdask.qa.types.DetectorResult` (score, threshold, yes/no, locations):

* :func:`detect_pb_holes` -- PB-masked regions inside the sub-image with spikes around them;
* :func:`detect_high_weights` -- mosaic PB median (normalised to max 1) below 0.8;
* :func:`detect_rfi` -- patches of raised rms about one primary beam across;
* :func:`detect_bad_baselines` -- isolated peaks in the Fourier transform of the residual;
* :func:`detect_deconvolution_problems` -- left-over flux and spikes around bright sources.

:func:`run_detectors` runs all five.
"""

from __future__ import annotations

from vlassdask.qa.detectors.bad_baselines import detect_bad_baselines
from vlassdask.qa.detectors.config import (
    BadBaselinesConfig,
    DeconvolutionConfig,
    DetectorConfig,
    HighWeightsConfig,
    PBHolesConfig,
    RFIConfig,
)
from vlassdask.qa.detectors.deconvolution import detect_deconvolution_problems
from vlassdask.qa.detectors.high_weights import detect_high_weights
from vlassdask.qa.detectors.pb_holes import detect_pb_holes
from vlassdask.qa.detectors.rfi import detect_rfi
from vlassdask.qa.planes import check_planes
from vlassdask.qa.types import DetectorResult, QAImages

DETECTORS = {
    "pb_holes": detect_pb_holes,
    "high_weights": detect_high_weights,
    "rfi": detect_rfi,
    "bad_baselines": detect_bad_baselines,
    "deconvolution": detect_deconvolution_problems,
}


def run_detectors(images: QAImages, config: DetectorConfig) -> list[DetectorResult]:
    """Run the five detectors in the order of :data:`DETECTORS`.

    A detector whose input plane is missing returns ``detected=False`` with
    ``details={"skipped": ...}`` (e.g. ``"no PB image"``).

    Raises
    ------
    InputError
        Planes of different shapes or a sub-image box outside the image.

    Notes
    -----
    Peak memory is that of the most demanding detector, :func:`detect_bad_baselines` (~20 bytes
    per sub-image pixel); the others read samples of the PB and rms planes and small cut-outs.
    """
    check_planes(images)
    return [detect(images, config) for detect in DETECTORS.values()]


__all__ = [
    "DETECTORS", "BadBaselinesConfig", "DeconvolutionConfig", "DetectorConfig",
    "HighWeightsConfig", "PBHolesConfig", "RFIConfig", "detect_bad_baselines",
    "detect_deconvolution_problems", "detect_high_weights", "detect_pb_holes", "detect_rfi",
    "run_detectors",
]  # fmt: skip
