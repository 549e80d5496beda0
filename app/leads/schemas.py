from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from app.merchants.schemas import NearbyQueryArgsSchema
from app.schemas import ID, PageQueryArgsSchema, PageSchema, PersonRefSchema


class LockSchema(ma.Schema):
    until = ma.fields.DateTime(required=True, metadata={"description": "The drop clocks stand still until then"})
    reason = ma.fields.String(allow_none=True, required=True)


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
    lock = ma.fields.Nested(
        LockSchema,
        allow_none=True,
        required=True,
        metadata={"description": "A manager's hold on the private lead, while it lasts: the drop clocks stand still"},
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
    contract_type = ma.fields.String(
        validate=validate.OneOf(["group_buy", "pay_at_store", "prepaid", "other"]),
        metadata={"description": "With `starts_on`: the final signing records the contract (see the contracts)"},
    )
    starts_on = ma.fields.Date(metadata={"example": "2026-12-01"})
    ends_on = ma.fields.Date(
        allow_none=True, metadata={"description": "The renewal reminder comes before it", "example": "2027-11-30"}
    )

    @ma.validates_schema
    def term(self, data, **kwargs):
        if data.get("starts_on") and data.get("ends_on") and data["ends_on"] < data["starts_on"]:
            raise ma.ValidationError("On or after `starts_on`.", "ends_on")


class PublicLeadsQueryArgsSchema(NearbyQueryArgsSchema):
    class Meta:
        exclude = ("sea",)


class LeadEventSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    action = ma.fields.String(
        required=True,
        validate=validate.OneOf(
            [
                "claim",
                "release",
                "drop",
                "extend",
                "assign",
                "transfer",
                "sign",
                "sign_request",
                "deactivate",
                "merge",
                "lock",
                "unlock",
                "contract",
                "contract_change",
                "handover",
            ]
        ),
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


# --- the team's lead pool


class TeamLeadsQueryArgsSchema(ma.Schema):
    owner_id = ma.fields.Integer(validate=ID, metadata={"description": "One BD's leads (in your subtree)"})
    team_id = ma.fields.Integer(
        validate=ID, metadata={"description": "Leads of the BDs of this org unit and its sub-units"}
    )
    drops_within_days = ma.fields.Integer(
        validate=validate.Range(min=0, max=3650), metadata={"description": "Drops within this many days"}
    )
    reason = ma.fields.String(
        validate=validate.OneOf(["term_end", "no_visit", "no_signing"]),
        metadata={"description": "The clock that fires at `drops_at`"},
    )
    tag = ma.fields.String(validate=validate.Length(min=1, max=64), metadata={"example": "chain"})
    territory_id = ma.fields.Integer(validate=ID, metadata={"description": "Merchants inside this territory"})
    locked = ma.fields.Boolean(metadata={"description": "Only locked (true) or only unlocked (false) leads"})
    sort = ma.fields.String(
        load_default="drops_at",
        validate=validate.OneOf(["drops_at", "claimed_at", "last_visit_at"]),
        metadata={"description": "`last_visit_at`: leads never visited first (ascending)"},
    )
    order = ma.fields.String(load_default="asc", validate=validate.OneOf(["asc", "desc"]))
    limit = ma.fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))
    cursor = ma.fields.String(
        validate=validate.Length(min=1, max=300), metadata={"description": "`next_cursor` of the previous page"}
    )


class TeamLeadMerchantSchema(MerchantRefSchema):
    city = ma.fields.String(required=True)


class TeamLeadSchema(ma.Schema):
    merchant = ma.fields.Nested(TeamLeadMerchantSchema, required=True)
    tags = ma.fields.List(ma.fields.String(), required=True)
    owner = ma.fields.Nested(PersonRefSchema, required=True)
    team = ma.fields.Nested(
        PersonRefSchema, allow_none=True, required=True, metadata={"description": "The owner's org unit"}
    )
    claimed_at = ma.fields.DateTime(allow_none=True, required=True)
    drops_at = ma.fields.DateTime(allow_none=True, required=True)
    drop_reason = ma.fields.String(
        allow_none=True, required=True, validate=validate.OneOf(["term_end", "no_visit", "no_signing"])
    )
    last_verified_visit_at = ma.fields.DateTime(
        allow_none=True, required=True, metadata={"description": "The owner's last verified visit"}
    )
    extensions_used = ma.fields.Integer(required=True)
    extensions_left = ma.fields.Integer(required=True, metadata={"description": "The owner's self-extensions left"})
    lock = ma.fields.Nested(
        LockSchema, allow_none=True, required=True, metadata={"description": "A manager's hold, while it lasts"}
    )
    sign_pending = ma.fields.Boolean(required=True)


class TeamLeadsPageSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(TeamLeadSchema), required=True)
    total = ma.fields.Integer(required=True, metadata={"description": "Leads matching the filters, all pages"})
    next_cursor = ma.fields.String(allow_none=True, required=True)


class TeamLeadsBulkSchema(ma.Schema):
    action = ma.fields.String(
        required=True,
        validate=validate.OneOf(["reassign", "release", "extend", "lock", "unlock"]),
        metadata={
            "description": "`reassign` (to `user_id`, fresh clocks), `release` (to the public pool, `reason` "
            "required), `extend` (one extension period, none of the owner's own used), `lock` (until `until`, "
            "`reason` required: the clocks stand still), `unlock` (the clocks run again)"
        },
    )
    merchant_ids = ma.fields.List(
        ma.fields.Integer(validate=ID), required=True, validate=validate.Length(min=1, max=1000)
    )
    user_id = ma.fields.Integer(validate=ID, metadata={"description": "`reassign`: the BD who gets the leads"})
    force = ma.fields.Boolean(load_default=False, metadata={"description": "`reassign`: even beyond the BD's cap"})
    until = ma.fields.AwareDateTime(metadata={"description": "`lock`: when the lock ends (within a year)"})
    reason = ma.fields.String(allow_none=True, validate=validate.Length(min=1, max=300))

    @ma.validates_schema
    def fields_for_action(self, data, **kwargs):
        action = data.get("action")
        needs = {"reassign": ("user_id",), "release": ("reason",), "lock": ("until", "reason")}.get(action, ())
        missing = {name: [f"Required for `{action}`."] for name in needs if data.get(name) is None}
        if missing:
            raise ma.ValidationError(missing)


class TeamLeadResultSchema(ma.Schema):
    merchant_id = ma.fields.Integer(required=True)
    result = ma.fields.String(required=True, validate=validate.OneOf(["done", "error"]))
    error_code = ma.fields.String(
        allow_none=True,
        required=True,
        metadata={"description": "Why this lead was left unchanged (an `error_code` of the catalogue)"},
    )
    owner_id = ma.fields.Integer(allow_none=True, required=True, metadata={"description": "The owner afterwards"})
    drops_at = ma.fields.DateTime(allow_none=True, required=True, metadata={"description": "The drop date afterwards"})


class TeamLeadsBulkResultSchema(ma.Schema):
    action = ma.fields.String(required=True)
    done = ma.fields.Integer(required=True)
    failed = ma.fields.Integer(required=True)
    results = ma.fields.List(
        ma.fields.Nested(TeamLeadResultSchema), required=True, metadata={"description": "In request order"}
    )
    notified_user_ids = ma.fields.List(
        ma.fields.Integer(), required=True, metadata={"description": "The BDs who got one to-do and push for the batch"}
    )
