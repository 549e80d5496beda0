"""Request and response schemas for merchants (nearby, map, detail)."""

from __future__ import annotations

import enum
import math

import marshmallow as ma
from marshmallow import validate

from geo.coords import CoordSys

MAX_RADIUS_M = 5000
MAX_LIMIT = 100


class SeaFilter(str, enum.Enum):
    ALL = "all"
    PUBLIC = "public"
    MINE = "mine"
    OTHERS = "others"
    PARTNER = "partner"


def _coord_sys_field() -> ma.fields.Enum:
    return ma.fields.Enum(
        CoordSys, by_value=True, load_default=CoordSys.WGS84,
        metadata={"description": "Coordinate system of `lat`/`lng` in the request and in the response. "
                                 "Amap/Tencent SDKs report `gcj02`, Baidu `bd09`, GPS `wgs84`."},
    )


class MerchantFilterArgsSchema(ma.Schema):
    """Filters shared by the nearby list and the map."""

    coord_sys = _coord_sys_field()
    sea = ma.fields.Enum(
        SeaFilter, by_value=True, load_default=SeaFilter.ALL,
        metadata={"description": "`public`: claimable pool; `mine`: my private leads; `others`: colleagues' private "
                                 "leads; `partner`: signed partners"},
    )
    category = ma.fields.String(
        validate=validate.Length(min=1, max=300),
        metadata={"description": "Prefix of the category path, e.g. `餐饮服务` or `amenity=restaurant`"},
    )
    tag = ma.fields.List(
        ma.fields.String(validate=validate.Length(min=1, max=64)), validate=validate.Length(max=10),
        metadata={"description": "Repeatable (`tag=a&tag=b`): the merchant has every tag given"},
    )
    q = ma.fields.String(
        validate=validate.Length(min=1, max=100),
        metadata={"description": "Name search: substring or trigram similarity; works for Chinese names"},
    )
    unvisited_days = ma.fields.Integer(
        validate=validate.Range(min=1, max=3650), strict=False,
        metadata={"description": "Street-sweep mode: only merchants with no verified visit by anyone in N days"},
    )


class NearbyQueryArgsSchema(MerchantFilterArgsSchema):
    lat = ma.fields.Float(required=True, validate=validate.Range(min=-90, max=90), metadata={"example": 60.1699})
    lng = ma.fields.Float(required=True, validate=validate.Range(min=-180, max=180), metadata={"example": 24.9384})
    radius_m = ma.fields.Integer(
        load_default=1000, validate=validate.Range(min=1, max=MAX_RADIUS_M), metadata={"description": "Metres"}
    )
    limit = ma.fields.Integer(load_default=20, validate=validate.Range(min=1, max=MAX_LIMIT))
    cursor = ma.fields.String(
        validate=validate.Length(min=1, max=300), metadata={"description": "`next_cursor` of the previous page"}
    )


class BBox(ma.fields.Field):
    """``min_lng,min_lat,max_lng,max_lat``."""

    def _deserialize(self, value, attr, data, **kwargs):  # noqa: ANN001, ANN202
        try:
            parts = [float(p) for p in str(value).split(",")]
        except ValueError as exc:
            raise ma.ValidationError("Four comma-separated numbers: min_lng,min_lat,max_lng,max_lat.") from exc
        if len(parts) != 4 or not all(math.isfinite(p) for p in parts):
            raise ma.ValidationError("Four comma-separated numbers: min_lng,min_lat,max_lng,max_lat.")
        min_lng, min_lat, max_lng, max_lat = parts
        if not (-180 <= min_lng < max_lng <= 180 and -90 <= min_lat < max_lat <= 90):
            raise ma.ValidationError("Need -180 <= min_lng < max_lng <= 180 and -90 <= min_lat < max_lat <= 90.")
        return tuple(parts)


