"""The lead pool: claim, release, extend, assign, sign; my pool, the claimable pool near me, history."""

from __future__ import annotations

from flask.views import MethodView

from app.api import VALIDATION_ERRORS, Blueprint
from app.auth.security import authenticated, current_tenant, current_user
from app.errors import (
    AlreadyPartner,
    AlreadyYours,
    ClaimCapReached,
    ExtensionsExhausted,
    Forbidden,
    InvalidAttributeFilter,
    InvalidCursor,
    LeadDropped,
    LeadTaken,
    MerchantNotFound,
    NotInScope,
    NotOwner,
    ReclaimCooldown,
    UserNotFound,
)
from app.json import json_response
from app.leads import queries, service
from app.leads.schemas import (
    AssignSchema,
    LeadHistoryQueryArgsSchema,
    LeadHistorySchema,
    LeadSchema,
    MyLeadsSchema,
    PublicLeadsQueryArgsSchema,
    ReleaseSchema,
    SignSchema,
)
from app.merchants import queries as merchants
from app.merchants.models import get_merchant
from app.merchants.schemas import NearbyPageSchema
from app.org.models import Role

blp = Blueprint("leads", __name__, url_prefix="/api/v1/leads", description="The lead pool")


def _lead(lead):
    return json_response(queries.lead_view(lead, current_tenant()))


@blp.route("/<id:merchant_id>/claim")
class Claim(MethodView):
    @authenticated(
        blp,
        errors=(
            (Forbidden, "only BDs claim leads; managers assign them"),
            MerchantNotFound,
            LeadTaken,
            ClaimCapReached,
            ReclaimCooldown,
            AlreadyPartner,
            AlreadyYours,
        ),
    )
    @blp.response(200, LeadSchema)
    def post(self, merchant_id):
        """Claim a public lead into your private pool (BDs only)."""
        return _lead(service.claim(current_user(), current_tenant(), merchant_id))


@blp.route("/<id:merchant_id>/release")
class Release(MethodView):
    @authenticated(blp, errors=(*VALIDATION_ERRORS, MerchantNotFound, NotOwner, AlreadyPartner, LeadDropped))
    @blp.arguments(ReleaseSchema, example={"reason": "Owner not interested before spring"})
    @blp.response(200, LeadSchema)
    def post(self, body, merchant_id):
        """Give your private lead back to the public pool."""
        return _lead(service.release(current_user(), merchant_id, body["reason"]))


@blp.route("/<id:merchant_id>/extend")
class Extend(MethodView):
    @authenticated(blp, errors=(MerchantNotFound, NotOwner, ExtensionsExhausted, AlreadyPartner, LeadDropped))
    @blp.response(200, LeadSchema)
    def post(self, merchant_id):
        """Push the drop date out by the extension period (owner: limited; the owner's manager: any time)."""
        return _lead(service.extend(current_user(), current_tenant(), merchant_id))


@blp.route("/<id:merchant_id>/assign")
class Assign(MethodView):
    @authenticated(
        blp,
        Role.MANAGER,
        Role.OPS,
        Role.ADMIN,
        errors=(*VALIDATION_ERRORS, MerchantNotFound, ClaimCapReached, AlreadyYours, UserNotFound, NotInScope),
    )
    @blp.arguments(AssignSchema, example={"user_id": 42, "force": False, "reason": "Territory handover"})
    @blp.response(200, LeadSchema)
    def post(self, body, merchant_id):
        """Assign or transfer a lead to a BD you manage, with fresh clocks (beyond their cap only with `force`)."""
        return _lead(
            service.assign(
                current_user(), current_tenant(), merchant_id, body["user_id"], body["force"], body["reason"]
            )
        )


@blp.route("/<id:merchant_id>/sign")
class Sign(MethodView):
    @authenticated(blp, errors=(*VALIDATION_ERRORS, MerchantNotFound, NotOwner, AlreadyPartner, LeadDropped))
    @blp.arguments(
        SignSchema,
        example={
            "contract_no": "HZ-2026-00123",
            "signed_at": "2026-11-22T15:00:00+08:00",
            "contract_type": "group_buy",
            "starts_on": "2026-12-01",
            "ends_on": "2027-11-30",
        },
    )
    @blp.response(200, LeadSchema)
    def post(self, body, merchant_id):
        """Sign a lead: final for its manager or ops; an owner's signing waits for their manager where required."""
        return _lead(
            service.sign(current_user(), current_tenant(), merchant_id, body["contract_no"], body["signed_at"], body)
        )


@blp.route("/mine")
class Mine(MethodView):
    @authenticated(blp)
    @blp.response(200, MyLeadsSchema)
    def get(self):
        """Your private pool, soonest drop first."""
        return json_response(queries.my_leads(current_user(), current_tenant()))


@blp.route("/public")
class PublicNearMe(MethodView):
    @authenticated(blp, errors=(*VALIDATION_ERRORS, InvalidCursor, InvalidAttributeFilter))
    @blp.arguments(PublicLeadsQueryArgsSchema, location="query", as_kwargs=True)
    @blp.response(200, NearbyPageSchema)
    def get(self, lat, lng, coord_sys, radius_m, limit, cursor=None, **filters):
        """Public-pool merchants near a position, nearest first (nearby with `sea=public`)."""
        query = merchants.NearbyQuery(
            lat=lat,
            lng=lng,
            coord_sys=coord_sys,
            radius_m=radius_m,
            limit=limit,
            cursor=cursor,
            filters=merchants.MerchantFilters(
                sea="public",
                category=filters.get("category"),
                tags=tuple(filters.get("tag") or ()),
                q=filters.get("q"),
                unvisited_days=filters.get("unvisited_days"),
                in_my_territory=filters.get("in_my_territory", False),
                attrs=tuple(sorted((filters.get("attr") or {}).items())),
            ),
        )
        return json_response(merchants.nearby(current_user(), current_tenant(), query))


@blp.route("/<id:merchant_id>/history")
class History(MethodView):
    @authenticated(blp, errors=(*VALIDATION_ERRORS, InvalidCursor, MerchantNotFound))
    @blp.arguments(LeadHistoryQueryArgsSchema, location="query", as_kwargs=True)
    @blp.response(200, LeadHistorySchema)
    def get(self, merchant_id, limit, cursor=None):
        """Every ownership change of a merchant's lead, oldest first, with who did it and why."""
        return json_response(queries.history(get_merchant(merchant_id).id, limit, cursor))
