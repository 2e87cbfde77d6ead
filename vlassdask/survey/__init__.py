"""Survey geometry: tiers and tiles, image phase centres, product names, observing geometry,
the w-term position correction and the gridder choice per tile.

See ``docs/survey.md``. Everything here is in-memory and vectorised; the only file read is the
packaged tile observing log.
"""

from vlassdask.survey.coordinates import jname, parse_dec, parse_jname, parse_ra, sin_offsets
from vlassdask.survey.observing_log import observing_log_source, read_observing_log
from vlassdask.survey.phase_centers import (
    QL_SUBIMAGE_DEG,
    SE_SUBIMAGE_DEG,
    count_phase_centers,
    covering_images,
    phase_centers,
)
from vlassdask.survey.planning import (
    GridderThresholds,
    check_schedule,
    choose_gridder,
    plan_schedule,
    schedule_images,
)
from vlassdask.survey.position_correction import (
    DEFAULT_AMPLITUDE_ARCSEC,
    REFERENCE_FREQUENCY_HZ,
    PositionCorrection,
    apply_position_correction,
    apply_position_correction_to_header,
    correction_magnitude,
    position_correction,
)
from vlassdask.survey.product_names import (
    ProductName,
    parse_product_name,
    product_header_keywords,
    product_name_for,
)
from vlassdask.survey.site import (
    VLA_SITE,
    Site,
    hour_angle,
    local_sidereal_time,
    parallactic_angle,
    parallactic_angle_from_hour_angle,
    zenith_distance,
    zenith_distance_from_hour_angle,
)
from vlassdask.survey.tiles import (
    TIERS,
    Tier,
    Tile,
    all_tiles,
    get_tile,
    tier_of,
    tile_of,
    tile_table,
    tiles_touching,
)

__all__ = [
    "DEFAULT_AMPLITUDE_ARCSEC",
    "QL_SUBIMAGE_DEG",
    "REFERENCE_FREQUENCY_HZ",
    "SE_SUBIMAGE_DEG",
    "TIERS",
    "VLA_SITE",
    "GridderThresholds",
    "PositionCorrection",
    "ProductName",
    "Site",
    "Tier",
    "Tile",
    "all_tiles",
    "apply_position_correction",
    "apply_position_correction_to_header",
    "check_schedule",
    "choose_gridder",
    "correction_magnitude",
    "count_phase_centers",
    "covering_images",
    "get_tile",
    "hour_angle",
    "jname",
    "local_sidereal_time",
    "observing_log_source",
    "parallactic_angle",
    "parallactic_angle_from_hour_angle",
    "parse_dec",
    "parse_jname",
    "parse_product_name",
    "parse_ra",
    "phase_centers",
    "plan_schedule",
    "position_correction",
    "product_header_keywords",
    "product_name_for",
    "read_observing_log",
    "schedule_images",
    "sin_offsets",
    "tier_of",
    "tile_of",
    "tile_table",
    "tiles_touching",
    "zenith_distance",
    "zenith_distance_from_hour_angle",
]
