"""Merchants around the BD: the nearby list and the map."""

from __future__ import annotations

from flask import current_app
from flask.views import MethodView

from app.api import VALIDATION_ERRORS, Blueprint
from app.auth.security import authenticated, current_tenant, current_user
from app.json import dumps_bytes
from app.merchants import service
from app.merchants.examples import MAP_CLUSTERS_EXAMPLE, MAP_PINS_EXAMPLE, NEARBY_EXAMPLE
from app.merchants.schemas import MapQueryArgsSchema, MapSchema, NearbyPageSchema, NearbyQueryArgsSchema

blp = Blueprint("merchants", __name__, url_prefix="/api/v1/merchants", description="Merchants (POIs)")

CURSOR_ERROR = (422, "INVALID_CURSOR", "the cursor is malformed or belongs to another query")
BBOX_ERROR = (422, "BBOX_TOO_LARGE", "the box is wider than a city (50 km)")


def _json(payload: dict):  # noqa: ANN202 - a Response; orjson is several times faster than a schema dump here
    return current_app.response_class(dumps_bytes(payload), mimetype="application/json")


def _filters(args: dict) -> service.MerchantFilters:
    return service.MerchantFilters(
        sea=args["sea"].value,
        category=args.get("category"),
        tags=tuple(dict.fromkeys(args.get("tag") or ())),
        q=args.get("q"),
        unvisited_days=args.get("unvisited_days"),
    )


@blp.route("/nearby")
class Nearby(MethodView):
    @authenticated(blp, errors=(*VALIDATION_ERRORS, CURSOR_ERROR))
    @blp.arguments(NearbyQueryArgsSchema, location="query", as_kwargs=True)
    @blp.response(200, NearbyPageSchema, example=NEARBY_EXAMPLE)
    def get(self, lat, lng, coord_sys, radius_m, limit, cursor=None, **filters):
        """Merchants nearest to a position, with lead status, nearest first (keyset paging)."""
        query = service.NearbyQuery(
            lat=lat, lng=lng, coord_sys=coord_sys, radius_m=radius_m, limit=limit, cursor=cursor,
            filters=_filters(filters),
        )
        return _json(service.nearby(current_user(), current_tenant(), query))


@blp.route("/map")
class MerchantMap(MethodView):
    @authenticated(blp, errors=(*VALIDATION_ERRORS, BBOX_ERROR))
    @blp.arguments(MapQueryArgsSchema, location="query", as_kwargs=True)
    @blp.response(200, MapSchema, examples={
        "clusters": {"summary": "A dense box at zoom 15", "value": MAP_CLUSTERS_EXAMPLE},
        "pins": {"summary": "At most 500 merchants match", "value": MAP_PINS_EXAMPLE},
    })
    def get(self, bbox, zoom, coord_sys, **filters):
        """Merchants in a map box: up to 500 pins, or server-side clusters sized by zoom."""
        return _json(service.map_view(current_user(), current_tenant(), bbox, zoom, coord_sys, _filters(filters)))
