"""Org tree and user administration (admins: the tenant; managers: their subtree; ops: read)."""

from __future__ import annotations

from flask.views import MethodView

from app.admin import service as admin
from app.admin.schemas import (
    DeactivateSchema,
    DeactivationSchema,
    OrgUnitCreateSchema,
    OrgUnitPageSchema,
    OrgUnitQueryArgsSchema,
    OrgUnitSchema,
    OrgUnitUpdateSchema,
    UserCreateSchema,
    UserPageSchema,
    UserQueryArgsSchema,
    UserSchema,
    UserUpdateSchema,
)
from app.api import VALIDATION_ERRORS, Blueprint
from app.auth.security import authenticated, current_tenant, current_user
from app.errors import (
    InvalidCursor,
    OrgCycle,
    OrgUnitExists,
    OrgUnitNotFound,
    SelfDemotion,
    UnknownOrgUnit,
    UnknownUsers,
    UserExists,
    UserNotFound,
)
from app.json import json_response
from app.org.models import Role

blp = Blueprint("org", __name__, url_prefix="/api/v1", description="Org tree and users (admin)")

EDITORS = (Role.MANAGER, Role.ADMIN)
READERS = (Role.MANAGER, Role.OPS, Role.ADMIN)
UNKNOWN = (UnknownOrgUnit, UnknownUsers)
UNIT_EXAMPLE = {"id": 9, "name": "Hubin", "kind": "subteam", "parent_id": 4, "path": "/1/4/9/", "manager_id": 12}
USER_EXAMPLE = {
    "id": 31,
    "username": "li.wei",
    "display_name": "李伟",
    "role": "bd",
    "org_unit_id": 9,
    "manager_id": 12,
    "phone": "+86 138 0000 1111",
    "is_active": True,
    "deactivated_at": None,
}


@blp.route("/org/units")
class OrgUnits(MethodView):
    @authenticated(blp, *READERS, errors=(*VALIDATION_ERRORS, InvalidCursor))
    @blp.arguments(OrgUnitQueryArgsSchema, location="query", as_kwargs=True)
    @blp.response(200, OrgUnitPageSchema)
    def get(self, limit, cursor=None):
        """Org units you can see, root first (managers: their subtree)."""
        return json_response(admin.list_units(current_user(), limit, cursor))

    @authenticated(blp, *EDITORS, errors=(*VALIDATION_ERRORS, *UNKNOWN, OrgUnitExists))
    @blp.arguments(OrgUnitCreateSchema, example={"name": "Hubin", "kind": "subteam", "parent_id": 4})
    @blp.response(201, OrgUnitSchema, example=UNIT_EXAMPLE)
    def post(self, fields):
        """Create an org unit (managers: under their own subtree)."""
        return json_response(admin.create_unit(current_user(), fields), 201)


@blp.route("/org/units/<id:unit_id>")
class OrgUnitItem(MethodView):
    @authenticated(blp, *EDITORS, errors=(*VALIDATION_ERRORS, OrgUnitNotFound, *UNKNOWN, OrgCycle, OrgUnitExists))
    @blp.arguments(OrgUnitUpdateSchema, example={"parent_id": 5})
    @blp.response(200, OrgUnitSchema, example=UNIT_EXAMPLE)
    def patch(self, fields, unit_id):
        """Rename a unit, set its manager, or move it with its subtree."""
        return json_response(admin.update_unit(current_user(), unit_id, fields))


@blp.route("/users")
class Users(MethodView):
    @authenticated(blp, *READERS, errors=(*VALIDATION_ERRORS, InvalidCursor))
    @blp.arguments(UserQueryArgsSchema, location="query")
    @blp.response(200, UserPageSchema)
    def get(self, filters):
        """Users you can see (managers: the people they manage and themselves)."""
        return json_response(admin.list_users(current_user(), filters))

    @authenticated(blp, *EDITORS, errors=(*VALIDATION_ERRORS, *UNKNOWN, UserExists))
    @blp.arguments(
        UserCreateSchema,
        example={
            "username": "li.wei",
            "password": "change-me-now",
            "role": "bd",
            "display_name": "李伟",
            "org_unit_id": 9,
        },
    )
    @blp.response(201, UserSchema, example=USER_EXAMPLE)
    def post(self, fields):
        """Create a user (managers: BDs in their subtree, managed by them unless told otherwise)."""
        return json_response(admin.create_user(current_user(), fields), 201)


@blp.route("/users/<id:user_id>")
class UserItem(MethodView):
    @authenticated(blp, *READERS, errors=(UserNotFound,))
    @blp.response(200, UserSchema, example=USER_EXAMPLE)
    def get(self, user_id):
        """One user."""
        return json_response(admin.get_user(current_user(), user_id))

    @authenticated(blp, *EDITORS, errors=(*VALIDATION_ERRORS, UserNotFound, *UNKNOWN, SelfDemotion))
    @blp.arguments(UserUpdateSchema, example={"org_unit_id": 10, "display_name": "李伟 (Binjiang)"})
    @blp.response(200, UserSchema, example=USER_EXAMPLE)
    def patch(self, fields, user_id):
        """Update a user: details, move to another unit or manager, role (admins), password reset."""
        return json_response(admin.update_user(current_user(), user_id, fields))


@blp.route("/users/<id:user_id>/deactivate")
class Deactivate(MethodView):
    @authenticated(blp, *EDITORS, errors=(*VALIDATION_ERRORS, UserNotFound))
    @blp.arguments(DeactivateSchema, example={"reason": "left the company"})
    @blp.response(
        200,
        DeactivationSchema,
        example={
            "user": {**USER_EXAMPLE, "is_active": False, "deactivated_at": "2026-11-21T10:00:00+00:00"},
            "already_inactive": False,
            "sessions_revoked": 2,
            "devices_disabled": 1,
            "leads_to_public": 37,
            "leads_to_manager": 0,
            "heir_id": None,
            "territories_left": 1,
        },
    )
    def post(self, body, user_id):
        """Deactivate a user: tokens revoked, devices off, private leads back to the pool (or the manager)."""
        return json_response(admin.deactivate_user(current_user(), current_tenant(), user_id, body.get("reason")))
