"""Request and response schemas for the org tree and user administration."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from app.org.models import OrgKind, Role
from app.schemas import ID, PageQueryArgsSchema, PageSchema

ROLES = [role.value for role in Role]


class OrgUnitCreateSchema(ma.Schema):
    name = ma.fields.String(required=True, validate=validate.Length(min=1, max=200), metadata={"example": "Hubin"})
    kind = ma.fields.String(required=True, validate=validate.OneOf([k.value for k in OrgKind]))
    parent_id = ma.fields.Integer(
        load_default=None,
        allow_none=True,
        validate=ID,
        metadata={"description": "None: a top-level unit (admins only)"},
    )
    manager_id = ma.fields.Integer(load_default=None, allow_none=True, validate=ID)


class OrgUnitUpdateSchema(ma.Schema):
    name = ma.fields.String(validate=validate.Length(min=1, max=200))
    parent_id = ma.fields.Integer(
        allow_none=True,
        validate=ID,
        metadata={"description": "Move the unit, with its whole subtree, under another unit"},
    )
    manager_id = ma.fields.Integer(allow_none=True, validate=ID)


class OrgUnitSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    name = ma.fields.String(required=True)
    kind = ma.fields.String(required=True)
    parent_id = ma.fields.Integer(required=True, allow_none=True)
    path = ma.fields.String(required=True, metadata={"description": "Ids from the root, e.g. `/1/4/9/`"})
    manager_id = ma.fields.Integer(required=True, allow_none=True)


class OrgUnitPageSchema(PageSchema):
    items = ma.fields.List(ma.fields.Nested(OrgUnitSchema), required=True)


class OrgUnitQueryArgsSchema(PageQueryArgsSchema):
    pass


PASSWORD_RULES = "At least 8 characters; not the username, nor one of the most common passwords (in any case)."


class UserCreateSchema(ma.Schema):
    username = ma.fields.String(
        required=True, validate=validate.Regexp(r"^[A-Za-z0-9_.@-]{3,80}$"), metadata={"example": "li.wei"}
    )
    password = ma.fields.String(
        required=True,
        load_only=True,
        validate=validate.Length(min=8, max=200),
        metadata={"description": PASSWORD_RULES},
    )
    display_name = ma.fields.String(load_default="", validate=validate.Length(max=200))
    role = ma.fields.String(required=True, validate=validate.OneOf(ROLES))
    org_unit_id = ma.fields.Integer(load_default=None, allow_none=True, validate=ID)
    manager_id = ma.fields.Integer(
        load_default=None, allow_none=True, validate=ID, metadata={"description": "Defaults to the creating manager"}
    )
    phone = ma.fields.String(load_default=None, allow_none=True, validate=validate.Length(max=40))


RANK = ma.fields.String(
    allow_none=True,
    validate=validate.Length(min=1, max=40),
    metadata={"description": "A label (e.g. `senior`) that `pool.claim_caps.ranks` may give its own claim cap"},
)


class UserUpdateSchema(ma.Schema):
    display_name = ma.fields.String(validate=validate.Length(max=200))
    phone = ma.fields.String(allow_none=True, validate=validate.Length(max=40))
    rank = RANK
    role = ma.fields.String(validate=validate.OneOf(ROLES), metadata={"description": "Admins only"})
    org_unit_id = ma.fields.Integer(allow_none=True, validate=ID, metadata={"description": "Move the user"})
    manager_id = ma.fields.Integer(allow_none=True, validate=ID)
    password = ma.fields.String(
        load_only=True,
        validate=validate.Length(min=8, max=200),
        metadata={"description": f"A reset: the user's sessions end. {PASSWORD_RULES}"},
    )


class UserQueryArgsSchema(PageQueryArgsSchema):
    role = ma.fields.String(validate=validate.OneOf(ROLES))
    org_unit_id = ma.fields.Integer(validate=ID)
    active = ma.fields.Boolean()


class UserSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    username = ma.fields.String(required=True)
    display_name = ma.fields.String(required=True)
    role = ma.fields.String(required=True)
    org_unit_id = ma.fields.Integer(required=True, allow_none=True)
    manager_id = ma.fields.Integer(required=True, allow_none=True)
    phone = ma.fields.String(required=True, allow_none=True)
    rank = ma.fields.String(required=True, allow_none=True)
    is_active = ma.fields.Boolean(required=True)
    deactivated_at = ma.fields.DateTime(required=True, allow_none=True)


class UserPageSchema(PageSchema):
    items = ma.fields.List(ma.fields.Nested(UserSchema), required=True)


class DeactivateSchema(ma.Schema):
    reason = ma.fields.String(load_default=None, allow_none=True, validate=validate.Length(max=300))


class DeactivationSchema(ma.Schema):
    user = ma.fields.Nested(UserSchema, required=True)
    already_inactive = ma.fields.Boolean(required=True)
    sessions_revoked = ma.fields.Integer(required=True)
    devices_disabled = ma.fields.Integer(required=True)
    leads_to_public = ma.fields.Integer(required=True)
    leads_to_manager = ma.fields.Integer(required=True)
    heir_id = ma.fields.Integer(
        required=True,
        allow_none=True,
        metadata={"description": "The manager who received the leads (tenant setting `pool.on_deactivate: manager`)"},
    )
    territories_left = ma.fields.Integer(required=True)
