"""Conversions between the coordinate systems that phones in China report.

GPS receivers report WGS84. Mainland-China map SDKs do not: Amap and Tencent
report GCJ-02, a state-mandated obfuscation of WGS84 that shifts points by
a few hundred metres, and Baidu reports BD-09, a further distortion of
GCJ-02. We store everything in WGS84, so positions have to be converted on
the way in and, for clients drawing on Chinese basemaps, on the way out.

The forward transforms are the standard published formulas (the GCJ-02
offset polynomial on the Krasovsky ellipsoid and Baidu's polar-coordinate
tweak). There is no closed-form inverse, so the inverses solve the forward
transform numerically to far below a millimetre.

Every function takes ``(lat, lng)`` in degrees and returns a ``(lat, lng)``
tuple of floats. Ranges are not validated here; the API layer does that.

Example:
    >>> lat, lng = gcj02_to_wgs84(30.245597, 120.190999)
"""

from __future__ import annotations

import enum
import json
import math
from collections.abc import Callable
from pathlib import Path

import shapely
from shapely.geometry import shape

__all__ = [
    "CoordSys",
    "out_of_china",
    "in_china_box",
    "wgs84_to_gcj02",
    "gcj02_to_wgs84",
    "gcj02_to_bd09",
    "bd09_to_gcj02",
    "wgs84_to_bd09",
    "bd09_to_wgs84",
    "to_wgs84",
    "from_wgs84",
]

LatLng = tuple[float, float]

# Krasovsky 1940 ellipsoid, which the GCJ-02 formulas are defined on.
_A = 6378245.0
_EE = 0.00669342162296594323
_X_PI = math.pi * 3000.0 / 180.0

# 1e-9 degrees is about 0.1 mm, far below the 0.01 m round-trip budget.
_INVERSE_TOLERANCE_DEG = 1e-9
_INVERSE_MAX_ITERATIONS = 20


class CoordSys(str, enum.Enum):
    """Coordinate system of a reported position.

    Being a ``str`` enum, members compare equal to their values, so
    ``CoordSys("gcj02")`` parses request input and members serialise to JSON
    as plain strings.
    """

    WGS84 = "wgs84"
    GCJ02 = "gcj02"
    BD09 = "bd09"


# Mainland China, simplified from Natural Earth (public domain): see geo/data/README.md and
# scripts/extract_china_boundary.py. Hong Kong, Macao and Taiwan are outside it (their maps are WGS84).
MAINLAND_CHINA_GEOJSON = Path(__file__).resolve().parent / "data" / "china_mainland.geojson"


def _load_mainland() -> shapely.MultiPolygon:
    (feature,) = json.loads(MAINLAND_CHINA_GEOJSON.read_text())["features"]
    mainland = shape(feature["geometry"])
    # prepared once: a point test is then a few microseconds (bench/geo_border.py) instead of a scan of
    # ~5,000 vertices
    shapely.prepare(mainland)
    return mainland


_MAINLAND = _load_mainland()


def in_china_box(lat: float, lng: float) -> bool:
    """Tell whether a point is inside the crude box that the published GCJ-02 formulas use.

    Only a fast pre-check: the box also covers Delhi, Seoul, Hanoi and Ulaanbaatar.
    """
    return 72.004 <= lng <= 137.8347 and 0.8293 <= lat <= 55.8271


def out_of_china(lat: float, lng: float) -> bool:
    """Tell whether a point is outside mainland China, where GCJ-02 does not apply.

    The published formulas use a crude box that also covers parts of India, Korea, Vietnam, Mongolia and
    Russia, where Chinese map SDKs report WGS84: shifting those points would move them by hundreds of
    metres. The box stays as a cheap pre-check; inside it a simplified mainland boundary decides (Natural
    Earth's land borders; the coast widened by ~10 km so harbours and piers count as China). The boundary is
    accurate to a few hundred metres, about the size of the GCJ-02 shift itself, so a point right on a border
    river may fall either way. For a GCJ-02 input the test is made on the GCJ-02 point, as every SDK does.

    Args:
        lat: Latitude in degrees.
        lng: Longitude in degrees.

    Returns:
        True if the point lies outside mainland China, where GCJ-02 equals WGS84.
    """
    if not in_china_box(lat, lng):
        return True
    return not shapely.contains_xy(_MAINLAND, lng, lat)


