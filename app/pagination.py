"""Opaque keyset cursors: stable paging with no duplicates and no gaps.

A cursor carries the sort key of the last row served and a fingerprint of the query it belongs to, so a
cursor replayed against different filters is refused instead of silently returning the wrong page.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import orjson

from app.errors import InvalidCursor, ValidationFailed


def fingerprint(params: dict[str, Any]) -> str:
    return hashlib.sha256(orjson.dumps(params, option=orjson.OPT_SORT_KEYS)).hexdigest()[:12]


def encode_cursor(key: list[Any], query_fingerprint: str) -> str:
    return base64.urlsafe_b64encode(orjson.dumps({"k": key, "f": query_fingerprint})).decode().rstrip("=")


def _invalid(reason: str) -> ValidationFailed:
    return InvalidCursor(errors={"query": {"cursor": [reason]}})


def decode_cursor(token: str, query_fingerprint: str, types: tuple[type, ...]) -> list[Any]:
    try:
        payload = orjson.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        key, cursor_fingerprint = payload["k"], payload["f"]
    except (ValueError, TypeError, KeyError, orjson.JSONDecodeError) as exc:
        raise _invalid("Not a cursor returned by this endpoint.") from exc
    if cursor_fingerprint != query_fingerprint:
        raise _invalid("This cursor belongs to a different query; start again without a cursor.")
    if not isinstance(key, list) or len(key) != len(types):
        raise _invalid("Not a cursor returned by this endpoint.")
    try:
        values = [kind(value) for kind, value in zip(types, key, strict=True)]
    except (TypeError, ValueError) as exc:
        raise _invalid("Not a cursor returned by this endpoint.") from exc
    if any(isinstance(v, bool) for v in key):
        raise _invalid("Not a cursor returned by this endpoint.")
    return values
