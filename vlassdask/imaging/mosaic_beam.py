"""The mosaic primary beam of an image, from the imaging weights actually gridded.

A mosaic (many pointings, e.g. VLASS's on-the-fly fields) imaged with one phase centre has the
sensitivity pattern

    A(x) = sum_f sum_nu W[f, nu] PB(|x - p_f|, nu) / sum_f sum_nu W[f, nu]

with ``W[f, nu]`` the imaging weights gridded from field ``f`` at frequency ``nu`` (the same
weights that make the image, so flagging, weighting and band averaging all enter), ``p_f`` the
field's pointing (= its phase centre) and PB the VLA beam (:mod:`vlassdask.imaging.primary_beam`).
A point source of flux S appears in the image with ``S A(x)`` (for a flat spectrum; otherwise
with the weighted-mean of ``S(nu) PB``), so ``image / A`` is the primary-beam-corrected image.
:class:`MosaicBeam` carries the beam normalised to its peak (the ``PRIMARY_BEAM`` variable and
what QA's PB-hole and high-weight detectors read) and the peak sensitivity ``max A``.

Relation to CASA's ``mosaic`` gridder
-------------------------------------
CASA's mosaic gridder convolves each visibility with the transform of its antenna aperture
(A-projection without the time-variable parts), which applies each field's beam in the uv plane
and gives the weight image ``sum W PB^2``; for ``normtype='flatnoise'`` it divides by ``sqrt``
of that. vlassdask applies the beam in the image plane instead: the data are gridded without the
aperture (so the PSF is position independent and a point source is imaged with ``A(x)``), and
this module predicts ``A(x)`` from the gridded weights. Both give the same PB-corrected flux for
sources that do not vary across a primary beam; the image-plane form ignores the variation of
the uv coverage between fields (negligible for OTF rasters, whose fields have near-identical
coverage). An A-projection option would add the aperture to the operator's convolution function
(the w-kernel tables of :mod:`vlassdask.imaging.wplan`) per field; this module then gives the
matching weight image.

The computation is lazy over fields: fields are cut into groups, each group's weighted beams are
summed on a node grid every ``step`` pixels (:mod:`vlassdask.imaging.node_grid`), the groups are
tree-summed, and the full-resolution image is the bilinear interpolation of the node grid.
Within a field the frequency sum is one matrix product: the beams of all frequencies tabulated
against radius, weighted by the field's weights, give one radial profile per field.

Peak memory: one node grid per group task in flight (``8 x n_nodes`` bytes, about 4 MB for a
7290^2 image with 10" nodes) plus the radial profiles (``8 x n_fields x n_radii``), then one
image chunk per interpolation task.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import dask
import dask.array as da
import numpy as np

from vlassdask.errors import InputError
from vlassdask.imaging.graph import tree_reduce
from vlassdask.imaging.node_grid import interpolate_nodes, node_pixels
from vlassdask.imaging.primary_beam import (
    PB_FREQUENCIES_MHZ,
    PB_NULL_X2,
    angular_distance,
    nearest_coefficient_index,
    vla_primary_beam,
)
from vlassdask.survey.coordinates import sin_offsets

#: Radii tabulated per field profile (from 0 to the beam's first null at the lowest frequency).
N_RADII = 1024
#: Fields summed by one task.
FIELDS_PER_TASK = 64


@dataclass(frozen=True)
class FieldWeights:
    """Imaging weights gridded per field and frequency.

    Attributes
    ----------
    field_ids
        FIELD row of each table row, (n_fields,).
    freq_hz
        Channel frequencies, (n_freq,).
    weights
        Sum of imaging weights, (n_fields, n_freq).
    """

    field_ids: np.ndarray
    freq_hz: np.ndarray
    weights: np.ndarray

    def at_frequencies(self, freq_hz) -> FieldWeights:
        """The table restricted to the channels at ``freq_hz`` (fields without weight there
        dropped)."""
        keep = np.isin(self.freq_hz, np.asarray(freq_hz, dtype=np.float64))
        weights = self.weights[:, keep]
        rows = weights.sum(axis=1) > 0
        return FieldWeights(self.field_ids[rows], self.freq_hz[keep], weights[rows])

    def at_fields(self, field_ids) -> FieldWeights:
        """The table restricted to the fields ``field_ids``."""
        keep = np.isin(self.field_ids, np.asarray(field_ids, dtype=np.int64))
        return FieldWeights(self.field_ids[keep], self.freq_hz, self.weights[keep])

    def scaled(self, factors: dict[int, float]) -> FieldWeights:
        """The table with the weights of some fields multiplied by ``factors[field_id]``."""
        scale = np.array([factors.get(int(f), 1.0) for f in self.field_ids])
        return FieldWeights(self.field_ids, self.freq_hz, self.weights * scale[:, None])


def merge_field_weights(*parts: FieldWeights | None) -> FieldWeights | None:
    """Sum of weight tables over the union of their fields and frequencies."""
    parts = [p for p in parts if p is not None]
    if not parts:
        return None
    fields, f_inv = np.unique(np.concatenate([p.field_ids for p in parts]), return_inverse=True)
    freqs, q_inv = np.unique(np.concatenate([p.freq_hz for p in parts]), return_inverse=True)
    out = np.zeros((fields.size, freqs.size))
    fo = qo = 0
    for p in parts:
        rows = f_inv[fo:fo + p.field_ids.size]
        cols = q_inv[qo:qo + p.freq_hz.size]
        out[np.ix_(rows, cols)] += p.weights
        fo, qo = fo + p.field_ids.size, qo + p.freq_hz.size
    return FieldWeights(fields, freqs, out)


def null_radius_rad(freq_hz: float) -> float:
    """Radius of the VLA beam's first null at ``freq_hz`` (beyond it the beam is zero)."""
    index = int(nearest_coefficient_index(freq_hz))
    mhz = float(np.clip(freq_hz / 1e6, PB_FREQUENCIES_MHZ[0], PB_FREQUENCIES_MHZ[-1]))
    return math.radians(math.sqrt(PB_NULL_X2[index]) / (mhz / 1e3) / 60.0)


