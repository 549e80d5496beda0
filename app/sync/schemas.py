"""Offline sync: the query, and a page of changes (each an upsert carrying its entity, or a tombstone)."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from app.schemas import coord_sys_field
from app.sync.queries import DEFAULT_LIMIT, MAX_LIMIT
from app.tasks.schemas import TodoSchema
from app.visits.schemas import PlanSchema, VisitSchema

MAX_SYNC_RADIUS_M = 20_000
ENTITIES = ["merchant", "lead", "todo", "plan", "visit"]
REASONS = ["merged", "out_of_scope", "rejected", "deleted", "lost", "transferred", "signed", "gone"]


class SyncQueryArgsSchema(ma.Schema):
    cursor = ma.fields.String(
        validate=validate.Length(min=1, max=300),
        metadata={"description": "`next_cursor` of the previous page or sync; none for the full bundle"},
    )
    limit = ma.fields.Integer(
        load_default=DEFAULT_LIMIT,
        validate=validate.Range(min=1, max=MAX_LIMIT),
        metadata={"description": "Merchants (full bundle) or change-log entries (delta) per page"},
    )
    lat = ma.fields.Float(
        validate=validate.Range(min=-90, max=90),
        metadata={"description": "For a BD without territories: centre of the area to cache", "example": 30.2561},
    )
    lng = ma.fields.Float(validate=validate.Range(min=-180, max=180), metadata={"example": 120.1749})
    radius_m = ma.fields.Integer(
        load_default=3000,
        validate=validate.Range(min=1, max=MAX_SYNC_RADIUS_M),
        metadata={"description": "Metres around `lat`/`lng` (BDs without territories)"},
    )
    coord_sys = coord_sys_field()


class SyncMerchantSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    name = ma.fields.String(required=True)
    category = ma.fields.String(required=True)
    address = ma.fields.String(required=True)
    city = ma.fields.String(required=True)
    brand = ma.fields.String(allow_none=True, required=True)
    tags = ma.fields.List(ma.fields.String(), required=True)
    audit_status = ma.fields.String(required=True, validate=validate.OneOf(["approved", "pending_audit"]))
    lat = ma.fields.Float(required=True)
    lng = ma.fields.Float(required=True)
    updated_at = ma.fields.DateTime(required=True)


class SyncLeadSchema(ma.Schema):
    merchant_id = ma.fields.Integer(required=True)
    name = ma.fields.String(required=True)
    lat = ma.fields.Float(required=True)
    lng = ma.fields.Float(required=True)
    claimed_at = ma.fields.DateTime(allow_none=True, required=True)
    last_visit_at = ma.fields.DateTime(allow_none=True, required=True)
    drops_at = ma.fields.DateTime(allow_none=True, required=True, metadata={"description": "When it drops back"})
    drop_reason = ma.fields.String(allow_none=True, required=True)
    extensions_used = ma.fields.Integer(required=True)


class SyncPlanSchema(PlanSchema):
    id = ma.fields.Integer(required=True)


class SyncChangeSchema(ma.Schema):
    entity = ma.fields.String(required=True, validate=validate.OneOf(ENTITIES))
    id = ma.fields.String(
        required=True,
        metadata={"description": "The entity's id (a lead's is its merchant's; a to-do's `a<n>`/`r<n>`)"},
    )
    op = ma.fields.String(required=True, validate=validate.OneOf(["upsert", "delete"]))
    reason = ma.fields.String(
        allow_none=True,
        required=True,
        validate=validate.OneOf(REASONS),
        metadata={"description": "Why a `delete` (tombstone): drop the entity from the cache"},
    )
    merged_into_id = ma.fields.Integer(
        allow_none=True, required=True, metadata={"description": "`merged`: the merchant that lives on"}
    )
    merchant = ma.fields.Nested(SyncMerchantSchema, metadata={"description": "`upsert` of a merchant"})
    lead = ma.fields.Nested(SyncLeadSchema, metadata={"description": "`upsert` of one of my private leads"})
    todo = ma.fields.Nested(TodoSchema, metadata={"description": "`upsert` of an open to-do"})
    plan = ma.fields.Nested(SyncPlanSchema, metadata={"description": "`upsert` of a day plan"})
    visit = ma.fields.Nested(VisitSchema, metadata={"description": "`upsert` of one of my visits"})


class SyncPageSchema(ma.Schema):
    reset = ma.fields.Boolean(
        required=True,
        metadata={"description": "This page starts a full bundle: clear the cache before applying it"},
    )
    changes = ma.fields.List(ma.fields.Nested(SyncChangeSchema), required=True)
    has_more = ma.fields.Boolean(required=True, metadata={"description": "Ask again with `next_cursor` now"})
    next_cursor = ma.fields.String(
        required=True, metadata={"description": "Keep it: the next page, or (has_more false) the next sync"}
    )
    coord_sys = ma.fields.String(required=True)
    server_time = ma.fields.DateTime(required=True)
    scope = ma.fields.String(
        required=True,
        validate=validate.OneOf(["territories", "radius", "none"]),
        metadata={"description": "Which merchants are synced: my territories', those around lat/lng, or none"},
    )
