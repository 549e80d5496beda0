"""Request and response schemas for merchants (nearby, map, detail)."""

from __future__ import annotations

import enum
import math

import marshmallow as ma
from marshmallow import validate

from app.merchants.models import ContactRole
from app.schemas import PersonRefSchema, coord_sys_field
from app.uploads.schemas import PhotoLinkSchema

MAX_RADIUS_M = 5000
MAX_LIMIT = 100


class SeaFilter(str, enum.Enum):
    ALL = "all"
    PUBLIC = "public"
    MINE = "mine"
    OTHERS = "others"
    PARTNER = "partner"


class MerchantFilterQueryArgsSchema(ma.Schema):
    """Filters shared by the nearby list and the map."""

    coord_sys = coord_sys_field()
    sea = ma.fields.Enum(
        SeaFilter,
        by_value=True,
        load_default=SeaFilter.ALL,
        metadata={
            "description": "`public`: claimable pool; `mine`: my private leads; `others`: colleagues' private "
            "leads; `partner`: signed partners"
        },
    )
    category = ma.fields.String(
        validate=validate.Length(min=1, max=300),
        metadata={"description": "Prefix of the category path, e.g. `餐饮服务` or `amenity=restaurant`"},
    )
    tag = ma.fields.List(
        ma.fields.String(validate=validate.Length(min=1, max=64)),
        validate=validate.Length(max=10),
        metadata={"description": "Repeatable (`tag=a&tag=b`): the merchant has every tag given"},
    )
    q = ma.fields.String(
        validate=validate.Length(min=1, max=100),
        metadata={"description": "Name search: substring or trigram similarity; works for Chinese names"},
    )
    unvisited_days = ma.fields.Integer(
        validate=validate.Range(min=1, max=3650),
        strict=False,
        metadata={"description": "Street-sweep mode: only merchants with no verified visit by anyone in N days"},
    )
    in_my_territory = ma.fields.Boolean(
        load_default=False,
        metadata={"description": "Only merchants covered by a territory you are assigned to"},
    )
    # the parser gathers every `attr.<key>` query parameter into this one field (see app.api.Parser)
    attr = ma.fields.Dict(
        keys=ma.fields.String(validate=validate.Regexp(r"^[a-z][a-z0-9_]{0,39}$")),
        values=ma.fields.String(validate=validate.Length(min=1, max=200)),
        validate=validate.Length(max=5),
        load_default=dict,
        metadata={
            "description": "Custom-field filters, one `attr=<key>:<value>` per field (e.g. "
            "`attr=cuisine:sichuan&attr=seats:40&attr=delivery:true`), at most 5; the value is read in the "
            "field's type from the tenant's schema. Unknown keys: 422 `INVALID_ATTRIBUTE_FILTER`. "
            "`attr[cuisine]=sichuan` (deepObject) and `attr.cuisine=sichuan` mean the same.",
            "x-query-prefix": "attr.",
        },
    )
    PREFIXED_PARAMS = {"attr.": "attr"}


class NearbyQueryArgsSchema(MerchantFilterQueryArgsSchema):
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

    def _deserialize(self, value, attr, data, **kwargs):
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


