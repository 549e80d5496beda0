"""Photo uploads for visits."""

from __future__ import annotations

import marshmallow as ma
from flask.views import MethodView
from flask_smorest.fields import Upload as UploadField

from app.api import Blueprint
from app.auth.security import authenticated, current_user
from app.errors import EmptyFile, PayloadTooLarge, UnsupportedMediaType, ValidationFailed
from app.uploads import service

blp = Blueprint("uploads", __name__, url_prefix="/api/v1/uploads", description="Photos")


class UploadArgsSchema(ma.Schema):
    file = UploadField(required=True, metadata={"description": "JPEG, PNG or HEIC, at most 5 MB"})


class UploadSchema(ma.Schema):
    id = ma.fields.UUID(required=True, metadata={"description": "Use it in `photo_ids` of a check-in"})
    sha256 = ma.fields.String(required=True)
    content_type = ma.fields.String(required=True, metadata={"enum": ["image/jpeg", "image/png", "image/heic"]})
    size = ma.fields.Integer(required=True)


@blp.route("")
class Uploads(MethodView):
    @authenticated(blp, errors=(
        (PayloadTooLarge, "the photo is over 5 MB"),
        (UnsupportedMediaType, "the content is not a JPEG, PNG or HEIC image"),
        (ValidationFailed, "no `file` part in the multipart body"),
        EmptyFile,
    ))
    @blp.arguments(UploadArgsSchema, location="files")
    @blp.response(201, UploadSchema)
    def post(self, files):
        """Upload a photo (multipart/form-data, field `file`); returns the id to attach to a check-in."""
        return service.store(current_user(), files["file"].read(service.MAX_BYTES + 1))