def _gcj02_offset_lat(x: float, y: float) -> float:
    # x, y are lng - 105 and lat - 35; the constants are the published ones.
    ret = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * math.sqrt(abs(x))
    ret += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    ret += (20.0 * math.sin(y * math.pi) + 40.0 * math.sin(y / 3.0 * math.pi)) * 2.0 / 3.0
    ret += (160.0 * math.sin(y / 12.0 * math.pi) + 320.0 * math.sin(y * math.pi / 30.0)) * 2.0 / 3.0
    return ret


def _gcj02_offset_lng(x: float, y: float) -> float:
    ret = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x))
    ret += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    ret += (20.0 * math.sin(x * math.pi) + 40.0 * math.sin(x / 3.0 * math.pi)) * 2.0 / 3.0
    ret += (150.0 * math.sin(x / 12.0 * math.pi) + 300.0 * math.sin(x / 30.0 * math.pi)) * 2.0 / 3.0
    return ret


def wgs84_to_gcj02(lat: float, lng: float) -> LatLng:
    """Convert WGS84 to GCJ-02.

    Args:
        lat: WGS84 latitude in degrees.
        lng: WGS84 longitude in degrees.

    Returns:
        The GCJ-02 ``(lat, lng)``; unchanged outside China.
    """
    if out_of_china(lat, lng):
        return float(lat), float(lng)
    dlat = _gcj02_offset_lat(lng - 105.0, lat - 35.0)
    dlng = _gcj02_offset_lng(lng - 105.0, lat - 35.0)
    # The offsets are in metres; turn them into degrees with the Krasovsky
    # meridional and prime-vertical radii of curvature at this latitude.
    radlat = math.radians(lat)
    magic = 1.0 - _EE * math.sin(radlat) ** 2
    sqrtmagic = math.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1.0 - _EE)) / (magic * sqrtmagic) * math.pi)
    dlng = (dlng * 180.0) / (_A / sqrtmagic * math.cos(radlat) * math.pi)
    return lat + dlat, lng + dlng


def gcj02_to_bd09(lat: float, lng: float) -> LatLng:
    """Convert GCJ-02 to BD-09.

    Baidu applies its tweak everywhere, including outside China, so unlike
    GCJ-02 there is no out-of-China shortcut.

    Args:
        lat: GCJ-02 latitude in degrees.
        lng: GCJ-02 longitude in degrees.

    Returns:
        The BD-09 ``(lat, lng)``.
    """
    z = math.hypot(lng, lat) + 0.00002 * math.sin(lat * _X_PI)
    theta = math.atan2(lat, lng) + 0.000003 * math.cos(lng * _X_PI)
    return z * math.sin(theta) + 0.006, z * math.cos(theta) + 0.0065


def wgs84_to_bd09(lat: float, lng: float) -> LatLng:
    """Convert WGS84 to BD-09 (via GCJ-02, as Baidu defines it).

    Args:
        lat: WGS84 latitude in degrees.
        lng: WGS84 longitude in degrees.

    Returns:
        The BD-09 ``(lat, lng)``.
    """
    return gcj02_to_bd09(*wgs84_to_gcj02(lat, lng))


def _invert(forward: Callable[[float, float], LatLng], lat: float, lng: float) -> LatLng:
    """Find the point that ``forward`` maps onto ``(lat, lng)``.

    Both transforms are the identity plus a small, slowly varying shift, so
    the fixed-point step "subtract the current residual" contracts the error
    by a factor of 50 or more per step; 2-4 steps reach the tolerance
    anywhere in China. The iteration cap only matters at the mainland
    border, where GCJ-02 jumps and no exact preimage may exist.
    """
    guess_lat, guess_lng = float(lat), float(lng)
    for _ in range(_INVERSE_MAX_ITERATIONS):
        fwd_lat, fwd_lng = forward(guess_lat, guess_lng)
        err_lat, err_lng = fwd_lat - lat, fwd_lng - lng
        if abs(err_lat) < _INVERSE_TOLERANCE_DEG and abs(err_lng) < _INVERSE_TOLERANCE_DEG:
            break
        guess_lat -= err_lat
        guess_lng -= err_lng
    return guess_lat, guess_lng