class MapQueryArgsSchema(MerchantFilterQueryArgsSchema):
    bbox = BBox(
        required=True,
        metadata={
            "type": "string",
            "example": "24.93,60.165,24.96,60.175",
            "description": "min_lng,min_lat,max_lng,max_lat in `coord_sys`",
        },
    )
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
    drops_at = ma.fields.DateTime(
        allow_none=True, required=True, metadata={"description": "When a private lead drops back to the public pool"}
    )
    expires_at = ma.fields.DateTime(
        allow_none=True,
        required=True,
        metadata={"description": "Deprecated (2026-12-03): the same as `drops_at`, the name every other answer uses"},
    )
    locked_until = ma.fields.DateTime(
        allow_none=True,
        required=True,
        metadata={
            "description": "A manager locked this private lead (a key account being negotiated): its drop clocks "
            "stand still until then, and `drops_at` already counts the pause"
        },
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
    in_my_territory = ma.fields.Boolean(required=True)
    attr = ma.fields.Dict(required=True, metadata={"description": "The `attr.<key>` filters as sent"})


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
    cell_deg = ma.fields.Float(
        allow_none=True, required=True, metadata={"description": "Grid cell (longitude degrees)"}
    )


# --- detail -------------------------------------------------------------------------------------------


class DetailQueryArgsSchema(ma.Schema):
    coord_sys = coord_sys_field()


class MerchantInfoSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    name = ma.fields.String(required=True)
    category = ma.fields.String(required=True)
    address = ma.fields.String(required=True)
    city = ma.fields.String(required=True)
    phone = ma.fields.String(allow_none=True, required=True, metadata={"description": "Masked unless allowed"})
    brand = ma.fields.String(allow_none=True, required=True)
    tags = ma.fields.List(ma.fields.String(), required=True)
    lat = ma.fields.Float(required=True)
    lng = ma.fields.Float(required=True)
    coord_sys = ma.fields.String(required=True)
    attributes = ma.fields.Dict(required=True, metadata={"description": "Custom attributes (imported columns)"})
    source = ma.fields.String(required=True)
    source_id = ma.fields.String(allow_none=True, required=True)
    audit_status = ma.fields.String(
        required=True, validate=validate.OneOf(["approved", "pending_audit", "rejected", "merged"])
    )
    audit_flags = ma.fields.List(ma.fields.String(), required=True)
    self_onboarded = ma.fields.Boolean(required=True)
    closed = ma.fields.String(
        allow_none=True,
        required=True,
        validate=validate.OneOf(["temporarily", "permanently"]),
        metadata={"description": "Set by a merchant correction; null while open"},
    )
    created_at = ma.fields.DateTime(required=True)
    updated_at = ma.fields.DateTime(required=True)
    created_by = ma.fields.Nested(PersonRefSchema, allow_none=True, required=True)


CONTACT_ROLES = ["decision_maker", "approver", "evaluator", "user", "other"]


class ContactSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    name = ma.fields.String(required=True)
    title = ma.fields.String(required=True)
    role = ma.fields.Enum(ContactRole, by_value=True, required=True)
    phones = ma.fields.List(ma.fields.String(), required=True, metadata={"description": "Masked unless allowed"})
    is_key_person = ma.fields.Boolean(required=True)
    notes = ma.fields.String(required=True)
    last_contacted_at = ma.fields.DateTime(allow_none=True, required=True)
    verified = ma.fields.Boolean(
        required=True,
        metadata={
            "description": "False for a contact sent through self-onboarding that nobody accepted yet "
            "(`POST /merchants/{id}/contacts/{cid}/verify`): show it as unverified, do not call it blindly"
        },
    )


class VisitSummarySchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    at = ma.fields.DateTime(required=True, metadata={"description": "When the BD checked in (phone time)"})
    by = ma.fields.Nested(PersonRefSchema, required=True)
    verified = ma.fields.Boolean(required=True)
    flags = ma.fields.List(ma.fields.String(), required=True)
    distance_m = ma.fields.Float(allow_none=True, required=True)
    result = ma.fields.String(allow_none=True, required=True)
    notes = ma.fields.String(required=True)
    purpose = ma.fields.String(allow_none=True, required=True)
    offline = ma.fields.Boolean(required=True)
    photo_count = ma.fields.Integer(required=True)
    photos = ma.fields.List(
        ma.fields.Nested(PhotoLinkSchema),
        required=True,
        metadata={
            "description": "Signed photo URLs, for callers who may see the visit (its BD, their managers, ops, "
            "admins); empty for colleagues, who see `photo_count`"
        },
    )
    form_answers = ma.fields.List(
        ma.fields.Dict(),
        required=True,
        metadata={"description": "Visit-form answers: `[{form, version, stage, answers}]` (see `VisitFormAnswers`)"},
    )


class VisitsSectionSchema(ma.Schema):
    total = ma.fields.Integer(required=True)
    verified = ma.fields.Integer(required=True)
    last_visit = ma.fields.Nested(VisitSummarySchema, allow_none=True, required=True)
    recent = ma.fields.List(ma.fields.Nested(VisitSummarySchema), required=True, metadata={"description": "Last 10"})


class ActivitySummarySchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    kind = ma.fields.String(required=True, validate=validate.OneOf(["call", "message"]))
    direction = ma.fields.String(required=True)
    at = ma.fields.DateTime(required=True)
    duration_s = ma.fields.Integer(allow_none=True, required=True)
    result = ma.fields.String(required=True)
    notes = ma.fields.String(required=True)
    by = ma.fields.Nested(PersonRefSchema, required=True)
    contact = ma.fields.Nested(PersonRefSchema, allow_none=True, required=True)


class ActivitiesSectionSchema(ma.Schema):
    total = ma.fields.Integer(required=True)
    calls = ma.fields.Integer(required=True)
    messages = ma.fields.Integer(required=True)
    recent = ma.fields.List(
        ma.fields.Nested(ActivitySummarySchema), required=True, metadata={"description": "Last 10 calls and messages"}
    )


class CompetitorObservationSchema(ma.Schema):
    platform = ma.fields.String(required=True)
    online = ma.fields.Boolean(required=True)
    offer = ma.fields.String(allow_none=True, required=True)
    their_price = ma.fields.Float(allow_none=True, required=True)
    our_price = ma.fields.Float(allow_none=True, required=True)
    price_gap = ma.fields.Float(
        allow_none=True, required=True, metadata={"description": "our price - theirs (positive: they are cheaper)"}
    )
    observed_at = ma.fields.DateTime(required=True)
    visit_id = ma.fields.Integer(allow_none=True, required=True)
    by = ma.fields.Nested(PersonRefSchema, required=True)


class DealSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    title = ma.fields.String(required=True)
    price = ma.fields.Float(required=True)
    status = ma.fields.String(required=True)
    started_at = ma.fields.Date(allow_none=True, required=True)
    ended_at = ma.fields.Date(allow_none=True, required=True)


class SalesMonthSchema(ma.Schema):
    month = ma.fields.String(required=True, metadata={"example": "2026-10"})
    orders = ma.fields.Integer(required=True)
    gmv = ma.fields.Float(required=True)


class SalesTotalsSchema(ma.Schema):
    orders_12m = ma.fields.Integer(required=True)
    gmv_12m = ma.fields.Float(required=True)
    orders_lifetime = ma.fields.Integer(required=True)
    gmv_lifetime = ma.fields.Float(required=True)


class RelatedStoreSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    name = ma.fields.String(required=True)
    address = ma.fields.String(required=True)
    gmv_12m = ma.fields.Float(required=True)
    orders_12m = ma.fields.Integer(required=True)


class RelatedStoresSchema(ma.Schema):
    count = ma.fields.Integer(required=True, metadata={"description": "Other stores of the same brand"})
    stores = ma.fields.List(
        ma.fields.Nested(RelatedStoreSchema), required=True, metadata={"description": "Top 20 by GMV over 12 months"}
    )


class DetailContractSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    number = ma.fields.String(required=True)
    type = ma.fields.String(required=True, metadata={"description": "group_buy, pay_at_store, prepaid, other"})
    starts_on = ma.fields.Date(required=True)
    ends_on = ma.fields.Date(allow_none=True, required=True)
    status = ma.fields.String(required=True, validate=validate.OneOf(["active", "ended", "terminated"]))


class SalesSectionSchema(ma.Schema):
    active_deals = ma.fields.List(ma.fields.Nested(DealSchema), required=True)
    ended_deals = ma.fields.List(
        ma.fields.Nested(DealSchema), required=True, metadata={"description": "Deals no longer active, latest first"}
    )
    contracts = ma.fields.List(
        ma.fields.Nested(DetailContractSchema),
        required=True,
        metadata={"description": "Every contract of the merchant, active and ended, newest first"},
    )
    totals = ma.fields.Nested(SalesTotalsSchema, required=True)
    months = ma.fields.List(
        ma.fields.Nested(SalesMonthSchema),
        required=True,
        metadata={"description": "The last 12 months, oldest first, zero-filled"},
    )
    related_stores = ma.fields.Nested(RelatedStoresSchema, required=True)


class PriceComparisonSchema(ma.Schema):
    their_title = ma.fields.String(required=True)
    their_price = ma.fields.Float(required=True)
    monthly_sales = ma.fields.Integer(allow_none=True, required=True)
    our_deal_id = ma.fields.Integer(allow_none=True, required=True)
    our_title = ma.fields.String(allow_none=True, required=True)
    our_price = ma.fields.Float(allow_none=True, required=True)
    difference = ma.fields.Float(allow_none=True, required=True, metadata={"description": "our price - theirs"})
    price_disadvantage = ma.fields.Boolean(required=True, metadata={"description": "Their deal is cheaper"})


class CompetitorSchema(ma.Schema):
    platform = ma.fields.String(required=True)
    online = ma.fields.Boolean(required=True)
    captured_at = ma.fields.DateTime(required=True)
    deals = ma.fields.List(
        ma.fields.Nested(PriceComparisonSchema),
        required=True,
        metadata={"description": "Each of their deals against our most comparable active deal (by title)"},
    )
    price_disadvantage = ma.fields.Boolean(required=True)
    latest_observation = ma.fields.Nested(
        CompetitorObservationSchema,
        allow_none=True,
        required=True,
        metadata={"description": "What a BD last recorded here with the competitor-observation form"},
    )


class DetailSeaSchema(SeaSchema):
    claimed_at = ma.fields.DateTime(allow_none=True, required=True)
    drops_at = ma.fields.DateTime(allow_none=True, required=True)
    drop_reason = ma.fields.String(
        allow_none=True,
        required=True,
        validate=validate.OneOf(["term_end", "no_visit", "no_signing"]),
        metadata={"description": "The clock that will fire at `drops_at`"},
    )
    extensions_left = ma.fields.Integer(allow_none=True, required=True)
    lock_reason = ma.fields.String(
        allow_none=True, required=True, metadata={"description": "Why the lead is locked (while `locked_until` holds)"}
    )
    account_owner = ma.fields.Nested(
        OwnerSchema,
        allow_none=True,
        required=True,
        metadata={"description": "The ops account owner a signed partner was handed over to"},
    )
    claimable = ma.fields.Boolean(required=True)


class DetailTaskSchema(ma.Schema):
    task_id = ma.fields.Integer(required=True)
    assignment_id = ma.fields.Integer(required=True)
    title = ma.fields.String(required=True)
    kind = ma.fields.String(required=True)
    priority = ma.fields.Integer(required=True)
    due_at = ma.fields.DateTime(allow_none=True, required=True)
    status = ma.fields.String(required=True)
    assignee = ma.fields.Nested(PersonRefSchema, required=True)
    overdue = ma.fields.Boolean(required=True)


class SameBrandStoreSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    name = ma.fields.String(required=True)
    address = ma.fields.String(required=True)
    lat = ma.fields.Float(required=True)
    lng = ma.fields.Float(required=True)
    distance_m = ma.fields.Float(required=True)


class MerchantDetailSchema(ma.Schema):
    merchant = ma.fields.Nested(MerchantInfoSchema, required=True)
    contacts = ma.fields.List(ma.fields.Nested(ContactSchema), required=True)
    visits = ma.fields.Nested(VisitsSectionSchema, required=True)
    sales = ma.fields.Nested(SalesSectionSchema, required=True)
    competitors = ma.fields.List(ma.fields.Nested(CompetitorSchema), required=True)
    activities = ma.fields.Nested(ActivitiesSectionSchema, required=True)
    sea = ma.fields.Nested(DetailSeaSchema, required=True)
    tasks = ma.fields.List(
        ma.fields.Nested(DetailTaskSchema),
        required=True,
        metadata={"description": "Open assignments about this merchant that the caller may see"},
    )
    nearby_same_brand = ma.fields.List(ma.fields.Nested(SameBrandStoreSchema), required=True)
    phones_masked = ma.fields.Boolean(
        required=True,
        metadata={
            "description": "Phone numbers are shown in full only to the lead's owner, their managers, ops and admins"
        },
    )


# --- contacts -----------------------------------------------------------------------------------------

PHONE = validate.Regexp(r"^\+?[0-9][0-9 ()\-]{3,30}$", error="Digits, spaces, dashes, brackets and a leading +.")


class ContactCreateSchema(ma.Schema):
    name = ma.fields.String(required=True, validate=validate.Length(min=1, max=200))
    title = ma.fields.String(load_default="", validate=validate.Length(max=200))
    role = ma.fields.String(load_default="other", validate=validate.OneOf(CONTACT_ROLES))
    phones = ma.fields.List(ma.fields.String(validate=PHONE), load_default=list, validate=validate.Length(max=5))
    is_key_person = ma.fields.Boolean(load_default=False)
    notes = ma.fields.String(load_default="", validate=validate.Length(max=2000))
    last_contacted_at = ma.fields.AwareDateTime(allow_none=True, load_default=None)


class ContactUpdateSchema(ma.Schema):
    name = ma.fields.String(validate=validate.Length(min=1, max=200))
    title = ma.fields.String(validate=validate.Length(max=200))
    role = ma.fields.String(validate=validate.OneOf(CONTACT_ROLES))
    phones = ma.fields.List(ma.fields.String(validate=PHONE), validate=validate.Length(max=5))
    is_key_person = ma.fields.Boolean()
    notes = ma.fields.String(validate=validate.Length(max=2000))
    last_contacted_at = ma.fields.AwareDateTime(allow_none=True)


class MerchantAttributesSchema(ma.Schema):
    attributes = ma.fields.Dict(
        keys=ma.fields.String(validate=validate.Length(min=1, max=60)),
        required=True,
        metadata={
            "description": "Custom-field values to set; `null` clears an optional field; fields not sent are kept",
            "example": {"seats": 140, "cuisine": None},
        },
    )


class MerchantAttributesResultSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    attributes = ma.fields.Dict(required=True, metadata={"description": "The merchant's custom-field values now"})


class ChangesQueryArgsSchema(ma.Schema):
    coord_sys = coord_sys_field()
    limit = ma.fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))
    cursor = ma.fields.String(load_default=None, validate=validate.Length(max=200))


class MerchantChangeSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    field = ma.fields.String(
        required=True,
        metadata={
            "description": "name, address, phone, category, brand, city, closed, position (`{lat, lng}` in "
            "`coord_sys`), or `attributes.<key>` (a custom field)"
        },
    )
    before = ma.fields.Raw(allow_none=True, required=True, metadata={"description": "The value before (any JSON)"})
    after = ma.fields.Raw(allow_none=True, required=True, metadata={"description": "The value after (any JSON)"})
    source = ma.fields.String(
        required=True,
        validate=validate.OneOf(["correction", "import", "merge", "edit"]),
        metadata={
            "description": "`correction` (POST /corrections, at once or approved), `import`, `merge` (a duplicate "
            "merged in filled a gap), `edit` (PATCH /attributes)"
        },
    )
    details = ma.fields.Dict(
        required=True,
        metadata={"description": "`correction_id`, the import's `source`, the `merged_id`: what it came with"},
    )
    at = ma.fields.DateTime(required=True)
    by = ma.fields.Nested(PersonRefSchema, allow_none=True, required=True, metadata={"description": "Null: the system"})


class MerchantChangesSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(MerchantChangeSchema), required=True)
    coord_sys = ma.fields.String(required=True)
    next_cursor = ma.fields.String(allow_none=True, required=True)
