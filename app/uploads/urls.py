"""Signed photo URLs: an ``<img src>`` a phone or a manager's browser loads without the bearer header.

The URL carries its expiry and an HMAC-SHA256 of (variant, photo id, expiry) under a key derived from
``SECRET_KEY``; the GET checks both, so only someone who was given the URL (by an answer that checked they may
see the visit) can load the photo, and only until it expires. Written here rather than with itsdangerous: the
whole scheme is ``hmac.compare_digest`` over one line, and the URL stays a plain ``?expires=&signature=``.

Expiry is rounded up to a step (a tenth of the lifetime, at least a minute), so that the same photo gets the
same URL for that long and the browser's cache serves a list that is loaded again.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from datetime import UTC, datetime
from typing import Any

from flask import current_app, url_for

from app import clock
from app.errors import PhotoUrlExpired, PhotoUrlInvalid

PHOTO, THUMBNAIL = "photo", "thumbnail"
ENDPOINTS = {PHOTO: "uploads.Photo", THUMBNAIL: "uploads.PhotoThumbnail"}


def _key() -> bytes:
    # a key of its own: a signature made for photos is never valid as anything else signed with SECRET_KEY
    return hmac.new(current_app.config["SECRET_KEY"].encode(), b"photo-url-v1", hashlib.sha256).digest()


def sign(photo_id: uuid.UUID | str, variant: str, expires: int) -> str:
    message = f"{variant}:{photo_id}:{expires}".encode()
    digest = hmac.new(_key(), message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def expiry(now: datetime | None = None) -> int:
    ttl = current_app.config["PHOTO_URL_TTL_SECONDS"]
    step = max(60, ttl // 10)
    moment = int((now or clock.now()).timestamp())
    return -(-(moment + ttl) // step) * step


def signed_url(photo_id: uuid.UUID | str, variant: str, expires: int) -> str:
    base = current_app.config["PHOTO_URL_BASE"].rstrip("/")
    path = url_for(
        ENDPOINTS[variant],
        photo_id=photo_id,
        expires=expires,
        signature=sign(photo_id, variant, expires),
        _external=not base,
    )
    return base + path if base else path


def photo_links(photo_ids: list[Any]) -> list[dict[str, Any]]:
    """``{id, url, thumbnail_url, expires_at}`` per photo id: only for callers who may see the visit."""
    expires = expiry()
    expires_at = datetime.fromtimestamp(expires, UTC)
    return [
        {
            "id": str(photo_id),
            "url": signed_url(photo_id, PHOTO, expires),
            "thumbnail_url": signed_url(photo_id, THUMBNAIL, expires),
            "expires_at": expires_at,
        }
        for photo_id in photo_ids
    ]


def check(photo_id: uuid.UUID, variant: str, expires: int, signature: str) -> None:
    """403 ``PHOTO_URL_INVALID`` for a signature that does not match, 403 ``PHOTO_URL_EXPIRED`` past expiry."""
    if not hmac.compare_digest(sign(photo_id, variant, expires).encode(), signature.encode()):
        raise PhotoUrlInvalid()
    if expires < clock.now().timestamp():
        raise PhotoUrlExpired()
