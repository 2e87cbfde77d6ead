"""Typed, validated configuration of a simulated VLASS observation.

Defaults are VLASS values (SPEC.md "Observing set-up") except the sizes, which are small so that a
default simulation runs in seconds: 4 channels per spectral window (VLASS records 64 x 2 MHz) and
60 s of data. Build it from a mapping (files are read by :mod:`vlassdask.io.config_files`);
every problem raises :class:`~vlassdask.errors.ConfigError` naming the offending key.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from astropy.time import Time

from vlassdask.errors import ConfigError, reject_unknown_keys
from vlassdask.simulate.array import load_vla_b_configuration

#: VLASS correlator set-up: 16 spectral windows of 128 MHz from 1.965 GHz.
VLASS_N_SPW = 16
VLASS_BAND_START_HZ = 1.965e9
VLASS_SPW_BANDWIDTH_HZ = 128e6

_MODES = ("single", "otf")
FEEDS = ("circular", "linear")
CORRELATIONS = ("all", "parallel")
_FLAG_RULE_KEYS = ("spw", "fields", "fraction", "longer_than_m")


@dataclass(frozen=True)
class SpwFlagRule:
    """Flags of one spectral window (``flag_spws`` entries).

    Attributes
    ----------
    spw
        The VLASS spectral window (a value of ``spw_ids``).
    fields
        FIELD_IDs whose rows are flagged (None: all fields). A single pointing has field 0; an
        OTF raster has one FIELD row per phase centre, numbered in observing order (row 0's
        phase centres in scan order, then row 1's, ...).
    fraction
        Probability that a (row, channel) sample is flagged (1: all of them); seeded, the same
        draw for all correlations.
    longer_than_m
        Only baselines longer than this (metres, the distance between the two antennas; 0: all
        baselines).
    """

    spw: int
    fields: tuple[int, ...] | None = None
    fraction: float = 1.0
    longer_than_m: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """YAML form."""
        return {"spw": self.spw, "fields": "all" if self.fields is None else list(self.fields),
                "fraction": self.fraction, "longer_than_m": self.longer_than_m}


@dataclass(frozen=True)
class SimulationConfig:
    """All parameters of a simulated observation.

    Attributes
    ----------
    ra_deg, dec_deg
        ICRS phase centre (single mode) or raster centre (OTF mode), degrees.
    date
        UTC date (``YYYY-MM-DD``) used with ``hour_angle_h``.
    hour_angle_h
        Apparent hour angle, hours, of (ra_deg, dec_deg) at the VLA at the start of the
        observation; the start time is the first instant on ``date`` (UTC) with that hour angle.
        Ignored when ``start_utc`` is given.
    start_utc
        Observation start as an ISO UTC date-time; overrides ``date``/``hour_angle_h``.
    duration_s
        Total observing time, seconds (rounded down to whole integrations, at least one; in OTF
        mode to whole phase-centre steps per raster row).
    integration_s
        Integration time, seconds (VLASS: 0.45).
    mode
        ``"single"`` (one pointed field) or ``"otf"`` (on-the-fly raster in RA).
    otf_scan_rate_arcmin_s
        On-sky scan rate along the raster row, arcmin/s (VLASS: 3.31).
    otf_integrations_per_phase_centre
        Integrations per phase centre (VLASS: 2, i.e. phase centres 2.98' apart).
    otf_rows
        Number of raster rows (scans), alternating in direction, centred on dec_deg.
    otf_row_spacing_arcmin
        Dec spacing of raster rows, arcmin (VLASS: 7.2).
    spw_ids
        Which of the 16 VLASS spectral windows (0-15, 1.965-4.013 GHz) to simulate.
    nchan_per_spw
        Channels per spectral window (equal widths, 128 MHz / nchan).
    antennas
        Subset of antennas by name (``ea01``...) or station (``W04``...); empty = all 27.
    noise_sigma_jy
        Thermal noise per real and imaginary part of each visibility, Jy. ``None`` uses the
        radiometer equation sefd / (efficiency sqrt(2 channel_width integration)); 0 = noiseless.
    sefd_jy, correlator_efficiency
        System equivalent flux density and efficiency for the radiometer equation.
    flag_fraction
        Fraction of (row, channel) samples flagged at random (all correlations), seeded.
    flag_time_ranges_s
        (start, end) intervals in seconds from the observation start; rows inside are flagged.
    flag_baselines
        Antenna pairs (names or stations) whose rows are all flagged.
    flag_spws
        Flags of single spectral windows (:class:`SpwFlagRule`): from YAML a list of mappings
        ``{spw, fields: all | [FIELD_IDs], fraction, longer_than_m}``, e.g. a window flagged in
        most fields, or its long baselines only (which widens its beam).
    feeds
        ``circular`` (RR, RL, LR, LL; VLASS) or ``linear`` (XX, XY, YX, YY): the same sky in
        either basis (:mod:`vlassdask.imaging.stokes`).
    correlations
        ``all`` four, or ``parallel`` hands only (RR, LL or XX, YY: Stokes I and V only).
    weight_spectrum
        Also write WEIGHT_SPECTRUM and SIGMA_SPECTRUM (row, chan, corr).
    seed
        Seed of the noise and random flags; the same seed and config give identical data.
    rows_per_chunk
        Target rows per dask chunk (rounded to whole integrations); bounds peak memory.
    field_name
        FIELD NAME (OTF fields get a ``_NNNNN`` suffix).
    project, observer
        OBSERVATION table entries.
    """

    ra_deg: float = 180.0
    dec_deg: float = 34.0
    date: str = "2019-06-01"
    hour_angle_h: float = 0.0
    start_utc: str | None = None
    duration_s: float = 60.0
    integration_s: float = 0.45
    mode: str = "single"
    otf_scan_rate_arcmin_s: float = 3.31
    otf_integrations_per_phase_centre: int = 2
    otf_rows: int = 1
    otf_row_spacing_arcmin: float = 7.2
    spw_ids: tuple[int, ...] = tuple(range(VLASS_N_SPW))
    nchan_per_spw: int = 4
    antennas: tuple[str, ...] = ()
    noise_sigma_jy: float | None = None
    sefd_jy: float = 370.0
    correlator_efficiency: float = 0.93
    flag_fraction: float = 0.0
    flag_time_ranges_s: tuple[tuple[float, float], ...] = ()
    flag_baselines: tuple[tuple[str, str], ...] = ()
    flag_spws: tuple[SpwFlagRule, ...] = ()
    feeds: str = "circular"
    correlations: str = "all"
    weight_spectrum: bool = False
    seed: int = 0
    rows_per_chunk: int = 50_000
    field_name: str = "TARGET"
    project: str = "VLASS-SIM"
    observer: str = "vlassdask"

    def __post_init__(self) -> None:
        _validate(self)

    @property
    def channel_width_hz(self) -> float:
        """Channel width in Hz."""
        return VLASS_SPW_BANDWIDTH_HZ / self.nchan_per_spw

    @property
    def visibility_sigma_jy(self) -> float:
        """Noise per real/imaginary part of one visibility, Jy."""
        if self.noise_sigma_jy is not None:
            return float(self.noise_sigma_jy)
        bandwidth_time = 2.0 * self.channel_width_hz * self.integration_s
        return self.sefd_jy / (self.correlator_efficiency * bandwidth_time**0.5)


def to_dict(config: SimulationConfig) -> dict[str, Any]:
    """The config as a plain mapping (YAML-serialisable: tuples become lists)."""

    def plain(value: Any) -> Any:
        if isinstance(value, SpwFlagRule):
            return value.to_dict()
        return [plain(v) for v in value] if isinstance(value, tuple | list) else value

    return {f.name: plain(getattr(config, f.name)) for f in _fields()}


def from_dict(values: dict[str, Any] | None) -> SimulationConfig:
    """Build a validated config from a mapping (e.g. parsed YAML).

    Raises
    ------
    ConfigError
        On unknown keys, wrong types or out-of-range values.
    """
    values = dict(values or {})
    reject_unknown_keys(values, [f.name for f in _fields()], "unknown simulation config key(s):")
    converted = {}
    for key, value in values.items():
        converted[key] = _convert(key, value)
    try:
        return SimulationConfig(**converted)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"invalid simulation config: {exc}") from exc


def split_document(values: dict[str, Any], source: str) -> dict[str, Any]:
    """Split a parsed simulation document into ``{"simulate": mapping, "sky": list or None}``.

    The document is either a mapping of config keys, or a mapping with a ``simulate:`` section
    and an optional ``sky:`` section (a list of sources, see :mod:`vlassdask.simulate.sky`).

    Raises
    ------
    ConfigError
        If the document has the wrong structure; ``source`` names it in the message.
    """
    if "simulate" not in values:
        return {"simulate": values, "sky": None}
    extra = sorted(set(values) - {"simulate", "sky"})
    if extra:
        raise ConfigError(f"{source}: unknown section(s) {', '.join(extra)}")
    section = values["simulate"] or {}
    if not isinstance(section, dict):
        raise ConfigError(f"{source}: 'simulate' must be a mapping")
    return {"simulate": section, "sky": values.get("sky")}


def _fields() -> list[dataclasses.Field]:
    return list(dataclasses.fields(SimulationConfig))


def _convert(key: str, value: Any) -> Any:
    """Coerce YAML values to the field's type (lists to tuples, ints to floats)."""
    if key in ("spw_ids",):
        return tuple(_as_int(key, v) for v in _as_list(key, value))
    if key == "antennas":
        return tuple(str(v) for v in _as_list(key, value))
    if key == "flag_time_ranges_s":
        return tuple(tuple(float(x) for x in _pair(key, v)) for v in _as_list(key, value))
    if key == "flag_baselines":
        return tuple(tuple(str(x) for x in _pair(key, v)) for v in _as_list(key, value))
    if key == "flag_spws":
        return tuple(_flag_rule(v) for v in _as_list(key, value))
    default = next(f for f in _fields() if f.name == key).default
    if value is None:
        if key in ("noise_sigma_jy", "start_utc"):
            return None
        raise ConfigError(f"simulation config '{key}' must not be empty")
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ConfigError(f"simulation config '{key}' must be true or false, got {value!r}")
        return value
    if isinstance(default, int):
        return _as_int(key, value)
    if isinstance(default, float) or key == "noise_sigma_jy":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"simulation config '{key}' must be a number, got {value!r}")
        return float(value)
    return str(value)


def _flag_rule(value: Any) -> SpwFlagRule:
    """A ``flag_spws`` entry from its mapping."""
    if isinstance(value, SpwFlagRule):
        return value
    if not isinstance(value, dict):
        raise ConfigError(f"simulation config 'flag_spws' entries must be mappings, got {value!r}")
    reject_unknown_keys(value, _FLAG_RULE_KEYS, "unknown flag_spws key(s):")
    if "spw" not in value:
        raise ConfigError("simulation config 'flag_spws' entries need an spw")
    fields = value.get("fields", "all")
    if fields != "all":
        fields = tuple(_as_int("flag_spws fields", f) for f in _as_list("flag_spws fields",
                                                                          fields))
    numbers = {}
    for key in ("fraction", "longer_than_m"):
        if key in value:
            v = value[key]
            if isinstance(v, bool) or not isinstance(v, int | float):
                raise ConfigError(f"simulation config 'flag_spws' {key} must be a number, got "
                                  f"{v!r}")
            numbers[key] = float(v)
    return SpwFlagRule(_as_int("flag_spws spw", value["spw"]),
                       None if fields == "all" else fields, **numbers)


def check_flag_rule_fields(config: SimulationConfig, n_fields: int) -> None:
    """Refuse ``flag_spws`` fields that are not FIELD_IDs of the laid-out observation.

    Parameters
    ----------
    config
        The configuration.
    n_fields
        Number of FIELD rows of the observation (1, or the OTF phase centres).

    Raises
    ------
    ConfigError
        If a rule names a FIELD_ID >= ``n_fields``.
    """
    for rule in config.flag_spws:
        unknown = sorted(set(rule.fields or ()) - set(range(n_fields)))
        _check(not unknown, f"flag_spws: spw {rule.spw}: field(s) {unknown} not in this "
                            f"observation's FIELD_IDs 0-{n_fields - 1}")


def _as_int(key: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"simulation config '{key}' must be an integer, got {value!r}")
    return value


def _as_list(key: str, value: Any) -> list:
    if not isinstance(value, list | tuple):
        raise ConfigError(f"simulation config '{key}' must be a list, got {value!r}")
    return list(value)


def _pair(key: str, value: Any) -> list:
    if not isinstance(value, list | tuple) or len(value) != 2:
        raise ConfigError(f"simulation config '{key}' entries must be pairs, got {value!r}")
    return list(value)


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise ConfigError(message)


def _validate(c: SimulationConfig) -> None:
    _check(0.0 <= c.ra_deg < 360.0, f"ra_deg must be in [0, 360), got {c.ra_deg}")
    _check(-90.0 <= c.dec_deg <= 90.0, f"dec_deg must be in [-90, 90], got {c.dec_deg}")
    _check(
        -12.0 <= c.hour_angle_h <= 12.0,
        f"hour_angle_h must be in [-12, 12] h, got {c.hour_angle_h}",
    )
    for key in ("date", "start_utc"):
        text = getattr(c, key)
        if text is not None:
            try:
                Time(text, scale="utc")
            except ValueError as exc:
                raise ConfigError(f"{key} {text!r} is not a UTC date/time: {exc}") from exc
    _check(c.duration_s > 0, f"duration_s must be positive, got {c.duration_s}")
    _check(c.integration_s > 0, f"integration_s must be positive, got {c.integration_s}")
    _check(
        c.duration_s >= c.integration_s,
        f"duration_s ({c.duration_s}) is shorter than one integration ({c.integration_s})",
    )
    _check(c.mode in _MODES, f"mode must be one of {', '.join(_MODES)}, got {c.mode!r}")
    _check(c.otf_scan_rate_arcmin_s > 0, "otf_scan_rate_arcmin_s must be positive")
    _check(
        c.otf_integrations_per_phase_centre >= 1, "otf_integrations_per_phase_centre must be >= 1"
    )
    _check(c.otf_rows >= 1, f"otf_rows must be >= 1, got {c.otf_rows}")
    _check(c.otf_row_spacing_arcmin > 0, "otf_row_spacing_arcmin must be positive")
    if c.mode == "otf":
        step = c.otf_integrations_per_phase_centre * c.integration_s * c.otf_rows
        _check(
            c.duration_s >= step,
            f"duration_s ({c.duration_s}) must cover at least one phase centre per OTF row "
            f"({step} s)",
        )
        _check(abs(c.dec_deg) < 89.0, "OTF mode needs |dec_deg| < 89 (RA raster)")
    _check(len(c.spw_ids) > 0, "spw_ids must name at least one spectral window")
    _check(
        all(0 <= s < VLASS_N_SPW for s in c.spw_ids),
        f"spw_ids must be in 0..{VLASS_N_SPW - 1}, got {list(c.spw_ids)}",
    )
    _check(len(set(c.spw_ids)) == len(c.spw_ids), f"spw_ids has duplicates: {list(c.spw_ids)}")
    _check(c.nchan_per_spw >= 1, f"nchan_per_spw must be >= 1, got {c.nchan_per_spw}")
    _check(
        c.noise_sigma_jy is None or c.noise_sigma_jy >= 0,
        f"noise_sigma_jy must be >= 0, got {c.noise_sigma_jy}",
    )
    _check(
        c.sefd_jy > 0 and 0 < c.correlator_efficiency <= 1,
        "sefd_jy must be positive and correlator_efficiency in (0, 1]",
    )
    _check(0.0 <= c.flag_fraction <= 1.0, f"flag_fraction must be in [0, 1], got {c.flag_fraction}")
    for start, end in c.flag_time_ranges_s:
        _check(end > start, f"flag_time_ranges_s entry ({start}, {end}) must have end > start")
    known = set(load_vla_b_configuration().names) | set(load_vla_b_configuration().stations)
    for name in c.antennas:
        _check(name in known, f"antennas: unknown antenna {name!r} (use ea01-ea27 or a station)")
    _check(len(set(c.antennas)) != 1, "antennas must select at least two antennas")
    for pair in c.flag_baselines:
        for name in pair:
            _check(name in known, f"flag_baselines: unknown antenna {name!r}")
    _check(c.feeds in FEEDS, f"feeds must be one of {', '.join(FEEDS)}, got {c.feeds!r}")
    _check(c.correlations in CORRELATIONS,
           f"correlations must be one of {', '.join(CORRELATIONS)}, got {c.correlations!r}")
    for rule in c.flag_spws:
        _check(rule.spw in c.spw_ids, f"flag_spws: spw {rule.spw} is not in spw_ids "
                                      f"{list(c.spw_ids)}")
        _check(0.0 <= rule.fraction <= 1.0,
               f"flag_spws: fraction must be in [0, 1], got {rule.fraction}")
        _check(rule.longer_than_m >= 0, f"flag_spws: longer_than_m must be >= 0, got "
                                        f"{rule.longer_than_m}")
        _check(rule.fields is None or (len(rule.fields) > 0 and min(rule.fields) >= 0),
               f"flag_spws: fields must be all or a non-empty list of FIELD_IDs >= 0, got "
               f"{list(rule.fields or ())}")
    _check(c.rows_per_chunk >= 1, f"rows_per_chunk must be >= 1, got {c.rows_per_chunk}")
    _check(bool(c.field_name.strip()), "field_name must not be empty")