class MapQueryArgsSchema(MerchantFilterArgsSchema):
    bbox = BBox(required=True, metadata={"type": "string", "example": "24.93,60.165,24.96,60.175",
                                         "description": "min_lng,min_lat,max_lng,max_lat in `coord_sys`"})
    zoom = ma.fields.Integer(
        required=True, validate=validate.Range(min=3, max=21), metadata={"description": "Map zoom level (3-21)"}
    )


class OwnerSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    name = ma.fields.String(required=True)


class SeaSchema(ma.Schema):
    state = ma.fields.String(required=True, validate=validate.OneOf(["public", "private", "partner"]))
    owner = ma.fields.Nested(OwnerSchema, allow_none=True, required=True)
    mine = ma.fields.Boolean(required=True)
    expires_at = ma.fields.DateTime(
        allow_none=True, required=True, metadata={"description": "When a private lead drops back to the public pool"}
    )


class NearbyItemSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    name = ma.fields.String(required=True)
    category = ma.fields.String(required=True)
    address = ma.fields.String(required=True)
    lat = ma.fields.Float(required=True, metadata={"description": "In the requested `coord_sys`"})
    lng = ma.fields.Float(required=True)
    distance_m = ma.fields.Float(required=True, metadata={"description": "Geodesic metres from the query point"})
    bearing_deg = ma.fields.Float(required=True, metadata={"description": "0 = north, 90 = east"})
    tags = ma.fields.List(ma.fields.String(), required=True)
    sea = ma.fields.Nested(SeaSchema, required=True)
    claimable = ma.fields.Boolean(required=True, metadata={"description": "The caller could claim it right now"})
    last_visit_at = ma.fields.DateTime(allow_none=True, required=True)


class NearbyQueryEchoSchema(ma.Schema):
    lat = ma.fields.Float(required=True)
    lng = ma.fields.Float(required=True)
    coord_sys = ma.fields.String(required=True)
    radius_m = ma.fields.Integer(required=True)
    limit = ma.fields.Integer(required=True)
    sea = ma.fields.String(required=True)
    category = ma.fields.String(allow_none=True, required=True)
    tag = ma.fields.List(ma.fields.String(), required=True)
    q = ma.fields.String(allow_none=True, required=True)
    unvisited_days = ma.fields.Integer(allow_none=True, required=True)


class NearbyPageSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(NearbyItemSchema), required=True)
    next_cursor = ma.fields.String(allow_none=True, required=True)
    query = ma.fields.Nested(NearbyQueryEchoSchema, required=True, metadata={"description": "The normalised query"})


class PinSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    name = ma.fields.String(required=True)
    category = ma.fields.String(required=True)
    lat = ma.fields.Float(required=True)
    lng = ma.fields.Float(required=True)
    sea_state = ma.fields.String(required=True, validate=validate.OneOf(["public", "private", "partner"]))
    mine = ma.fields.Boolean(required=True)


class ClusterCountsSchema(ma.Schema):
    public = ma.fields.Integer(required=True)
    private = ma.fields.Integer(required=True)
    partner = ma.fields.Integer(required=True)
    mine = ma.fields.Integer(required=True, metadata={"description": "Of the private and partner ones, the caller's"})


class ClusterSchema(ma.Schema):
    lat = ma.fields.Float(required=True, metadata={"description": "Centroid of the cluster's merchants"})
    lng = ma.fields.Float(required=True)
    count = ma.fields.Integer(required=True)
    by_state = ma.fields.Nested(ClusterCountsSchema, required=True)


class MapSchema(ma.Schema):
    mode = ma.fields.String(required=True, validate=validate.OneOf(["pins", "clusters"]))
    total = ma.fields.Integer(required=True, metadata={"description": "Merchants in the box matching the filters"})
    pins = ma.fields.List(ma.fields.Nested(PinSchema), required=True)
    clusters = ma.fields.List(ma.fields.Nested(ClusterSchema), required=True)
    cell_deg = ma.fields.Float(allow_none=True, required=True, metadata={"description": "Grid cell (longitude degrees)"})
