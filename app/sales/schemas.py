from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from app.sales.models import CONTRACT_STATUSES, CONTRACT_TYPES
from app.schemas import ID

MONEY = {"as_string": False, "places": 2, "validate": validate.Range(min=0, max=999_999_999)}


class SalesMonthCreateSchema(ma.Schema):
    month = ma.fields.String(
        required=True,
        validate=validate.Regexp(r"^(19|2\d)\d{2}-(0[1-9]|1[0-2])$"),
        metadata={"example": "2026-10", "description": "YYYY-MM, years 1900 to 2999"},
    )
    orders = ma.fields.Integer(required=True, validate=validate.Range(min=0, max=2**31 - 1))
    gmv = ma.fields.Decimal(required=True, **MONEY)


class MerchantSalesMonthSchema(ma.Schema):
    merchant_id = ma.fields.Integer(required=True)
    month = ma.fields.Function(lambda row: row.month.isoformat()[:7], required=True)
    orders = ma.fields.Integer(required=True)
    gmv = ma.fields.Float(required=True)


class DealCreateSchema(ma.Schema):
    title = ma.fields.String(required=True, validate=validate.Length(min=1, max=300))
    price = ma.fields.Decimal(required=True, **MONEY)
    status = ma.fields.String(load_default="active", validate=validate.OneOf(["active", "paused", "ended"]))
    external_id = ma.fields.String(
        validate=validate.Length(min=1, max=120),
        metadata={"description": "The deal's id in the selling system; sending it again updates that deal"},
    )
    started_at = ma.fields.Date(allow_none=True)
    ended_at = ma.fields.Date(allow_none=True)


class MerchantDealSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    merchant_id = ma.fields.Integer(required=True)
    title = ma.fields.String(required=True)
    price = ma.fields.Float(required=True)
    status = ma.fields.String(required=True)
    external_id = ma.fields.String(allow_none=True, required=True)
    started_at = ma.fields.Date(allow_none=True, required=True)
    ended_at = ma.fields.Date(allow_none=True, required=True)


class CompetitorDealSchema(ma.Schema):
    title = ma.fields.String(required=True, validate=validate.Length(min=1, max=300))
    price = ma.fields.Float(required=True, validate=validate.Range(min=0, max=999_999_999))
    monthly_sales = ma.fields.Integer(allow_none=True, load_default=None, validate=validate.Range(min=0))


class CompetitorCreateSchema(ma.Schema):
    platform = ma.fields.String(required=True, validate=validate.Length(min=1, max=60))
    online = ma.fields.Boolean(required=True)
    deals = ma.fields.List(ma.fields.Nested(CompetitorDealSchema), load_default=list, validate=validate.Length(max=50))
    captured_at = ma.fields.AwareDateTime(allow_none=True, load_default=None)


class MerchantCompetitorSchema(ma.Schema):
    merchant_id = ma.fields.Integer(required=True)
    platform = ma.fields.String(required=True)
    online = ma.fields.Boolean(required=True)
    deals = ma.fields.List(ma.fields.Nested(CompetitorDealSchema), required=True)
    captured_at = ma.fields.DateTime(required=True)


# --- contracts and the account owner


class ContractCreateSchema(ma.Schema):
    number = ma.fields.String(required=True, validate=validate.Length(min=1, max=80))
    type = ma.fields.String(required=True, validate=validate.OneOf(CONTRACT_TYPES))
    starts_on = ma.fields.Date(required=True)
    ends_on = ma.fields.Date(allow_none=True, load_default=None, metadata={"description": "null: open-ended"})


class ContractUpdateSchema(ma.Schema):
    number = ma.fields.String(validate=validate.Length(min=1, max=80))
    type = ma.fields.String(validate=validate.OneOf(CONTRACT_TYPES))
    starts_on = ma.fields.Date()
    ends_on = ma.fields.Date(allow_none=True, metadata={"description": "A renewal moves it"})
    status = ma.fields.String(
        validate=validate.OneOf(CONTRACT_STATUSES),
        metadata={"description": "`ended` or `terminated` ends the deal; it stays in the detail's sales history"},
    )
    reason = ma.fields.String(allow_none=True, validate=validate.Length(max=300))


class ContractSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    merchant_id = ma.fields.Integer(required=True)
    number = ma.fields.String(required=True)
    type = ma.fields.String(required=True, validate=validate.OneOf(CONTRACT_TYPES))
    starts_on = ma.fields.Date(required=True)
    ends_on = ma.fields.Date(allow_none=True, required=True)
    status = ma.fields.String(required=True, validate=validate.OneOf(CONTRACT_STATUSES))
    signed_by_id = ma.fields.Integer(allow_none=True, required=True)


class HandoverSchema(ma.Schema):
    user_id = ma.fields.Integer(required=True, validate=ID, metadata={"description": "An active ops user"})
    reason = ma.fields.String(allow_none=True, load_default=None, validate=validate.Length(max=300))


class HandoverResultSchema(ma.Schema):
    merchant_id = ma.fields.Integer(required=True)
    owner_id = ma.fields.Integer(
        allow_none=True, required=True, metadata={"description": "The signing BD: keeps read access"}
    )
    account_owner_id = ma.fields.Integer(required=True)
