"""Pure-Python geographic helpers: Chinese coordinate systems and geodesics.

No Flask and no database code lives here, so everything is unit-testable in
isolation. Positions are stored in WGS84; :mod:`geo.coords` converts from and
to the GCJ-02 and BD-09 systems that phones in China report, and
:mod:`geo.distance` measures on the WGS84 ellipsoid via pyproj.
"""

from geo.coords import (
    CoordSys,
    bd09_to_gcj02,
    bd09_to_wgs84,
    from_wgs84,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    in_china_box,
    out_of_china,
    to_wgs84,
    wgs84_to_bd09,
    wgs84_to_gcj02,
)
from geo.distance import (
    bbox_around,
    bearing_deg,
    distance_and_bearing,
    distance_m,
    distance_matrix,
    haversine_m,
)

__all__ = [
    "CoordSys",
    "bbox_around",
    "bd09_to_gcj02",
    "bd09_to_wgs84",
    "bearing_deg",
    "distance_and_bearing",
    "distance_m",
    "distance_matrix",
    "from_wgs84",
    "gcj02_to_bd09",
    "gcj02_to_wgs84",
    "haversine_m",
    "in_china_box",
    "out_of_china",
    "to_wgs84",
    "wgs84_to_bd09",
    "wgs84_to_gcj02",
]
