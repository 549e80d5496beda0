"""What registering a push device takes and answers."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

TOKEN = validate.Regexp(r"^[A-Za-z0-9_:\-\.]{20,4096}$", error="Not an FCM registration token.")


class DeviceCreateSchema(ma.Schema):
    token = ma.fields.String(required=True, validate=TOKEN, metadata={"description": "The FCM registration token"})
    platform = ma.fields.String(required=True, validate=validate.OneOf(["android", "ios", "web"]))
    app_version = ma.fields.String(load_default=None, allow_none=True, validate=validate.Length(max=40))


class DeviceSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    platform = ma.fields.String(required=True)
    app_version = ma.fields.String(allow_none=True, required=True)
    last_seen_at = ma.fields.DateTime(required=True)
