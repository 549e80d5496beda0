"""Territories: drawn by managers, worked by BDs."""

from __future__ import annotations

from flask.views import MethodView

from app.api import VALIDATION_ERRORS, Blueprint
from app.auth.security import authenticated, current_tenant, current_user
from app.errors import InvalidCursor, InvalidGeometry, TeamNotFound, TerritoryExists, TerritoryNotFound, UnknownUsers
from app.json import json_response
from app.org.models import Role
from app.territories import service
from app.territories.schemas import (
    POLYGON_EXAMPLE,
    MembersSchema,
    TerritoryCreateSchema,
    TerritoryPageSchema,
    TerritoryQueryArgsSchema,
    TerritorySchema,
    TerritoryUpdateSchema,
)

blp = Blueprint("territories", __name__, url_prefix="/api/v1/territories", description="Territories on the map")

EDITORS = (Role.MANAGER, Role.ADMIN)
TERRITORY_EXAMPLE = {
    "id": 7,
    "name": "West Lake",
    "team_id": 3,
    "area_m2": 14_412_345.6,
    "vertices": 4,
    "member_ids": [11, 12],
    "created_at": "2026-11-20T09:00:00+00:00",
    "geometry": {"type": "MultiPolygon", "coordinates": [POLYGON_EXAMPLE["coordinates"]]},
    "overlaps": [{"id": 5, "name": "Hubin", "overlap_m2": 120_340.0}],
}


@blp.route("")
class Territories(MethodView):
    @authenticated(blp, errors=(*VALIDATION_ERRORS, InvalidCursor))
    @blp.arguments(TerritoryQueryArgsSchema, location="query", as_kwargs=True)
    @blp.response(200, TerritoryPageSchema)
    def get(self, limit, cursor=None, team_id=None, user_id=None):
        """Territories you can see: yours (BDs), your subtree's (managers), all (ops, admins); by name."""
        return service.list_territories(current_user(), team_id=team_id, user_id=user_id, limit=limit, cursor=cursor)

    @authenticated(blp, *EDITORS, errors=(*VALIDATION_ERRORS, InvalidGeometry, TeamNotFound, TerritoryExists))
    @blp.arguments(TerritoryCreateSchema, example={"name": "West Lake", "team_id": 3, "geometry": POLYGON_EXAMPLE})
    @blp.response(201, TerritorySchema, example=TERRITORY_EXAMPLE)
    def post(self, fields):
        """Draw a territory for a team; overlaps with the team's other territories are reported."""
        return json_response(service.create(current_user(), current_tenant(), fields), 201)


@blp.route("/<id:territory_id>")
class TerritoryItem(MethodView):
    @authenticated(blp, errors=(TerritoryNotFound,))
    @blp.response(200, TerritorySchema, example={k: v for k, v in TERRITORY_EXAMPLE.items() if k != "overlaps"})
    def get(self, territory_id):
        """One territory with its boundary and BDs."""
        return json_response(service.view(service.get_visible(current_user(), territory_id)))

    @authenticated(
        blp, *EDITORS, errors=(*VALIDATION_ERRORS, TerritoryNotFound, InvalidGeometry, TeamNotFound, TerritoryExists)
    )
    @blp.arguments(TerritoryUpdateSchema, example={"geometry": POLYGON_EXAMPLE})
    @blp.response(200, TerritorySchema, example=TERRITORY_EXAMPLE)
    def patch(self, fields, territory_id):
        """Rename, redraw or hand a territory to another team; only the fields sent change."""
        return json_response(service.update(current_user(), current_tenant(), territory_id, fields))

    @authenticated(blp, *EDITORS, errors=(TerritoryNotFound,))
    @blp.response(204)
    def delete(self, territory_id):
        """Delete a territory (its BD assignments go with it; merchants are untouched)."""
        service.remove(current_user(), territory_id)


@blp.route("/<id:territory_id>/members")
class TerritoryMembers(MethodView):
    @authenticated(blp, *EDITORS, errors=(*VALIDATION_ERRORS, TerritoryNotFound, UnknownUsers))
    @blp.arguments(MembersSchema, example={"user_ids": [11, 12]})
    @blp.response(200, TerritorySchema, example={k: v for k, v in TERRITORY_EXAMPLE.items() if k != "overlaps"})
    def put(self, body, territory_id):
        """Assign BDs to a territory (replaces the list)."""
        return json_response(service.set_members(current_user(), territory_id, body["user_ids"]))
