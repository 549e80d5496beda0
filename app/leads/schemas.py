from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from app.merchants.schemas import NearbyQueryArgsSchema
from app.schemas import ID, PageQueryArgsSchema, PageSchema, PersonRefSchema


class LeadSchema(ma.Schema):
    merchant_id = ma.fields.Integer(required=True)
    state = ma.fields.String(required=True, validate=validate.OneOf(["public", "private", "partner"]))
    owner = ma.fields.Nested(PersonRefSchema, allow_none=True, required=True)
    claimed_at = ma.fields.DateTime(allow_none=True, required=True)
    last_visit_at = ma.fields.DateTime(
        allow_none=True, required=True, metadata={"description": "The owner's last verified visit"}
    )
    drops_at = ma.fields.DateTime(
        allow_none=True,
        required=True,
        metadata={"description": "When the lead returns to the public pool (private leads only)"},
    )
    drop_reason = ma.fields.String(
        allow_none=True,
        required=True,
        validate=validate.OneOf(["term_end", "no_visit", "no_signing"]),
        metadata={"description": "Which clock fires at `drops_at`"},
    )
    extensions_used = ma.fields.Integer(required=True)
    extensions_left = ma.fields.Integer(required=True)
    signed_at = ma.fields.DateTime(allow_none=True, required=True)
    contract_no = ma.fields.String(allow_none=True, required=True)
    sign_pending = ma.fields.Boolean(
        required=True,
        metadata={
            "description": "The owner signed; the lead becomes a partner when their manager confirms "
            "(`POST /leads/{id}/sign` by the manager or ops)"
        },
    )


class MerchantRefSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    name = ma.fields.String(required=True)
    category = ma.fields.String(required=True)
    address = ma.fields.String(required=True)


class MyLeadSchema(LeadSchema):
    merchant = ma.fields.Nested(MerchantRefSchema, required=True)


class MyLeadsSchema(ma.Schema):
    items = ma.fields.List(
        ma.fields.Nested(MyLeadSchema), required=True, metadata={"description": "Private leads, soonest drop first"}
    )
    total = ma.fields.Integer(required=True)
    cap = ma.fields.Integer(required=True, metadata={"description": "How many private leads you may hold"})


class ReleaseSchema(ma.Schema):
    reason = ma.fields.String(required=True, validate=validate.Length(min=1, max=300))


class AssignSchema(ma.Schema):
    user_id = ma.fields.Integer(required=True, validate=ID)
    force = ma.fields.Boolean(load_default=False, metadata={"description": "Assign even beyond the BD's cap"})
    reason = ma.fields.String(load_default=None, allow_none=True, validate=validate.Length(max=300))


class SignSchema(ma.Schema):
    contract_no = ma.fields.String(required=True, validate=validate.Length(min=1, max=80))
    signed_at = ma.fields.AwareDateTime(required=True)


class PublicLeadsQueryArgsSchema(NearbyQueryArgsSchema):
    class Meta:
        exclude = ("sea",)


class LeadEventSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    action = ma.fields.String(
        required=True,
        validate=validate.OneOf(["claim", "release", "drop", "extend", "assign", "transfer", "sign", "merge"]),
    )
    at = ma.fields.DateTime(required=True)
    actor = ma.fields.Nested(
        PersonRefSchema, allow_none=True, required=True, metadata={"description": "null for the system (the sweeper)"}
    )
    from_owner = ma.fields.Nested(PersonRefSchema, allow_none=True, required=True)
    to_owner = ma.fields.Nested(PersonRefSchema, allow_none=True, required=True)
    reason = ma.fields.String(allow_none=True, required=True)
    details = ma.fields.Dict(required=True)


class LeadHistoryQueryArgsSchema(PageQueryArgsSchema):
    pass


class LeadHistorySchema(PageSchema):
    items = ma.fields.List(ma.fields.Nested(LeadEventSchema), required=True, metadata={"description": "Oldest first"})
