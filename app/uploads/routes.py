"""Photo uploads for visits, and the signed photo URLs that phones and browsers load without a token."""

from __future__ import annotations

from flask import Response
from flask.views import MethodView

from app import clock
from app.api import Blueprint, document_errors
from app.auth.security import authenticated, current_tenant, current_user
from app.errors import (
    EmptyFile,
    PayloadTooLarge,
    PhotoNotFound,
    PhotoUrlExpired,
    PhotoUrlInvalid,
    UnsupportedMediaType,
    ValidationFailed,
)
from app.uploads import service, urls
from app.uploads.schemas import PhotoUrlQueryArgsSchema, UploadCreateSchema, UploadSchema

blp = Blueprint("uploads", __name__, url_prefix="/api/v1", description="Photos")

PHOTO_URL_ERRORS = (
    (ValidationFailed, "`expires` or `signature` is missing or malformed"),
    PhotoUrlInvalid,
    PhotoUrlExpired,
    PhotoNotFound,
)
BINARY = {"type": "string", "format": "binary"}


@blp.route("/uploads")
class Uploads(MethodView):
    @authenticated(
        blp,
        errors=(
            (PayloadTooLarge, "the photo is over 5 MB or 60 megapixels"),
            (UnsupportedMediaType, "the content is not a JPEG, PNG or HEIC image, or cannot be decoded"),
            (ValidationFailed, "no `file` part in the multipart body"),
            EmptyFile,
        ),
    )
    @blp.arguments(UploadCreateSchema, location="files")
    @blp.response(201, UploadSchema)
    def post(self, files):
        """Upload a photo (multipart/form-data, field `file`); returns the id to attach to a check-in."""
        upload = service.store(current_user(), current_tenant(), files["file"].read(service.MAX_BYTES + 1))
        return {**service.describe(upload), **urls.photo_links([upload.id])[0]}


def _image(data: bytes, content_type: str, etag: str, expires: int) -> Response:
    response = Response(data, mimetype=content_type)
    response.set_etag(etag)
    # the URL is private to whoever was given it; the browser may keep the bytes until the URL expires
    remaining = max(0, expires - int(clock.now().timestamp()))
    response.headers["Cache-Control"] = f"private, max-age={remaining}, immutable"
    response.headers["Content-Disposition"] = "inline"
    # loaded as <img src> by the managers' web console, which may be on another origin than the API
    response.headers["Cross-Origin-Resource-Policy"] = "cross-origin"
    response.expires = expires
    return response


@blp.route("/photos/<uuid:photo_id>")
class Photo(MethodView):
    @document_errors(blp, PHOTO_URL_ERRORS)
    @blp.arguments(PhotoUrlQueryArgsSchema, location="query")
    @blp.doc(
        responses={
            "200": {
                "description": "The photo, upright and without metadata (JPEG or PNG, as uploaded)",
                "content": {"image/jpeg": {"schema": BINARY}, "image/png": {"schema": BINARY}},
            }
        }
    )
    @blp.response(200, description="The photo", schema=BINARY, content_type="image/jpeg")
    def get(self, args, photo_id):
        """A photo, through the signed URL a visit answer carries (no bearer token)."""
        urls.check(photo_id, urls.PHOTO, args["expires"], args["signature"])
        upload = service.find(photo_id)
        return _image(service.photo_bytes(upload), upload.content_type, upload.sha256, args["expires"])


@blp.route("/photos/<uuid:photo_id>/thumbnail")
class PhotoThumbnail(MethodView):
    @document_errors(blp, PHOTO_URL_ERRORS)
    @blp.arguments(PhotoUrlQueryArgsSchema, location="query")
    @blp.response(
        200,
        description=f"A JPEG at most {service.THUMBNAIL_SIDE} px on its longest side",
        schema=BINARY,
        content_type="image/jpeg",
    )
    def get(self, args, photo_id):
        """A photo's thumbnail, through the signed URL a visit answer carries (no bearer token)."""
        urls.check(photo_id, urls.THUMBNAIL, args["expires"], args["signature"])
        upload = service.find(photo_id)
        return _image(service.thumbnail_bytes(upload), "image/jpeg", f"t-{upload.sha256}", args["expires"])
