from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from app.schemas import ID


class AuditQueryArgsSchema(ma.Schema):
    action = ma.fields.String(
        validate=validate.Length(min=1, max=60),
        metadata={
            "description": "e.g. `lead.assign`, `lead.transfer`, `lead.release`, `merchant.phones_revealed`, "
            "`merchant.merge`, `tenant.settings_change`",
            "example": "lead.transfer",
        },
    )
    actor_id = ma.fields.Integer(validate=ID, metadata={"description": "Who acted"})
    subject_type = ma.fields.String(validate=validate.Length(min=1, max=40), metadata={"example": "merchant"})
    subject_id = ma.fields.Integer(validate=ID)
    since = ma.fields.AwareDateTime(metadata={"description": "From this instant (inclusive)"})
    until = ma.fields.AwareDateTime(metadata={"description": "Before this instant (exclusive)"})
    limit = ma.fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))
    cursor = ma.fields.String(
        validate=validate.Length(min=1, max=300), metadata={"description": "`next_cursor` of the previous page"}
    )


class AuditActorSchema(ma.Schema):
    id = ma.fields.Integer(allow_none=True, required=True, metadata={"description": "null once the account is gone"})
    name = ma.fields.String(required=True, metadata={"description": "The name at the time of the action"})


class AuditEntrySchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    created_at = ma.fields.DateTime(required=True)
    actor = ma.fields.Nested(
        AuditActorSchema, allow_none=True, required=True, metadata={"description": "null for the system (sweeps, jobs)"}
    )
    action = ma.fields.String(required=True)
    subject_type = ma.fields.String(required=True)
    subject_id = ma.fields.Integer(allow_none=True, required=True)
    before = ma.fields.Dict(allow_none=True, required=True, metadata={"description": "State before the change"})
    after = ma.fields.Dict(allow_none=True, required=True, metadata={"description": "State after the change"})
    request_id = ma.fields.String(
        allow_none=True,
        required=True,
        metadata={"description": "The `X-Request-ID` of the request that made the change, to find it in the logs"},
    )


class AuditPageSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(AuditEntrySchema), required=True)
    next_cursor = ma.fields.String(allow_none=True, required=True)


AUDIT_EXAMPLE = {
    "items": [
        {
            "id": 812,
            "created_at": "2026-11-21T09:14:03.120000+00:00",
            "actor": {"id": 7, "name": "Liisa Manager"},
            "action": "lead.transfer",
            "subject_type": "merchant",
            "subject_id": 40211,
            "before": {"state": "private", "owner_id": 31},
            "after": {"state": "private", "owner_id": 35, "reason": "Territory handover", "forced": False},
            "request_id": "9f1c2e4b7a3d4e0f8b6a5c2d1e0f9a8b",
        }
    ],
    "next_cursor": None,
}