def gcj02_to_wgs84(lat: float, lng: float) -> LatLng:
    """Convert GCJ-02 to WGS84 by inverting :func:`wgs84_to_gcj02`.

    Args:
        lat: GCJ-02 latitude in degrees.
        lng: GCJ-02 longitude in degrees.

    Returns:
        The WGS84 ``(lat, lng)``, accurate to well under a millimetre
        against the forward formula; unchanged outside China.

    Note:
        Many tools use the one-step shortcut ``2 * p - wgs84_to_gcj02(p)``,
        which is off by 1-2 m in most of China (up to ~5 m in the far
        north-east). Data converted that way, such as the Hangzhou test
        set, differs from this function by that much.
    """
    if out_of_china(lat, lng):
        return float(lat), float(lng)
    return _invert(wgs84_to_gcj02, lat, lng)


def bd09_to_gcj02(lat: float, lng: float) -> LatLng:
    """Convert BD-09 to GCJ-02 by inverting :func:`gcj02_to_bd09`.

    The widely copied closed-form "inverse" is off by up to about 0.2 m;
    iterating removes that error.

    Args:
        lat: BD-09 latitude in degrees.
        lng: BD-09 longitude in degrees.

    Returns:
        The GCJ-02 ``(lat, lng)``.
    """
    return _invert(gcj02_to_bd09, lat, lng)


def bd09_to_wgs84(lat: float, lng: float) -> LatLng:
    """Convert BD-09 to WGS84 (via GCJ-02).

    Args:
        lat: BD-09 latitude in degrees.
        lng: BD-09 longitude in degrees.

    Returns:
        The WGS84 ``(lat, lng)``.
    """
    return gcj02_to_wgs84(*bd09_to_gcj02(lat, lng))


_TO_WGS84 = {
    CoordSys.WGS84: lambda lat, lng: (float(lat), float(lng)),
    CoordSys.GCJ02: gcj02_to_wgs84,
    CoordSys.BD09: bd09_to_wgs84,
}
_FROM_WGS84 = {
    CoordSys.WGS84: lambda lat, lng: (float(lat), float(lng)),
    CoordSys.GCJ02: wgs84_to_gcj02,
    CoordSys.BD09: wgs84_to_bd09,
}


def to_wgs84(lat: float, lng: float, coord_sys: CoordSys | str) -> LatLng:
    """Convert a point from ``coord_sys`` to WGS84.

    Args:
        lat: Latitude in degrees, in ``coord_sys``.
        lng: Longitude in degrees, in ``coord_sys``.
        coord_sys: A :class:`CoordSys` or its value (``"wgs84"``,
            ``"gcj02"``, ``"bd09"``).

    Returns:
        The WGS84 ``(lat, lng)``.

    Raises:
        ValueError: If ``coord_sys`` is not a known coordinate system.
    """
    return _TO_WGS84[CoordSys(coord_sys)](lat, lng)


def from_wgs84(lat: float, lng: float, coord_sys: CoordSys | str) -> LatLng:
    """Convert a WGS84 point to ``coord_sys``.

    Args:
        lat: WGS84 latitude in degrees.
        lng: WGS84 longitude in degrees.
        coord_sys: A :class:`CoordSys` or its value (``"wgs84"``,
            ``"gcj02"``, ``"bd09"``).

    Returns:
        The ``(lat, lng)`` in ``coord_sys``.

    Raises:
        ValueError: If ``coord_sys`` is not a known coordinate system.
    """
    return _FROM_WGS84[CoordSys(coord_sys)](lat, lng)
