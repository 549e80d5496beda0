"""Merchants around the BD: the nearby list and the map."""

from __future__ import annotations

from flask import request
from flask.views import MethodView

from app.api import VALIDATION_ERRORS, Blueprint
from app.auth.security import authenticated, current_tenant, current_user
from app.errors import (
    BboxTooLarge,
    ContactNotFound,
    InvalidAttributeFilter,
    InvalidAttributes,
    InvalidCursor,
    MerchantNotFound,
    NotAllowedForLead,
    ValidationFailed,
)
from app.json import json_response
from app.merchants import queries, service
from app.merchants.examples import (
    CHANGES_EXAMPLE,
    DETAIL_EXAMPLE,
    MAP_CLUSTERS_EXAMPLE,
    MAP_PINS_EXAMPLE,
    NEARBY_EXAMPLE,
)
from app.merchants.models import get_merchant
from app.merchants.schemas import (
    ChangesQueryArgsSchema,
    ContactCreateSchema,
    ContactSchema,
    ContactUpdateSchema,
    DetailQueryArgsSchema,
    MapQueryArgsSchema,
    MapSchema,
    MerchantAttributesResultSchema,
    MerchantAttributesSchema,
    MerchantChangesSchema,
    MerchantDetailSchema,
    NearbyPageSchema,
    NearbyQueryArgsSchema,
)

blp = Blueprint("merchants", __name__, url_prefix="/api/v1/merchants", description="Merchants (POIs)")


def _filters(args: dict) -> queries.MerchantFilters:
    return queries.MerchantFilters(
        sea=args["sea"].value,
        category=args.get("category"),
        tags=tuple(dict.fromkeys(args.get("tag") or ())),
        q=args.get("q"),
        unvisited_days=args.get("unvisited_days"),
        in_my_territory=args.get("in_my_territory", False),
        attrs=tuple(sorted((args.get("attr") or {}).items())),
    )


@blp.route("/nearby")
class Nearby(MethodView):
    @authenticated(blp, errors=(*VALIDATION_ERRORS, InvalidCursor, InvalidAttributeFilter))
    @blp.arguments(NearbyQueryArgsSchema, location="query", as_kwargs=True)
    @blp.response(200, NearbyPageSchema, example=NEARBY_EXAMPLE)
    def get(self, lat, lng, coord_sys, radius_m, limit, cursor=None, **filters):
        """Merchants nearest to a position, with lead status, nearest first (keyset paging)."""
        query = queries.NearbyQuery(
            lat=lat,
            lng=lng,
            coord_sys=coord_sys,
            radius_m=radius_m,
            limit=limit,
            cursor=cursor,
            filters=_filters(filters),
        )
        return json_response(queries.nearby(current_user(), current_tenant(), query))


@blp.route("/map")
class MerchantMap(MethodView):
    @authenticated(blp, errors=(*VALIDATION_ERRORS, BboxTooLarge, InvalidAttributeFilter))
    @blp.arguments(MapQueryArgsSchema, location="query", as_kwargs=True)
    @blp.response(
        200,
        MapSchema,
        examples={
            "clusters": {"summary": "A dense box at zoom 15", "value": MAP_CLUSTERS_EXAMPLE},
            "pins": {"summary": "At most 500 merchants match", "value": MAP_PINS_EXAMPLE},
        },
    )
    def get(self, bbox, zoom, coord_sys, **filters):
        """Merchants in a map box: up to 500 pins, or server-side clusters sized by zoom."""
        return json_response(
            queries.map_view(current_user(), current_tenant(), bbox, zoom, coord_sys, _filters(filters))
        )


@blp.route("/<id:merchant_id>")
class MerchantDetail(MethodView):
    @authenticated(blp, errors=(*VALIDATION_ERRORS, MerchantNotFound))
    @blp.arguments(DetailQueryArgsSchema, location="query", as_kwargs=True)
    @blp.response(
        200,
        MerchantDetailSchema,
        example=DETAIL_EXAMPLE,
        headers={
            "ETag": {
                "description": "Send it back as `If-None-Match` to get a 304 when nothing changed",
                "schema": {"type": "string"},
            }
        },
    )
    @blp.alt_response(304, description="Not modified since the ETag sent in `If-None-Match`")
    def get(self, merchant_id, coord_sys):
        """Everything about one merchant: info, contacts, visits, sales, competitors, pool status, tasks."""
        payload = queries.merchant_detail(current_user(), current_tenant(), merchant_id, coord_sys)
        response = json_response(payload)
        response.add_etag()
        return response.make_conditional(request)


