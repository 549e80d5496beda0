"""Opaque keyset cursors: stable paging with no duplicates and no gaps.

A cursor carries the sort key of the last row served and a fingerprint of the query it belongs to, so a
cursor replayed against different filters is refused instead of silently returning the wrong page.

Cursors are signed: ``base64url(HMAC-SHA256(key, payload) || payload)`` without padding, the key derived from
the app's ``SECRET_KEY``. A cursor this service did not issue (edited, forged, unsigned, or signed under
another secret) is ``400 INVALID_CURSOR`` before any of its values is used; the values of a genuine cursor are
still checked against the kinds the caller expects (``int`` within PostgreSQL's bigint, ``float`` finite,
``datetime`` an ISO 8601 timestamp with an offset, ``str``), so no cursor can reach the database with a value
it cannot bind. Rotating ``SECRET_KEY`` refuses the cursors in flight once: clients start again without one.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import math
import re
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import orjson
from flask import current_app
from sqlalchemy import ColumnElement, Select, func, select, tuple_

from app import db
from app.errors import InvalidCursor

# PostgreSQL's bigint, the type of every id
BIGINT_MIN, BIGINT_MAX = -(2**63), 2**63 - 1
# far above any cursor this module issues (the longest, a to-do key, is about 170 characters)
MAX_CURSOR_CHARS = 1024
_DIGEST_BYTES = hashlib.sha256().digest_size
_URLSAFE_BASE64 = re.compile(r"[A-Za-z0-9_-]+")
# the cursor key is derived from SECRET_KEY, so a MAC made for another purpose never passes for a cursor's
_KEY_LABEL = b"fieldsales/pagination-cursor/v1"

NOT_A_CURSOR = "Not a cursor returned by this endpoint."


def fingerprint(params: dict[str, Any]) -> str:
    return hashlib.sha256(orjson.dumps(params, option=orjson.OPT_SORT_KEYS)).hexdigest()[:12]


def _signing_key() -> bytes:
    secret = current_app.config["SECRET_KEY"]
    if isinstance(secret, str):
        secret = secret.encode()
    return hmac.new(secret, _KEY_LABEL, hashlib.sha256).digest()


def _mac(payload: bytes) -> bytes:
    return hmac.new(_signing_key(), payload, hashlib.sha256).digest()


def _base64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def sign(payload: bytes) -> str:
    """A cursor token for a JSON payload ``{"k": key, "f": fingerprint}``: what ``encode_cursor`` sends."""
    return _base64(_mac(payload) + payload)


def encode_cursor(key: list[Any], query_fingerprint: str) -> str:
    return sign(orjson.dumps({"k": key, "f": query_fingerprint}))


def _invalid(reason: str = NOT_A_CURSOR) -> InvalidCursor:
    return InvalidCursor(errors={"query": {"cursor": [reason]}})


# --- the kinds of value a cursor's key may hold: each returns the value or raises ValueError


def _bigint(value: Any) -> int:
    if type(value) is not int or not BIGINT_MIN <= value <= BIGINT_MAX:  # bool is not an int here
        raise ValueError("not a bigint")
    return value


def _finite_float(value: Any) -> float:
    if type(value) not in (int, float):
        raise ValueError("not a number")
    number = float(value)  # OverflowError (an ArithmeticError) for an int too big for a float
    if not math.isfinite(number):
        raise ValueError("not a finite number")
    return number


def _text(value: Any) -> str:
    if type(value) is not str:
        raise ValueError("not a string")
    return value


def _timestamp(value: Any) -> datetime:
    moment = datetime.fromisoformat(_text(value))
    if moment.tzinfo is None:
        raise ValueError("a timestamp without an offset")
    return moment


KINDS: dict[type, Callable[[Any], Any]] = {int: _bigint, float: _finite_float, str: _text, datetime: _timestamp}


def decode_cursor(token: str, query_fingerprint: str, types: tuple[type, ...]) -> list[Any]:
    """The key of a cursor this service issued for this query, its values of ``types`` (kinds of ``KINDS``);
    ``InvalidCursor`` for anything else."""
    converters = [KINDS[kind] for kind in types]  # KeyError: a kind this module cannot check
    if not isinstance(token, str) or len(token) > MAX_CURSOR_CHARS or not _URLSAFE_BASE64.fullmatch(token):
        raise _invalid()
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError) as exc:
        raise _invalid() from exc
    if _base64(raw) != token:  # one spelling per cursor: no leftover bits, no extra characters
        raise _invalid()
    mac, payload = raw[:_DIGEST_BYTES], raw[_DIGEST_BYTES:]
    if not payload or not hmac.compare_digest(mac, _mac(payload)):
        raise _invalid()
    try:
        decoded = orjson.loads(payload)
        key, cursor_fingerprint = decoded["k"], decoded["f"]
    except (orjson.JSONDecodeError, TypeError, KeyError) as exc:
        raise _invalid() from exc
    if cursor_fingerprint != query_fingerprint:
        raise _invalid("This cursor belongs to a different query; start again without a cursor.")
    if not isinstance(key, list) or len(key) != len(converters):
        raise _invalid()
    try:
        return [convert(value) for convert, value in zip(converters, key, strict=True)]
    except (ValueError, OverflowError) as exc:
        raise _invalid() from exc


def keyset_page(
    statement: Select,
    key: Sequence[ColumnElement[Any]],
    kinds: tuple[type, ...],
    key_of: Callable[[Any], list[Any]],
    *,
    limit: int,
    cursor: str | None,
    params: dict[str, Any],
) -> tuple[list[Any], str | None]:
    """One page of ``statement``'s rows in ``key`` order (ascending, unique) after ``cursor``, and the cursor of
    the next page (``None`` on the last). ``params`` (the filters) bind the cursor to its query; ``key_of``
    gives a row's key values, of ``kinds``, for the next cursor."""
    query_key = fingerprint(params)
    if cursor:
        statement = statement.where(tuple_(*key) > tuple_(*decode_cursor(cursor, query_key, kinds)))
    rows = db.session.execute(statement.order_by(None).order_by(*key).limit(limit + 1)).all()
    page = rows[:limit]
    if len(rows) <= limit:
        return page, None
    values = [value.isoformat() if isinstance(value, datetime) else value for value in key_of(page[-1])]
    return page, encode_cursor(values, query_key)


def count(statement: Select) -> int:
    """How many rows ``statement`` gives in all (a page's ``total``)."""
    return db.session.scalar(select(func.count()).select_from(statement.order_by(None).subquery())) or 0
