from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from app.activities.models import DIRECTIONS, RESULTS, ActivityKind
from app.schemas import ID, PersonRefSchema

KINDS = [kind.value for kind in ActivityKind]


class OptionalIdempotencyHeaderSchema(ma.Schema):
    idempotency_key = ma.fields.String(
        data_key="Idempotency-Key",
        # visible ASCII only: an HTTP header's surrounding blanks are not part of it
        validate=validate.Regexp(r"^[!-~]{8,120}$", error="8 to 120 visible ASCII characters, e.g. a UUID."),
        metadata={"description": "A UUID the app generates when the BD logs the call, reused on every retry"},
    )


class ActivityCreateSchema(ma.Schema):
    merchant_id = ma.fields.Integer(required=True, validate=ID)
    kind = ma.fields.String(required=True, validate=validate.OneOf(KINDS))
    direction = ma.fields.String(load_default="outgoing", validate=validate.OneOf(DIRECTIONS))
    contact_id = ma.fields.Integer(
        load_default=None, allow_none=True, validate=ID, metadata={"description": "One of the merchant's contacts"}
    )
    occurred_at = ma.fields.AwareDateTime(
        load_default=None, metadata={"description": "When the call started or the message was sent (default now)"}
    )
    duration_s = ma.fields.Integer(
        load_default=None,
        allow_none=True,
        validate=validate.Range(min=0, max=24 * 3600),
        metadata={"description": "Calls only: how long it lasted"},
    )
    result = ma.fields.String(required=True, validate=validate.OneOf(RESULTS))
    notes = ma.fields.String(load_default="", validate=validate.Length(max=2000))

    @ma.validates_schema
    def duration_of_calls_only(self, data, **kwargs):
        if data.get("kind") == ActivityKind.MESSAGE.value and data.get("duration_s") is not None:
            raise ma.ValidationError("Only calls have a duration.", "duration_s")


class ActivityQueryArgsSchema(ma.Schema):
    merchant_id = ma.fields.Integer(validate=ID)
    user_id = ma.fields.Integer(validate=ID)
    kind = ma.fields.String(validate=validate.OneOf(KINDS))
    limit = ma.fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))
    cursor = ma.fields.String(validate=validate.Length(min=1, max=300))


class ActivityContactSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    name = ma.fields.String(required=True)


class ActivitySchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    merchant = ma.fields.Nested(PersonRefSchema, required=True, metadata={"description": "The merchant (id, name)"})
    user = ma.fields.Nested(PersonRefSchema, required=True, metadata={"description": "Who logged it"})
    contact = ma.fields.Nested(ActivityContactSchema, allow_none=True, required=True)
    kind = ma.fields.String(required=True, validate=validate.OneOf(KINDS))
    direction = ma.fields.String(required=True, validate=validate.OneOf(DIRECTIONS))
    occurred_at = ma.fields.DateTime(required=True)
    duration_s = ma.fields.Integer(allow_none=True, required=True)
    result = ma.fields.String(required=True, validate=validate.OneOf(RESULTS))
    notes = ma.fields.String(required=True)
    created_at = ma.fields.DateTime(required=True, metadata={"description": "When the server received it"})


class ActivityPageSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(ActivitySchema), required=True)
    next_cursor = ma.fields.String(allow_none=True, required=True)
