"""Request and response schemas for the manager dashboards."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from app.merchants.schemas import BBox
from app.schemas import ID


class TeamDashboardQueryArgsSchema(ma.Schema):
    date = ma.fields.Date(metadata={"description": "The tenant's local day (default: today)", "example": "2026-11-20"})
    team_id = ma.fields.Integer(validate=ID, metadata={"description": "Only this org unit's subtree"})


class FunnelQueryArgsSchema(ma.Schema):
    from_ = ma.fields.Date(required=True, data_key="from", metadata={"example": "2026-11-01"})
    to = ma.fields.Date(required=True, metadata={"example": "2026-11-30", "description": "Inclusive"})
    team_id = ma.fields.Integer(validate=ID)


class HeatmapQueryArgsSchema(ma.Schema):
    bbox = BBox(
        required=True,
        metadata={
            "type": "string",
            "example": "120.10,30.22,120.22,30.30",
            "description": "min_lng,min_lat,max_lng,max_lat (WGS84), at most 50 km",
        },
    )
    cell_m = ma.fields.Integer(
        load_default=500,
        validate=validate.Range(min=50, max=10_000),
        metadata={"description": "Cell side in metres (at most 10,000 cells in the box)"},
    )
    days = ma.fields.Integer(
        load_default=7, validate=validate.Range(min=1, max=90), metadata={"description": "Visits of the last N days"}
    )


class VisitSplitSchema(ma.Schema):
    verified = ma.fields.Integer(required=True)
    unverified = ma.fields.Integer(required=True)


class DashboardTeamRowSchema(ma.Schema):
    user_id = ma.fields.Integer(required=True)
    name = ma.fields.String(required=True)
    visits = ma.fields.Nested(VisitSplitSchema, required=True)
    new_merchants = ma.fields.Integer(required=True, metadata={"description": "Merchants the BD created that day"})
    claims = ma.fields.Integer(required=True)
    signings = ma.fields.Integer(required=True)
    tasks_done = ma.fields.Integer(required=True)
    overdue = ma.fields.Integer(required=True, metadata={"description": "Open tasks past due (at the day's end)"})
    calls = ma.fields.Integer(required=True, metadata={"description": "Calls logged that day (never visits)"})
    messages = ma.fields.Integer(required=True, metadata={"description": "Messages logged that day"})
    contacts = ma.fields.Integer(
        required=True,
        metadata={"description": "Contact of any kind: visits (verified or not), calls, messages"},
    )


class DashboardTeamTotalsSchema(DashboardTeamRowSchema):
    class Meta:
        exclude = ("user_id", "name")


class DashboardTeamSchema(ma.Schema):
    date = ma.fields.Date(required=True)
    items = ma.fields.List(ma.fields.Nested(DashboardTeamRowSchema), required=True)
    totals = ma.fields.Nested(DashboardTeamTotalsSchema, required=True)


class FunnelStagesSchema(ma.Schema):
    public = ma.fields.Integer(required=True, metadata={"description": "Merchants in the public pool now"})
    private = ma.fields.Integer(required=True, metadata={"description": "Merchants the BDs claimed in the period"})
    visited = ma.fields.Integer(required=True, metadata={"description": "…of which they visited (verified)"})
    signed = ma.fields.Integer(required=True, metadata={"description": "…of which were signed in the period"})


class FunnelConversionSchema(ma.Schema):
    visited_of_private = ma.fields.Float(required=True, allow_none=True)
    signed_of_private = ma.fields.Float(required=True, allow_none=True)
    signed_of_visited = ma.fields.Float(required=True, allow_none=True)


class FunnelSchema(ma.Schema):
    from_ = ma.fields.Date(required=True, data_key="from")
    to = ma.fields.Date(required=True)
    bds = ma.fields.Integer(required=True)
    stages = ma.fields.Nested(FunnelStagesSchema, required=True)
    conversion = ma.fields.Nested(FunnelConversionSchema, required=True)


class CellSchema(ma.Schema):
    lat = ma.fields.Float(required=True, metadata={"description": "Cell centre"})
    lng = ma.fields.Float(required=True)
    merchants = ma.fields.Integer(required=True)
    public = ma.fields.Integer(required=True)
    private = ma.fields.Integer(required=True)
    partner = ma.fields.Integer(required=True)
    visits = ma.fields.Integer(required=True, metadata={"description": "Visits by your people in the last `days`"})
    verified_visits = ma.fields.Integer(required=True)


class HeatmapSchema(ma.Schema):
    cell_m = ma.fields.Integer(required=True)
    cell_deg = ma.fields.Dict(required=True, metadata={"description": "`{lat, lng}` cell size in degrees"})
    origin = ma.fields.Dict(required=True, metadata={"description": "`{lat, lng}` of the grid's south-west corner"})
    since = ma.fields.DateTime(required=True)
    cells = ma.fields.List(ma.fields.Nested(CellSchema), required=True, metadata={"description": "Non-empty cells"})
