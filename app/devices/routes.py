"""Push tokens of the signed-in user's phones."""

from __future__ import annotations

from flask import g
from flask.views import MethodView

from app.api import VALIDATION_ERRORS, Blueprint
from app.auth.security import authenticated, current_user
from app.devices import service
from app.devices.schemas import DeviceCreateSchema, DeviceSchema
from app.errors import DeviceNotFound

blp = Blueprint("devices", __name__, url_prefix="/api/v1/devices", description="Push devices")


@blp.route("")
class Devices(MethodView):
    @authenticated(blp, errors=VALIDATION_ERRORS)
    @blp.arguments(
        DeviceCreateSchema, example={"token": "fGx3...:APA91bH...", "platform": "android", "app_version": "3.2.0"}
    )
    @blp.response(200, DeviceSchema)
    def post(self, body):
        """Register this phone's push token (call at every app start and when FCM rotates the token)."""
        return service.register(current_user(), g.auth_session_id, body["token"], body["platform"], body["app_version"])


@blp.route("/<path:token>")
class DeviceItem(MethodView):
    @authenticated(blp, errors=(DeviceNotFound,))
    @blp.response(204)
    def delete(self, token):
        """Stop pushes to this phone."""
        service.unregister(current_user(), token)
