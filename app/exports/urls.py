"""Signed download URLs of finished exports: the photo URLs' scheme (app/uploads/urls.py) under a key of its own,
so a browser or a spreadsheet tool downloads the file without the bearer header, until the URL expires."""

from __future__ import annotations

import base64
import hashlib
import hmac

from flask import current_app, url_for

from app import clock
from app.errors import ExportUrlInvalid


def _key() -> bytes:
    # derived for exports only: a photo signature is never valid here, nor the other way round
    return hmac.new(current_app.config["SECRET_KEY"].encode(), b"export-url-v1", hashlib.sha256).digest()


def sign(export_id: int, expires: int) -> str:
    digest = hmac.new(_key(), f"export:{export_id}:{expires}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def signed_url(export_id: int) -> tuple[str, int]:
    expires = int(clock.now().timestamp()) + current_app.config["EXPORT_URL_TTL_SECONDS"]
    path = url_for("exports.ExportFile", export_id=export_id, expires=expires, signature=sign(export_id, expires))
    return path, expires


def check(export_id: int, expires: int, signature: str) -> None:
    # compared as bytes: compare_digest refuses non-ASCII str
    given = signature.encode("utf-8", "surrogatepass")
    if not hmac.compare_digest(sign(export_id, expires).encode(), given) or expires < clock.now().timestamp():
        raise ExportUrlInvalid()