def fields_reaching(centers_rad: np.ndarray, center_rad: tuple[float, float], half_rad: float,
                    freq_min_hz: float) -> tuple[np.ndarray, float]:  # fmt: skip
    """The fields whose primary beam reaches a square image.

    Parameters
    ----------
    centers_rad
        (n, 2) pointings (RA, Dec), radians.
    center_rad
        Image centre.
    half_rad
        Half the image side (radians).
    freq_min_hz
        Lowest frequency of the data: the beam is widest there.

    Returns
    -------
    indices : numpy.ndarray
        Indices into ``centers_rad`` of the fields within the beam's first-null radius of the
        image's square (SIN-projected offsets).
    nearest : float
        Angular distance of the nearest pointing from the image centre (radians; pi when none
        is in the hemisphere about it).
    """
    centers = np.degrees(np.asarray(centers_rad, dtype=np.float64).reshape(-1, 2))
    l_val, m_val, front = sin_offsets(centers[:, 0], centers[:, 1],
                                      *np.degrees(np.asarray(center_rad, dtype=np.float64)))
    outside = np.hypot(np.maximum(np.abs(l_val) - half_rad, 0.0),
                       np.maximum(np.abs(m_val) - half_rad, 0.0))
    reach = front & (outside < null_radius_rad(freq_min_hz))
    offsets = np.arcsin(np.clip(np.hypot(l_val, m_val)[front], 0.0, 1.0))
    nearest = float(offsets.min()) if offsets.size else math.pi
    return np.flatnonzero(reach), nearest


def radial_profiles(table: FieldWeights, radii: np.ndarray) -> np.ndarray:
    """``sum_nu W[f, nu] PB(r, nu)`` of every field at ``radii``: (n_fields, n_radii)."""
    beams = vla_primary_beam(radii[None, :], table.freq_hz[:, None])
    return table.weights @ beams


def _unit_vectors(ra: np.ndarray, dec: np.ndarray) -> np.ndarray:
    return np.stack([np.cos(dec) * np.cos(ra), np.cos(dec) * np.sin(ra), np.sin(dec)], axis=-1)


