"""Push tokens of the signed-in user's phones."""

from __future__ import annotations

import marshmallow as ma
from flask import g
from flask.views import MethodView
from marshmallow import validate

from app.api import VALIDATION_ERRORS, Blueprint
from app.auth.security import authenticated, current_user
from app.devices import service
from app.errors import DeviceNotFound

blp = Blueprint("devices", __name__, url_prefix="/api/v1/devices", description="Push devices")

TOKEN = validate.Regexp(r"^[A-Za-z0-9_:\-\.]{20,4096}$", error="Not an FCM registration token.")


class DeviceInSchema(ma.Schema):
    token = ma.fields.String(required=True, validate=TOKEN, metadata={"description": "The FCM registration token"})
    platform = ma.fields.String(required=True, validate=validate.OneOf(["android", "ios", "web"]))
    app_version = ma.fields.String(load_default=None, allow_none=True, validate=validate.Length(max=40))


class DeviceSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    platform = ma.fields.String(required=True)
    app_version = ma.fields.String(allow_none=True, required=True)
    last_seen_at = ma.fields.DateTime(required=True)


@blp.route("")
class Devices(MethodView):
    @authenticated(blp, errors=VALIDATION_ERRORS)
    @blp.arguments(DeviceInSchema, example={"token": "fGx3...:APA91bH...", "platform": "android", "app_version": "3.2.0"})
    @blp.response(200, DeviceSchema)
    def post(self, body):
        """Register this phone's push token (call at every app start and when FCM rotates the token)."""
        return service.register(current_user(), g.auth_session_id, body["token"], body["platform"],
                                body["app_version"])


@blp.route("/<path:token>")
class DeviceItem(MethodView):
    @authenticated(blp, errors=(DeviceNotFound,))
    @blp.response(204)
    def delete(self, token):
        """Stop pushes to this phone."""
        service.unregister(current_user(), token)