@blp.route("/<id:merchant_id>/contacts")
class Contacts(MethodView):
    @authenticated(blp, errors=(*VALIDATION_ERRORS, MerchantNotFound, NotAllowedForLead))
    @blp.arguments(
        ContactCreateSchema,
        example={
            "name": "王芳",
            "title": "店长",
            "role": "decision_maker",
            "phones": ["+86 138 1234 5678"],
            "is_key_person": True,
        },
    )
    @blp.response(201, ContactSchema)
    def post(self, fields, merchant_id):
        """Add a key person (the lead's owner, their managers, ops)."""
        return service.create_contact(current_user(), merchant_id, fields)


@blp.route("/<id:merchant_id>/attributes")
class MerchantAttributes(MethodView):
    @authenticated(blp, errors=(*VALIDATION_ERRORS, InvalidAttributes, MerchantNotFound, NotAllowedForLead))
    @blp.arguments(MerchantAttributesSchema, example={"attributes": {"seats": 140, "cuisine": None}})
    @blp.response(200, MerchantAttributesResultSchema, example={"id": 812, "attributes": {"seats": 140}})
    def patch(self, fields, merchant_id):
        """Set or clear the merchant's custom-field values (validated against the business line's schema)."""
        return service.update_attributes(
            current_user(), current_tenant().settings or {}, merchant_id, fields["attributes"]
        )


@blp.route("/<id:merchant_id>/contacts/<id:contact_id>")
class ContactItem(MethodView):
    @authenticated(blp, errors=(*VALIDATION_ERRORS, MerchantNotFound, ContactNotFound, NotAllowedForLead))
    @blp.arguments(ContactUpdateSchema, example={"title": "老板", "last_contacted_at": "2026-11-20T10:00:00+08:00"})
    @blp.response(200, ContactSchema)
    def patch(self, fields, merchant_id, contact_id):
        """Change a key person's details; only the fields sent change."""
        return service.update_contact(current_user(), merchant_id, contact_id, fields)

    @authenticated(blp, errors=(MerchantNotFound, ContactNotFound, NotAllowedForLead))
    @blp.response(204)
    def delete(self, merchant_id, contact_id):
        """Remove a key person."""
        service.delete_contact(current_user(), merchant_id, contact_id)


@blp.route("/<id:merchant_id>/contacts/<id:contact_id>/verify")
class ContactVerification(MethodView):
    @authenticated(blp, errors=(MerchantNotFound, ContactNotFound, NotAllowedForLead))
    @blp.response(200, ContactSchema)
    def post(self, merchant_id, contact_id):
        """Accept a contact sent by self-onboarding (shown as unverified until then); delete it to reject it."""
        return service.verify_contact(current_user(), merchant_id, contact_id)


@blp.route("/<id:merchant_id>/changes")
class MerchantChanges(MethodView):
    @authenticated(
        blp,
        errors=(
            (ValidationFailed, "a query parameter is invalid"),
            InvalidCursor,
            MerchantNotFound,
            (NotAllowedForLead, "the merchant is another team's private lead or partner"),
        ),
    )
    @blp.arguments(ChangesQueryArgsSchema, location="query", as_kwargs=True)
    @blp.response(200, MerchantChangesSchema, example=CHANGES_EXAMPLE)
    def get(self, merchant_id, coord_sys, limit, cursor=None):
        """Every change of the merchant's fields (correction, import, merge, edit): who, when, before and after."""
        merchant = get_merchant(merchant_id)
        show_phones = service.changes_viewer(current_user(), merchant)
        return json_response(
            queries.merchant_changes(
                merchant.id, current_tenant().id, coord_sys, limit, cursor, show_phones=show_phones
            )
        )