def node_directions(shape: tuple[int, int], cell_rad: float, center_rad: tuple[float, float],
                    step: int) -> np.ndarray:  # fmt: skip
    """Unit vectors (nx_nodes, ny_nodes, 3) of the nodes of an image (SIN projection about
    ``center_rad``; pixel (x, y) has l = -(x - nx/2) cell, m = (y - ny/2) cell)."""
    nx, ny = shape
    ra0, dec0 = center_rad
    l_val = -(node_pixels(nx, step) - nx // 2) * cell_rad
    m_val = (node_pixels(ny, step) - ny // 2) * cell_rad
    l_val, m_val = np.meshgrid(l_val, m_val, indexing="ij")
    n_val = np.sqrt(np.clip(1.0 - l_val**2 - m_val**2, 0.0, None))
    center = _unit_vectors(np.array(ra0), np.array(dec0))
    east = np.array([-math.sin(ra0), math.cos(ra0), 0.0])
    north = np.array([-math.sin(dec0) * math.cos(ra0), -math.sin(dec0) * math.sin(ra0),
                      math.cos(dec0)])  # fmt: skip
    return (n_val[..., None] * center + l_val[..., None] * east + m_val[..., None] * north)


def _group_sum(directions: np.ndarray, pointings: np.ndarray, profiles: np.ndarray,
               r_max: float) -> np.ndarray:  # fmt: skip
    """Sum over a group of fields of their radial profiles at the nodes."""
    total = np.zeros(directions.shape[:2])
    radii = np.linspace(0.0, r_max, profiles.shape[1])
    for pointing, profile in zip(pointings, profiles, strict=True):
        chord = np.linalg.norm(directions - pointing, axis=-1)
        r = 2.0 * np.arcsin(np.clip(chord / 2.0, 0.0, 1.0))
        inside = r < r_max
        total[inside] += np.interp(r[inside], radii, profile)
    return total


def _add(*grids: np.ndarray) -> np.ndarray:
    total = grids[0].copy()
    for g in grids[1:]:
        total += g
    return total


def _normalised(total: np.ndarray) -> np.ndarray:
    peak = float(total.max())
    if not peak > 0:
        raise InputError("the mosaic primary beam is zero everywhere in the image: no field's "
                         "primary beam reaches it")
    return total / peak


def _peak(sensitivity: np.ndarray) -> float:
    return float(sensitivity.max())


@dataclass
class MosaicBeam:
    """The mosaic primary beam of an image (see the module docstring).

    Attributes
    ----------
    beam
        Lazy (nx, ny) float32 image, normalised to its peak (1 at the most sensitive pixel).
    peak_sensitivity
        Lazy scalar (a ``dask.delayed``): ``max A``, the response at the beam's peak relative to
        a source at the centre of every field. The image divided by ``peak_sensitivity x beam``
        is the primary-beam-corrected image.
    """

    beam: da.Array
    peak_sensitivity: object


def _sensitivity_nodes(table: FieldWeights, field_centers_rad: np.ndarray, directions,
                       r_max: float):  # fmt: skip
    """Lazy node grid of ``A = sum W PB / sum W`` for one weight table (beams cut at
    ``r_max``; ``directions`` the lazy node unit vectors)."""
    profiles = radial_profiles(table, np.linspace(0.0, r_max, N_RADII))
    centers = np.asarray(field_centers_rad, dtype=np.float64)[table.field_ids]
    pointings = _unit_vectors(centers[:, 0], centers[:, 1])
    groups = [dask.delayed(_group_sum)(directions, pointings[i:i + FIELDS_PER_TASK],
                                       profiles[i:i + FIELDS_PER_TASK], r_max)
              for i in range(0, table.field_ids.size, FIELDS_PER_TASK)]
    total = tree_reduce(groups, _add)
    return dask.delayed(np.divide)(total, float(table.weights.sum()))


def _ratio(part: np.ndarray, whole: np.ndarray, floor: float) -> np.ndarray:
    """``part / whole`` where ``whole`` exceeds ``floor x max(whole)``, else 1."""
    good = whole > floor * whole.max()
    out = np.ones_like(whole)
    out[good] = part[good] / whole[good]
    return out


def relative_beams(
    table: FieldWeights,
    field_centers_rad: np.ndarray,
    parts: list[FieldWeights],
    *,
    shape: tuple[int, int],
    cell_rad: float,
    center_rad: tuple[float, float],
    step: int,
    chunks,
    floor: float = 1e-3,
) -> list[da.Array]:
    """The mosaic beam of each part of the data relative to that of all: ``R_g / A``.

    ``R_g = sum_{(f, nu) in g} W PB / sum_{(f, nu) in g} W`` is the sensitivity the part's data
    (some of the fields, at some of the frequencies) have; a source of flux S is seen by them
    with ``S R_g`` while the image shows it with ``S A``. Predicting each part's visibilities
    from ``model x R_g / A``
    (:meth:`vlassdask.imaging.imaging_operator.ImagingOperator.with_model_weights`) makes the
    major cycles of a wide-band mosaic consistent with its dirty image. For any partition of the
    data the weight-share-weighted mean of the factors is 1.

    Parameters
    ----------
    table, field_centers_rad, shape, cell_rad, center_rad, step, chunks
        As :func:`mosaic_primary_beam`.
    parts
        Sub-tables of ``table`` (:meth:`FieldWeights.at_frequencies`,
        :meth:`FieldWeights.at_fields`); an empty one gets the factor 1.
    floor
        Where ``A`` is below ``floor`` of its peak the factor is 1 (no data to predict).

    Returns
    -------
    list of dask.array.Array
        One lazy (nx, ny) float64 factor image per part.
    """
    r_max = null_radius_rad(float(table.freq_hz.min()))
    directions = dask.delayed(node_directions)(shape, cell_rad, center_rad, step)
    whole = _sensitivity_nodes(table, field_centers_rad, directions, r_max)
    out = []
    for part in parts:
        if part.weights.sum() <= 0:
            out.append(da.ones(shape, chunks=chunks, dtype=np.float64))
            continue
        nodes = dask.delayed(_ratio)(
            _sensitivity_nodes(part, field_centers_rad, directions, r_max), whole, floor)
        out.append(interpolate_nodes(nodes, shape, step, chunks=chunks, dtype=np.float64))
    return out


def mosaic_primary_beam(
    table: FieldWeights,
    field_centers_rad: np.ndarray,
    *,
    shape: tuple[int, int],
    cell_rad: float,
    center_rad: tuple[float, float],
    step: int,
    chunks,
) -> MosaicBeam:
    """The mosaic primary beam of an image, as lazy dask computations over fields.

    Parameters
    ----------
    table
        Imaging weights per field and frequency (:meth:`ImagingOperator.field_weights`).
    field_centers_rad
        (RA, Dec) of every FIELD row, radians, indexed by field id; the pointing of each field
        is its phase centre.
    shape, cell_rad, center_rad
        The image grid: size (nx, ny), pixel size and phase centre.
    step
        Pixels between nodes of the beam grid (the beam is interpolated in between).
    chunks
        Chunks of the full-resolution beam.

    Returns
    -------
    MosaicBeam

    Raises
    ------
    InputError
        If the weight table is empty or sums to zero.
    """
    if table.field_ids.size == 0 or not float(table.weights.sum()) > 0:
        raise InputError("no imaging weights: cannot form the mosaic primary beam")
    directions = dask.delayed(node_directions)(shape, cell_rad, center_rad, step)
    sensitivity = _sensitivity_nodes(table, field_centers_rad, directions,
                                     null_radius_rad(float(table.freq_hz.min())))
    beam = interpolate_nodes(dask.delayed(_normalised)(sensitivity), shape, step,
                             chunks=chunks, dtype=np.float32)
    return MosaicBeam(beam=beam, peak_sensitivity=dask.delayed(_peak)(sensitivity))


def mean_square_offset(table: FieldWeights, field_centers_rad: np.ndarray,
                       direction_rad: tuple[float, float]) -> float:  # fmt: skip
    """``eps^2``: the squared distance of ``direction`` from the fields' centres, averaged with
    the weights the mosaic gives them there, ``sum_{f, nu} W PB(r_f, nu) r_f^2 / sum W PB``
    (radians^2).

    A source's w-term offset in a mosaic whose fields keep their own w-term (CASA's 2-D mosaic
    gridding; ``ImagingConfig.w_reference == "field"``) is that of one field, ``r^2 / 2 x
    tan(zeta)``, averaged over the fields as the image combines them: ``eps^2 / 2 x tan(zeta)``
    (VLASS's eps ~5.4' assumes a filled raster and CASA's ``PB^2`` weights; vlassdask's linear
    mosaic weights by ``PB``).
    """
    centers = np.asarray(field_centers_rad, dtype=np.float64)[table.field_ids]
    r = angular_distance(centers[:, 0], centers[:, 1], *direction_rad)
    response = table.weights * vla_primary_beam(r[:, None], table.freq_hz[None, :])
    total = float(response.sum())
    if not total > 0:
        raise InputError("no field's primary beam reaches the image centre")
    return float((response * (r**2)[:, None]).sum() / total)
