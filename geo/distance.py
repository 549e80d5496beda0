"""Geodesic distances and bearings on the WGS84 ellipsoid.

All maths is delegated to :class:`pyproj.Geod` (Karney's geodesic
algorithms, accurate to nanometres) rather than hand-rolled formulas; the
one exception is :func:`haversine_m`, kept only to compare against the
spherical shortcut that typical CRMs use.

Every function takes latitudes and longitudes in degrees, in WGS84, in
``lat, lng`` order (note that pyproj itself wants ``lng, lat``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from pyproj import Geod

__all__ = [
    "EARTH_MEAN_RADIUS_M",
    "distance_m",
    "bearing_deg",
    "distance_and_bearing",
    "distance_matrix",
    "bbox_around",
    "haversine_m",
]

# IUGG mean radius (2a + b) / 3 of WGS84, the usual choice for haversine.
EARTH_MEAN_RADIUS_M = 6371008.8

# Geod objects are immutable and cheap to share; building one per call is not.
_GEOD = Geod(ellps="WGS84")

# bbox_around pads the radius by this much. The relative part covers the
# approximate east/west azimuths (measured worst case 7e-5 relative, for a
# 1000 km circle at 80 degrees latitude; below 1e-7 at city scale); the
# absolute part covers float rounding and keeps tiny radii from giving
# degenerate boxes.
_BBOX_MARGIN_REL = 1e-3
_BBOX_MARGIN_M = 1.0


def distance_and_bearing(lat1: float, lng1: float, lat2: float, lng2: float) -> tuple[float, float]:
    """Geodesic distance and initial bearing from point 1 to point 2.

    Args:
        lat1: Latitude of point 1 in degrees.
        lng1: Longitude of point 1 in degrees.
        lat2: Latitude of point 2 in degrees.
        lng2: Longitude of point 2 in degrees.

    Returns:
        ``(distance_m, bearing_deg)``: metres along the geodesic, and the
        forward azimuth at point 1 in [0, 360), clockwise from true north.
        For coincident points the bearing is undefined and 0.0 is returned.
    """
    azimuth, _back_azimuth, dist = _GEOD.inv(lng1, lat1, lng2, lat2)
    if dist == 0.0:
        return 0.0, 0.0
    bearing = azimuth % 360.0
    # A tiny negative azimuth such as -1e-15 wraps to exactly 360.0 in floats.
    if bearing >= 360.0:
        bearing = 0.0
    return dist, bearing


def distance_m(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """Geodesic distance in metres between two points.

    Args:
        lat1: Latitude of point 1 in degrees.
        lng1: Longitude of point 1 in degrees.
        lat2: Latitude of point 2 in degrees.
        lng2: Longitude of point 2 in degrees.

    Returns:
        The length of the shortest path on the WGS84 ellipsoid, in metres.
    """
    return _GEOD.inv(lng1, lat1, lng2, lat2)[2]


def bearing_deg(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """Initial bearing (forward azimuth) from point 1 to point 2.

    Args:
        lat1: Latitude of point 1 in degrees.
        lng1: Longitude of point 1 in degrees.
        lat2: Latitude of point 2 in degrees.
        lng2: Longitude of point 2 in degrees.

    Returns:
        Degrees clockwise from true north in [0, 360); 0.0 for coincident
        points.
    """
    return distance_and_bearing(lat1, lng1, lat2, lng2)[1]


def distance_matrix(points: Sequence[tuple[float, float]]) -> list[list[float]]:
    """All pairwise geodesic distances between ``(lat, lng)`` points.

    Each unordered pair is computed once, in a single vectorised
    ``Geod.inv`` call, and mirrored, so the result is exactly symmetric.

    Args:
        points: ``(lat, lng)`` pairs in degrees.

    Returns:
        An n x n list of lists of metres with zeros on the diagonal.
    """
    n = len(points)
    pairs = [(i, j) for i in range(n) for j in range(i + 1, n)]
    _, _, dists = _GEOD.inv(
        [points[i][1] for i, _ in pairs],
        [points[i][0] for i, _ in pairs],
        [points[j][1] for _, j in pairs],
        [points[j][0] for _, j in pairs],
    )
    matrix = [[0.0] * n for _ in range(n)]
    for (i, j), dist in zip(pairs, dists):
        matrix[i][j] = matrix[j][i] = dist
    return matrix


def bbox_around(lat: float, lng: float, radius_m: float) -> tuple[float, float, float, float]:
    """A lat/lng box containing every point within ``radius_m`` of a centre.

    Meant as a cheap index pre-filter (``lat BETWEEN ... AND lng BETWEEN
    ...``) to be followed by an exact distance check, so it errs on the
    large side: the radius is padded by 0.1 % + 1 m.

    The north/south edges come from ``Geod.fwd`` due north and south, which
    is exact because meridians are geodesics. The east/west edges are *not*
    due east/west: a circle reaches its extreme longitude slightly poleward
    of the centre, where the radius from the centre meets the meridian at a
    right angle. The spherical right-triangle formula
    ``cos(az) = tan(d) * tan(lat)`` gives that azimuth very nearly, and
    ``Geod.fwd`` along it gives the longitude.

    Limitations: if the circle contains a pole, the box is clamped to that
    pole's latitude and spans all longitudes; if it crosses the
    antimeridian, it spans all longitudes (-180..180) instead of wrapping.
    Both are correct supersets, just poor filters.

    Args:
        lat: Centre latitude in degrees (WGS84).
        lng: Centre longitude in degrees, in [-180, 180].
        radius_m: Radius in metres, not negative.

    Returns:
        ``(min_lng, min_lat, max_lng, max_lat)`` in degrees, the order
        PostGIS ``ST_MakeEnvelope`` and shapely use.

    Raises:
        ValueError: If ``radius_m`` is negative.
    """
    if radius_m < 0:
        raise ValueError(f"radius_m must not be negative, got {radius_m!r}")
    # Longitude half-width grows at least linearly with radius, so padding
    # the radius pads every edge by at least the same fraction.
    padded = radius_m * (1.0 + _BBOX_MARGIN_REL) + _BBOX_MARGIN_M

    to_north_pole = _GEOD.inv(lng, lat, lng, 90.0)[2]
    to_south_pole = _GEOD.inv(lng, lat, lng, -90.0)[2]
    max_lat = 90.0 if padded >= to_north_pole else _GEOD.fwd(lng, lat, 0.0, padded)[1]
    min_lat = -90.0 if padded >= to_south_pole else _GEOD.fwd(lng, lat, 180.0, padded)[1]

    whole_world = (-180.0, min_lat, 180.0, max_lat)
    if padded >= min(to_north_pole, to_south_pole):
        return whole_world
    d = padded / EARTH_MEAN_RADIUS_M
    cos_az = math.tan(d) * math.tan(math.radians(lat))
    if d >= math.pi / 2 or abs(cos_az) >= 1.0:
        return whole_world
    east_lng = _GEOD.fwd(lng, lat, math.degrees(math.acos(cos_az)), padded)[0]
    # The ellipsoid is symmetric about the meridian, so west mirrors east.
    half_width = (east_lng - lng) % 360.0
    min_lng, max_lng = lng - half_width, lng + half_width
    if min_lng < -180.0 or max_lng > 180.0:
        return whole_world
    return min_lng, min_lat, max_lng, max_lat


def haversine_m(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """Great-circle distance on a sphere of radius 6371008.8 m.

    This is what typical CRMs compute from float lat/lng columns. It is off
    from the true (geodesic) distance by up to about 0.56 %, depending on
    latitude and direction; our own code uses :func:`distance_m`. Kept for
    benchmarks and comparisons.

    Args:
        lat1: Latitude of point 1 in degrees.
        lng1: Longitude of point 1 in degrees.
        lat2: Latitude of point 2 in degrees.
        lng2: Longitude of point 2 in degrees.

    Returns:
        The spherical distance in metres.
    """
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi = phi2 - phi1
    dlmb = math.radians(lng2 - lng1)
    h = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlmb / 2) ** 2
    # min() guards asin against h creeping past 1 by rounding for antipodes.
    return 2.0 * EARTH_MEAN_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))
