"""orjson for responses: the hot endpoints spend a large share of their time serialising."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from typing import Any

import orjson
from flask import current_app
from flask.json.provider import JSONProvider


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, (set, frozenset)):
        return list(value)
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def dumps_bytes(obj: Any) -> bytes:
    try:
        return orjson.dumps(obj, default=_default, option=orjson.OPT_NON_STR_KEYS)
    except orjson.JSONEncodeError:
        # orjson stops at 64-bit integers; a client's free-form JSON (task payloads) stored in JSONB can hold
        # bigger ones, which the standard library writes exactly
        return json.dumps(obj, default=_default, ensure_ascii=False, separators=(",", ":")).encode()


class OrjsonProvider(JSONProvider):
    def dumps(self, obj: Any, **kwargs: Any) -> str:
        return dumps_bytes(obj).decode()

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        return orjson.loads(s)

    def response(self, *args: Any, **kwargs: Any):
        obj = self._prepare_response_obj(args, kwargs)
        return self._app.response_class(dumps_bytes(obj), mimetype="application/json")


def json_response(payload: Any, status: int = 200):
    """A JSON response serialised with orjson (hot endpoints skip the schema dump; tests validate the schema)."""
    return current_app.response_class(dumps_bytes(payload), status=status, mimetype="application/json")
