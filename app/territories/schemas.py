"""Request and response schemas for territories."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from app.schemas import ID, PageQueryArgsSchema, PageSchema

POLYGON_EXAMPLE = {
    "type": "Polygon",
    "coordinates": [[[120.15, 30.25], [120.19, 30.25], [120.19, 30.28], [120.15, 30.28], [120.15, 30.25]]],
}


class GeoJSONField(ma.fields.Dict):
    """A GeoJSON Polygon or MultiPolygon; its geometry is validated by the service (shapely)."""


def _geometry(required: bool) -> GeoJSONField:
    return GeoJSONField(
        required=required,
        metadata={
            "description": "GeoJSON Polygon or MultiPolygon in WGS84, positions `[lng, lat]`, rings closed. Validated: "
            "a valid simple geometry, at most the tenant's `territory.max_vertices` vertices and "
            "`territory.max_area_km2` area; split shapes crossing 180° into a MultiPolygon.",
            "example": POLYGON_EXAMPLE,
        },
    )


class TerritoryCreateSchema(ma.Schema):
    name = ma.fields.String(required=True, validate=validate.Length(min=1, max=200), metadata={"example": "West Lake"})
    team_id = ma.fields.Integer(required=True, validate=ID, metadata={"description": "The org unit working it"})
    geometry = _geometry(True)


class TerritoryUpdateSchema(ma.Schema):
    name = ma.fields.String(validate=validate.Length(min=1, max=200))
    team_id = ma.fields.Integer(validate=ID)
    geometry = _geometry(False)


class MembersSchema(ma.Schema):
    user_ids = ma.fields.List(
        ma.fields.Integer(validate=ID),
        required=True,
        validate=validate.Length(max=1000),
        metadata={"description": "The territory's BDs (replaces the list; [] clears it)"},
    )


class TerritoryQueryArgsSchema(PageQueryArgsSchema):
    team_id = ma.fields.Integer(validate=ID)
    user_id = ma.fields.Integer(validate=ID, metadata={"description": "Territories this BD is assigned to"})


class OverlapSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    name = ma.fields.String(required=True)
    overlap_m2 = ma.fields.Float(required=True)


class TerritorySummarySchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    name = ma.fields.String(required=True)
    team_id = ma.fields.Integer(required=True)
    area_m2 = ma.fields.Float(required=True, metadata={"description": "Geodesic area"})
    vertices = ma.fields.Integer(required=True)
    member_ids = ma.fields.List(ma.fields.Integer(), required=True, metadata={"description": "Assigned BDs"})
    created_at = ma.fields.DateTime(required=True)


class TerritorySchema(TerritorySummarySchema):
    geometry = ma.fields.Dict(required=True, metadata={"description": "GeoJSON MultiPolygon"})
    overlaps = ma.fields.List(
        ma.fields.Nested(OverlapSchema),
        metadata={
            "description": "Other territories of the same team overlapping this one (create and update only); "
            "overlaps are allowed, this is a warning"
        },
    )


class TerritoryPageSchema(PageSchema):
    items = ma.fields.List(ma.fields.Nested(TerritorySummarySchema), required=True)


class PoolCountsSchema(ma.Schema):
    total = ma.fields.Integer(required=True)
    public = ma.fields.Integer(required=True)
    private = ma.fields.Integer(required=True)
    partner = ma.fields.Integer(required=True)


class VisitCountsSchema(ma.Schema):
    total = ma.fields.Integer(required=True)
    verified = ma.fields.Integer(required=True)


class TerritoryStatsSchema(ma.Schema):
    territory_id = ma.fields.Integer(required=True)
    merchants = ma.fields.Nested(
        PoolCountsSchema, required=True, metadata={"description": "Merchants the boundary covers, by pool state"}
    )
    week_start = ma.fields.DateTime(required=True, metadata={"description": "Monday 00:00, tenant time"})
    visits_this_week = ma.fields.Nested(VisitCountsSchema, required=True)
    signings_this_week = ma.fields.Integer(required=True)
