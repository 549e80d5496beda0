"""Validation of territory boundaries drawn by managers (GeoJSON in, a clean MultiPolygon out).

Managers draw territories on a map, import them from other tools or paste them from files, so the
input is often subtly broken: rings that do not close, bow-ties, lng/lat swapped, a polygon that
wraps the globe because one vertex crossed the antimeridian. Each problem is reported with a stable
code, a human-readable reason and, where shapely knows it, the ``[lng, lat]`` where it happens, so
the drawing tool can put a marker on the spot.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

import shapely
from pyproj import Geod
from shapely.geometry import MultiPolygon, Polygon, mapping
from shapely.geometry.polygon import orient

_GEOD = Geod(ellps="WGS84")
# "Self-intersection[24.94 60.17]" -> reason, x, y
_REASON = re.compile(r"^(?P<reason>[^\[]+)\[(?P<x>[-+0-9.eE]+) (?P<y>[-+0-9.eE]+)\]$")
# Polygons wider than this in longitude are either continent-sized or drawn across the antimeridian
# with positions on both sides (+179 then -179), which a planar validator reads as spanning the globe.
MAX_LNG_SPAN_DEG = 180.0


class TerritoryGeometryError(ValueError):
    """A boundary that cannot be stored.

    Attributes:
        code: Stable machine-readable code, e.g. ``SELF_INTERSECTION``.
        reason: Human-readable explanation (shapely's wording for invalid geometries).
        location: ``[lng, lat]`` of the problem, when known.
        path: Where in the GeoJSON the problem is, e.g. ``coordinates[0][2]``.
    """

    def __init__(self, code: str, reason: str, *, location: list[float] | None = None, path: str | None = None):
        super().__init__(reason)
        self.code, self.reason, self.location, self.path = code, reason, location, path

    def as_dict(self) -> dict[str, Any]:
        """The error as a JSON-ready dict (``location`` and ``path`` only when known)."""
        body: dict[str, Any] = {"code": self.code, "reason": self.reason}
        if self.location is not None:
            body["location"] = self.location
        if self.path is not None:
            body["path"] = self.path
        return body


@dataclass(frozen=True)
class TerritoryShape:
    """A validated boundary.

    Attributes:
        geometry: The boundary, always a MultiPolygon in WGS84 lng/lat.
        area_m2: Geodesic area on the WGS84 ellipsoid, square metres.
        vertices: Number of distinct vertices (closing positions not counted).
    """

    geometry: MultiPolygon
    area_m2: float
    vertices: int

    def geojson(self) -> dict[str, Any]:
        """The boundary as a GeoJSON MultiPolygon dict."""
        return _as_lists(mapping(self.geometry))


def _as_lists(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _as_lists(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_as_lists(item) for item in value]
    return value


def geodesic_area_m2(geometry: Polygon | MultiPolygon) -> float:
    """Geodesic area of a lng/lat (Multi)Polygon on the WGS84 ellipsoid.

    Args:
        geometry: A valid shapely Polygon or MultiPolygon in WGS84 lng/lat.

    Returns:
        The area in square metres (holes subtracted), always non-negative.
    """
    # pyproj signs each ring's area by its winding; drawing tools wind holes either way
    parts = geometry.geoms if isinstance(geometry, MultiPolygon) else [geometry]
    return sum(abs(_GEOD.geometry_area_perimeter(orient(part, 1.0))[0]) for part in parts)


def _position(value: Any, path: str) -> tuple[float, float]:
    if not isinstance(value, (list, tuple)) or len(value) < 2:
        raise TerritoryGeometryError("INVALID_POSITION", "A position is [lng, lat].", path=path)
    lng, lat = value[0], value[1]
    if (
        isinstance(lng, bool)
        or isinstance(lat, bool)
        or not isinstance(lng, (int, float))
        or not isinstance(lat, (int, float))
        or not (math.isfinite(lng) and math.isfinite(lat))
    ):
        raise TerritoryGeometryError("INVALID_POSITION", "Positions are pairs of finite numbers.", path=path)
    if not (-180 <= lng <= 180 and -90 <= lat <= 90):
        raise TerritoryGeometryError(
            "OUT_OF_RANGE",
            "Longitude must be within [-180, 180] and latitude within [-90, 90] (GeoJSON order is [lng, lat]).",
            location=[float(lng), float(lat)],
            path=path,
        )
    return float(lng), float(lat)


def _ring(value: Any, path: str) -> list[tuple[float, float]]:
    if not isinstance(value, (list, tuple)):
        raise TerritoryGeometryError("INVALID_RING", "A ring is a list of positions.", path=path)
    ring = [_position(item, f"{path}[{index}]") for index, item in enumerate(value)]
    if len(ring) < 4:
        raise TerritoryGeometryError(
            "TOO_FEW_POSITIONS", "A ring needs at least 4 positions (3 corners and the first one repeated).", path=path
        )
    if ring[0] != ring[-1]:
        raise TerritoryGeometryError(
            "UNCLOSED_RING",
            "The ring is not closed: its last position must repeat its first.",
            location=list(ring[-1]),
            path=path,
        )
    return ring


def _polygon(value: Any, path: str) -> Polygon:
    if not isinstance(value, (list, tuple)) or not value:
        raise TerritoryGeometryError("INVALID_POLYGON", "A polygon is a non-empty list of rings.", path=path)
    rings = [_ring(item, f"{path}[{index}]") for index, item in enumerate(value)]
    return Polygon(rings[0], rings[1:])


def parse_geojson(geojson: Any) -> MultiPolygon:
    """Read a GeoJSON Polygon or MultiPolygon into a shapely MultiPolygon, checking its structure only.

    Args:
        geojson: The decoded GeoJSON geometry object.

    Returns:
        The geometry as a MultiPolygon (a Polygon becomes a one-part MultiPolygon).

    Raises:
        TerritoryGeometryError: The object is not a Polygon/MultiPolygon, a position is not a finite
            in-range ``[lng, lat]``, or a ring is too short or not closed.
    """
    if not isinstance(geojson, dict) or geojson.get("type") not in ("Polygon", "MultiPolygon"):
        raise TerritoryGeometryError(
            "UNSUPPORTED_GEOMETRY", "The geometry must be a GeoJSON Polygon or MultiPolygon.", path="type"
        )
    coordinates = geojson.get("coordinates")
    if geojson["type"] == "Polygon":
        return MultiPolygon([_polygon(coordinates, "coordinates")])
    if not isinstance(coordinates, (list, tuple)) or not coordinates:
        raise TerritoryGeometryError(
            "INVALID_POLYGON", "A MultiPolygon is a non-empty list of polygons.", path="coordinates"
        )
    return MultiPolygon([_polygon(item, f"coordinates[{index}]") for index, item in enumerate(coordinates)])


def _invalidity(geometry: MultiPolygon) -> TerritoryGeometryError:
    """Shapely's reason why a geometry is invalid, split into code, reason and location."""
    text = shapely.is_valid_reason(geometry)
    match = _REASON.match(text)
    reason = match.group("reason").strip() if match else text
    location = [float(match.group("x")), float(match.group("y"))] if match else None
    code = re.sub(r"[^A-Z0-9]+", "_", reason.upper()).strip("_") or "INVALID_GEOMETRY"
    return TerritoryGeometryError(code, reason, location=location)


def validate_territory(
    geojson: Any, *, max_vertices: int, max_area_km2: float, min_area_m2: float = 1.0
) -> TerritoryShape:
    """Validate a territory boundary and measure it.

    Args:
        geojson: A decoded GeoJSON Polygon or MultiPolygon, positions as ``[lng, lat]`` in WGS84.
        max_vertices: Most distinct vertices allowed over all rings.
        max_area_km2: Largest geodesic area allowed, square kilometres.
        min_area_m2: Smallest area allowed (degenerate slivers are refused), square metres.

    Returns:
        The boundary as a MultiPolygon with its area and vertex count.

    Raises:
        TerritoryGeometryError: Bad structure (see :func:`parse_geojson`), an invalid geometry
            (self-intersection, ring self-intersection, holes outside the shell...: shapely's
            reason and location), an antimeridian-crossing or globe-spanning shape, too many
            vertices, or an area out of bounds.
    """
    geometry = parse_geojson(geojson)
    vertices = sum(len(ring.coords) - 1 for part in geometry.geoms for ring in (part.exterior, *part.interiors))
    if vertices > max_vertices:
        raise TerritoryGeometryError(
            "TOO_MANY_VERTICES",
            f"The boundary has {vertices} vertices; at most {max_vertices} are allowed. Simplify it before uploading.",
        )
    if not geometry.is_valid:
        raise _invalidity(geometry)
    for part in geometry.geoms:
        # per part: a MultiPolygon split at 180° legitimately has parts at both ends of the longitude range
        west, south, east, _north = part.bounds
        if east - west > MAX_LNG_SPAN_DEG:
            raise TerritoryGeometryError(
                "SPANS_ANTIMERIDIAN",
                f"A polygon spans {east - west:.1f} degrees of longitude: it crosses the antimeridian or covers "
                "half the globe. Split it at 180 degrees into a MultiPolygon.",
                location=[west, south],
            )
    area_m2 = geodesic_area_m2(geometry)
    if area_m2 < min_area_m2:
        raise TerritoryGeometryError("AREA_TOO_SMALL", f"The area is {area_m2:.1f} m²; at least {min_area_m2:g} m².")
    if area_m2 > max_area_km2 * 1e6:
        raise TerritoryGeometryError(
            "AREA_TOO_LARGE", f"The area is {area_m2 / 1e6:,.1f} km²; at most {max_area_km2:g} km² are allowed."
        )
    return TerritoryShape(geometry=geometry, area_m2=area_m2, vertices=vertices)
