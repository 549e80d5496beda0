"""Photo uploads: the type is read from the content (not the name or header), stored once per content."""

from __future__ import annotations

import hashlib
from pathlib import Path

from flask import current_app

from app import db
from app.errors import EmptyFile, PayloadTooLarge, UnsupportedMediaType
from app.org.models import User
from app.uploads.models import Upload

MAX_BYTES = 5 * 1024 * 1024
HEIC_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1"}


def sniff(data: bytes) -> str | None:
    """The image type of ``data`` from its magic bytes: ``image/jpeg``, ``image/png``, ``image/heic`` or None."""
    if data[:3] == b"\xff\xd8\xff":
        return "image/jpeg"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "image/png"
    if data[4:8] == b"ftyp" and data[8:12] in HEIC_BRANDS:
        return "image/heic"
    return None


EXTENSIONS = {"image/jpeg": ".jpg", "image/png": ".png", "image/heic": ".heic"}


def store(user: User, data: bytes) -> Upload:
    if len(data) > MAX_BYTES:
        raise PayloadTooLarge(f"Photos are limited to {MAX_BYTES // (1024 * 1024)} MB.")
    if not data:
        raise EmptyFile()
    content_type = sniff(data)
    if content_type is None:
        raise UnsupportedMediaType("Only JPEG, PNG and HEIC photos are accepted.")
    digest = hashlib.sha256(data).hexdigest()
    path = Path(current_app.config["UPLOAD_DIR"]) / digest[:2] / f"{digest}{EXTENSIONS[content_type]}"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".part")
        partial.write_bytes(data)
        partial.replace(path)  # atomic: a crash never leaves a half photo under the final name
    upload = Upload(user_id=user.id, tenant_id=user.tenant_id, sha256=digest, content_type=content_type, size=len(data))
    db.session.add(upload)
    db.session.flush()
    return upload
