"""What the photo upload takes and answers, and the signed photo links other answers carry."""

from __future__ import annotations

import marshmallow as ma
from flask_smorest.fields import Upload as UploadField
from marshmallow import validate


class UploadCreateSchema(ma.Schema):
    file = UploadField(required=True, metadata={"description": "JPEG, PNG or HEIC, at most 5 MB"})


class PhotoLinkSchema(ma.Schema):
    """A photo as other answers show it: signed URLs to load it without the bearer header, never its bytes."""

    id = ma.fields.String(required=True, metadata={"description": "The upload's id"})
    url = ma.fields.String(
        required=True,
        metadata={"description": "The photo (upright, no EXIF); works without a token until `expires_at`"},
    )
    thumbnail_url = ma.fields.String(
        required=True, metadata={"description": "A JPEG at most 320 px on its longest side"}
    )
    expires_at = ma.fields.DateTime(
        required=True,
        metadata={"description": "After this the URLs answer 403 `PHOTO_URL_EXPIRED`: fetch the list again"},
    )


class UploadSchema(PhotoLinkSchema):
    id = ma.fields.UUID(required=True, metadata={"description": "Use it in `photo_ids` of a check-in"})
    sha256 = ma.fields.String(required=True)
    content_type = ma.fields.String(
        required=True,
        metadata={
            "enum": ["image/jpeg", "image/png"],
            "description": "Of the stored, re-encoded image (HEIC becomes JPEG)",
        },
    )
    size = ma.fields.Integer(required=True)
    width = ma.fields.Integer(required=True, allow_none=True, metadata={"description": "Upright, in pixels"})
    height = ma.fields.Integer(required=True, allow_none=True)
    taken_at = ma.fields.DateTime(
        required=True, allow_none=True, metadata={"description": "The capture time the photo's EXIF gave (UTC)"}
    )
    taken_lat = ma.fields.Float(
        required=True, allow_none=True, metadata={"description": "Where the photo's EXIF GPS says it was taken (WGS84)"}
    )
    taken_lng = ma.fields.Float(required=True, allow_none=True)


class PhotoUrlQueryArgsSchema(ma.Schema):
    expires = ma.fields.Integer(
        required=True,
        validate=validate.Range(min=0, max=2**53),
        metadata={"description": "Unix time the URL stops working (part of the signed URL)"},
    )
    signature = ma.fields.String(
        required=True,
        validate=validate.Length(min=1, max=100),
        metadata={"description": "The URL's HMAC signature (part of the signed URL)"},
    )
