"""What the photo upload takes and answers."""

from __future__ import annotations

import marshmallow as ma
from flask_smorest.fields import Upload as UploadField


class UploadCreateSchema(ma.Schema):
    file = UploadField(required=True, metadata={"description": "JPEG, PNG or HEIC, at most 5 MB"})


class UploadSchema(ma.Schema):
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
