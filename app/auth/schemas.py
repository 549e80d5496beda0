from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from app.i18n import SUPPORTED_LOCALES
from app.org.models import OrgKind, Role


class LoginSchema(ma.Schema):
    username = ma.fields.String(required=True, validate=validate.Length(min=1, max=80), metadata={"example": "bd1"})
    password = ma.fields.String(
        required=True, load_only=True, validate=validate.Length(min=1, max=200), metadata={"example": "demo-pass-1"}
    )
    tenant = ma.fields.String(
        validate=validate.Length(min=1, max=64),
        metadata={
            "description": "Tenant slug; needed only when the username exists in several business lines",
            "example": "demo",
        },
    )


class PasswordChangeSchema(ma.Schema):
    old_password = ma.fields.String(
        required=True,
        load_only=True,
        validate=validate.Length(min=1, max=200),
        metadata={"description": "The current password", "example": "demo-pass-1"},
    )
    new_password = ma.fields.String(
        required=True,
        load_only=True,
        validate=validate.Length(min=8, max=200),
        metadata={
            "description": "At least 8 characters; not the username, nor one of the most common passwords (in any "
            "case)",
            "example": "a-new-long-pass-2",
        },
    )


class PasswordChangedSchema(ma.Schema):
    sessions_ended = ma.fields.Integer(
        required=True, metadata={"description": "How many other sessions (other phones, browsers) were signed out"}
    )


class UserSummarySchema(ma.Schema):
    id = ma.fields.Integer(required=True, metadata={"example": 3})
    username = ma.fields.String(required=True, metadata={"example": "bd1"})
    role = ma.fields.Enum(Role, by_value=True, required=True, metadata={"example": "bd"})
    tenant_id = ma.fields.Integer(required=True, metadata={"example": 1})


class TokenPairSchema(ma.Schema):
    access_token = ma.fields.String(required=True, metadata={"description": "JWT, valid 15 minutes"})
    refresh_token = ma.fields.String(
        required=True, metadata={"description": "JWT, valid 30 days, single use: each refresh returns a new one"}
    )
    token_type = ma.fields.Constant("Bearer", required=True)
    expires_in = ma.fields.Integer(required=True, metadata={"description": "Access token lifetime in seconds"})
    user = ma.fields.Nested(UserSummarySchema, required=True)


class OrgUnitRefSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    name = ma.fields.String(required=True)
    kind = ma.fields.Enum(OrgKind, by_value=True, required=True)


class TenantRefSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    slug = ma.fields.String(required=True)
    name = ma.fields.String(required=True)


class MeSchema(UserSummarySchema):
    display_name = ma.fields.String(required=True, metadata={"example": "Aino Virtanen"})
    locale = ma.fields.String(
        required=True,
        validate=validate.OneOf(SUPPORTED_LOCALES),
        metadata={"description": "The language of your pushes and to-dos: your choice, else the business line's"},
    )
    preferred_locale = ma.fields.String(
        required=True,
        allow_none=True,
        validate=validate.OneOf(SUPPORTED_LOCALES),
        metadata={"description": "Your own choice (`PATCH /me`); null: the business line's default"},
    )
    manager_id = ma.fields.Integer(allow_none=True, required=True)
    tenant = ma.fields.Nested(TenantRefSchema, required=True)
    org_unit = ma.fields.Nested(OrgUnitRefSchema, allow_none=True, required=True)


class MeUpdateSchema(ma.Schema):
    preferred_locale = ma.fields.String(
        allow_none=True,
        validate=validate.OneOf(SUPPORTED_LOCALES),
        metadata={"description": "`zh-CN` or `en`; null: follow the business line's default", "example": "zh-CN"},
    )
