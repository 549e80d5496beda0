"""Photo uploads for visits."""

from __future__ import annotations

from flask.views import MethodView

from app.api import Blueprint
from app.auth.security import authenticated, current_user
from app.errors import EmptyFile, PayloadTooLarge, UnsupportedMediaType, ValidationFailed
from app.uploads import service
from app.uploads.schemas import UploadCreateSchema, UploadSchema

blp = Blueprint("uploads", __name__, url_prefix="/api/v1/uploads", description="Photos")


@blp.route("")
class Uploads(MethodView):
    @authenticated(
        blp,
        errors=(
            (PayloadTooLarge, "the photo is over 5 MB"),
            (UnsupportedMediaType, "the content is not a JPEG, PNG or HEIC image"),
            (ValidationFailed, "no `file` part in the multipart body"),
            EmptyFile,
        ),
    )
    @blp.arguments(UploadCreateSchema, location="files")
    @blp.response(201, UploadSchema)
    def post(self, files):
        """Upload a photo (multipart/form-data, field `file`); returns the id to attach to a check-in."""
        return service.store(current_user(), files["file"].read(service.MAX_BYTES + 1))
