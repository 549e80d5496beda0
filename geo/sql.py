"""SQL expressions for geography columns (PostGIS), shared by the API queries and the benchmarks.

Stored positions are ``geography(Point, 4326)`` in WGS84. Nearest-first ordering uses the KNN operator
``<->`` so that a GiST index can return rows in distance order; PostGIS computes that distance on the
sphere, so reported distances use ``ST_Distance`` on the WGS84 spheroid instead (exact geodesic metres).
"""

from __future__ import annotations

from typing import Any

from geoalchemy2 import Geography
from geoalchemy2.elements import WKBElement
from geoalchemy2.shape import from_shape
from shapely.geometry import Point
from shapely.geometry.base import BaseGeometry
from sqlalchemy import Float, and_, cast, func, literal
from sqlalchemy.sql.elements import ColumnElement

# The spatial reference of every stored position and boundary: WGS84 longitude/latitude.
WGS84_SRID = 4326

Number = float | ColumnElement[Any]


def _number(value: Number) -> ColumnElement[Any]:
    """A float as a bound literal; an expression (e.g. a ``bindparam`` of a cached statement) as it is."""
    return value if isinstance(value, ColumnElement) else literal(value, Float)


def point_value(lat: float, lng: float) -> WKBElement:
    """A WGS84 point to store in a geography column."""
    return from_shape(Point(lng, lat), srid=WGS84_SRID)


def shape_value(shape: BaseGeometry) -> WKBElement:
    """A shapely geometry (WGS84) to store in a geography column."""
    return from_shape(shape, srid=WGS84_SRID)


def point(lat: Number, lng: Number) -> ColumnElement[Any]:
    """A WGS84 geography point (bound parameters, never string formatting)."""
    return cast(
        func.ST_SetSRID(func.ST_MakePoint(_number(lng), _number(lat)), WGS84_SRID),
        Geography("POINT", srid=WGS84_SRID),
    )


def within(column: ColumnElement[Any], origin: ColumnElement[Any], radius_m: Number) -> ColumnElement[bool]:
    """Index-assisted "within radius_m geodesic metres of origin"."""
    return func.ST_DWithin(column, origin, _number(radius_m))


def knn_distance(column: ColumnElement[Any], origin: ColumnElement[Any]) -> ColumnElement[float]:
    """The KNN ordering key (sphere metres); ``ORDER BY`` it to walk a GiST index nearest-first."""
    return column.op("<->", return_type=Float)(origin)


def geodesic_distance(column: ColumnElement[Any], origin: ColumnElement[Any]) -> ColumnElement[float]:
    """Geodesic metres on the WGS84 spheroid."""
    return func.ST_Distance(column, origin, True)


def bearing_deg(origin: ColumnElement[Any], column: ColumnElement[Any]) -> ColumnElement[float]:
    """Initial bearing from origin to the row, degrees clockwise from north in [0, 360)."""
    return func.coalesce(func.degrees(func.ST_Azimuth(origin, column)), 0.0)


def latitude(column: ColumnElement[Any]) -> ColumnElement[float]:
    return func.ST_Y(cast(column, _geometry()))


def longitude(column: ColumnElement[Any]) -> ColumnElement[float]:
    return func.ST_X(cast(column, _geometry()))


def _geometry() -> Any:
    from geoalchemy2 import Geometry

    return Geometry("POINT", srid=WGS84_SRID)


def box(west: Number, south: Number, east: Number, north: Number) -> ColumnElement[Any]:
    """A longitude/latitude box as geography, for index-assisted ``&&`` tests."""
    envelope = func.ST_MakeEnvelope(_number(west), _number(south), _number(east), _number(north), WGS84_SRID)
    return cast(envelope, Geography("POLYGON", srid=WGS84_SRID))


def in_box(column: ColumnElement[Any], geography_box: ColumnElement[Any]) -> ColumnElement[bool]:
    """Bounding-box overlap on geography (served by a GiST index on the column)."""
    return column.op("&&")(geography_box)


def within_box(column: ColumnElement[Any], west: float, south: float, east: float, north: float) -> ColumnElement[bool]:
    """Exactly inside a longitude/latitude rectangle, still served by the geography GiST index.

    Geography ``&&`` compares geocentric 3D boxes, which are looser than the rectangle (by tens of metres
    at city scale); the planar ``ST_Intersects`` recheck on the row's own longitude/latitude makes the
    edge exact (a planar ``&&`` would not be: bounding boxes are stored as rounded float4).
    """
    envelope = func.ST_MakeEnvelope(
        literal(west, Float), literal(south, Float), literal(east, Float), literal(north, Float), WGS84_SRID
    )
    return and_(in_box(column, box(west, south, east, north)), func.ST_Intersects(cast(column, _geometry()), envelope))
