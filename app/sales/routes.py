"""Single sales and competitor records, for ops (bulk data arrives through the CSV imports)."""

from __future__ import annotations

from datetime import date

from flask.views import MethodView

from app.api import VALIDATION_ERRORS, Blueprint
from app.auth.security import authenticated
from app.errors import MerchantNotFound
from app.merchants.models import get_merchant
from app.org.models import Role
from app.sales import service
from app.sales.schemas import (
    CompetitorCreateSchema,
    DealCreateSchema,
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
