"""Single sales and competitor records, for ops (bulk data arrives through the CSV imports)."""

from __future__ import annotations

from datetime import date

from flask.views import MethodView

from app.api import VALIDATION_ERRORS, Blueprint
from app.auth.security import authenticated, current_tenant, current_user
from app.errors import (
    ContractExists,
    ContractNotFound,
    MerchantNotFound,
    NotAllowedForLead,
    NotPartner,
    UserNotFound,
)
from app.json import json_response
from app.merchants.models import get_merchant
from app.org.models import Role
from app.sales import contracts, service
from app.sales.schemas import (
    CompetitorCreateSchema,
    ContractCreateSchema,
    ContractSchema,
    ContractUpdateSchema,
    DealCreateSchema,
    HandoverResultSchema,
    HandoverSchema,
    MerchantCompetitorSchema,
    MerchantDealSchema,
    MerchantSalesMonthSchema,
    SalesMonthCreateSchema,
)

blp = Blueprint("sales", __name__, url_prefix="/api/v1/merchants", description="Sales and competitor data (ops)")

ERRORS = (*VALIDATION_ERRORS, MerchantNotFound)
OPS = (Role.OPS, Role.ADMIN)


@blp.route("/<id:merchant_id>/sales")
class MonthlySales(MethodView):
    @authenticated(blp, *OPS, errors=ERRORS)
    @blp.arguments(SalesMonthCreateSchema, example={"month": "2026-10", "orders": 412, "gmv": 10380.5})
    @blp.response(200, MerchantSalesMonthSchema)
    def post(self, body, merchant_id):
        """Record (or correct) one month of our sales at a merchant."""
        year, month = map(int, body["month"].split("-"))
        return service.upsert_month(get_merchant(merchant_id), date(year, month, 1), body["orders"], body["gmv"])


@blp.route("/<id:merchant_id>/deals")
class Deals(MethodView):
    @authenticated(blp, *OPS, errors=ERRORS)
    @blp.arguments(DealCreateSchema, example={"title": "Lunch set for 2", "price": 39.9, "external_id": "deal-88231"})
    @blp.response(201, MerchantDealSchema)
    def post(self, body, merchant_id):
        """Add one of our deals at a merchant, or update it by `external_id`."""
        return service.save_deal(get_merchant(merchant_id), body)


@blp.route("/<id:merchant_id>/competitors")
class Competitors(MethodView):
    @authenticated(blp, *OPS, errors=ERRORS)
    @blp.arguments(
        CompetitorCreateSchema,
        example={
            "platform": "Meituan",
            "online": True,
            "deals": [{"title": "双人套餐", "price": 88, "monthly_sales": 320}],
        },
    )
    @blp.response(200, MerchantCompetitorSchema)
    def post(self, body, merchant_id):
        """Replace what one competitor platform offers at a merchant."""
        return service.save_competitor(
            get_merchant(merchant_id), body["platform"], body["online"], body["deals"], body["captured_at"]
        )


CONTRACT_EXAMPLE = {
    "id": 9,
    "merchant_id": 40211,
    "number": "HZ-2026-00123",
    "type": "group_buy",
    "starts_on": "2026-12-01",
    "ends_on": "2027-11-30",
    "status": "active",
    "signed_by_id": 31,
}


@blp.route("/<id:merchant_id>/contracts")
class Contracts(MethodView):
    @authenticated(blp, errors=(*ERRORS, NotAllowedForLead, ContractExists))
    @blp.arguments(
        ContractCreateSchema,
        example={"number": "HZ-2026-00123", "type": "group_buy", "starts_on": "2026-12-01", "ends_on": "2027-11-30"},
    )
    @blp.response(201, ContractSchema, example=CONTRACT_EXAMPLE)
    def post(self, body, merchant_id):
        """Record a merchant's contract (the lead's owner, their managers, ops); logged in its history."""
        return json_response(contracts.contract_view(contracts.create(current_user(), merchant_id, body)), 201)


@blp.route("/<id:merchant_id>/contracts/<id:contract_id>")
class ContractItem(MethodView):
    @authenticated(blp, errors=(*ERRORS, NotAllowedForLead, ContractNotFound, ContractExists))
    @blp.arguments(ContractUpdateSchema, example={"ends_on": "2028-11-30", "reason": "Renewed for a year"})
    @blp.response(200, ContractSchema, example=CONTRACT_EXAMPLE)
    def patch(self, body, merchant_id, contract_id):
        """Change a contract's terms, renew it or end it; each change is logged with before and after."""
        return json_response(contracts.contract_view(contracts.change(current_user(), merchant_id, contract_id, body)))


@blp.route("/<id:merchant_id>/handover")
class Handover(MethodView):
    @authenticated(blp, errors=(*ERRORS, NotAllowedForLead, NotPartner, (UserNotFound, "no such active ops user")))
    @blp.arguments(HandoverSchema, example={"user_id": 7, "reason": "Signed: ops runs the account"})
    @blp.response(200, HandoverResultSchema, example={"merchant_id": 40211, "owner_id": 31, "account_owner_id": 7})
    def post(self, body, merchant_id):
        """Hand a signed partner over to an ops account owner; the signing BD keeps read access."""
        return json_response(
            contracts.handover(current_user(), current_tenant(), merchant_id, body["user_id"], body["reason"])
        )
