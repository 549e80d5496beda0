"""Tenant-defined merchant fields: validating values on write and parsing them for filters.

Values live in ``merchants.attributes`` (JSONB) beside the free-form columns an import brings in, so
only keys declared in the tenant's schema are checked. Schema changes never rewrite stored rows:

- a removed field's stored values stay and are still returned in detail, but API writes of that key
  are refused (``UNKNOWN_ATTRIBUTE``) and ``attr.<key>`` filters on it are refused;
- a retyped field's stored values stay as they were; they are validated in the new type only when
  they are written again, and filters compare in the new type (old-typed values simply do not match);
- a field that becomes required is enforced on create, and on updates that write that key.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from app.errors import InvalidAttributeFilter, InvalidAttributes

FIELD_TYPES = ("string", "number", "bool", "enum", "date")
MAX_STRING = 500
_TRUE, _FALSE = ("true", "1", "yes"), ("false", "0", "no")


def field_schema(tenant_settings: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The declared fields by key, from a tenant's raw or effective settings."""
    return {field["key"]: field for field in (tenant_settings or {}).get("custom_fields") or []}


def _coerce(field: dict[str, Any], value: Any) -> Any:
    """The JSON value stored for ``value``; raises ValueError with a message when it does not fit."""
    kind = field["type"]
    if kind == "string":
        if not isinstance(value, str) or len(value) > MAX_STRING:
            raise ValueError(f"A string of at most {MAX_STRING} characters.")
        return value
    if kind == "number":
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or value != value
            or value in (float("inf"), float("-inf"))
        ):
            raise ValueError("A finite number.")
        return value
    if kind == "bool":
        if not isinstance(value, bool):
            raise ValueError("true or false.")
        return value
    if kind == "enum":
        if value not in (field.get("options") or []):
            raise ValueError(f"One of: {', '.join(map(str, field.get('options') or []))}.")
        return value
    if not isinstance(value, str):
        raise ValueError("A date as YYYY-MM-DD.")
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError:
        raise ValueError("A date as YYYY-MM-DD.") from None


def validate_custom_attributes(
    tenant_settings: dict[str, Any], attrs: dict[str, Any], *, partial: bool = False
) -> dict[str, Any]:
    """Check custom-field values against the tenant's schema and return them as they should be stored.

    ``partial`` (updates): required fields not sent are not reported. ``None`` clears an optional field
    (the returned dict keeps the ``None`` so the caller can drop the key). Raises a 422
    ``INVALID_ATTRIBUTES`` whose ``errors.json.attributes`` maps each bad key to its messages.
    """
    schema = field_schema(tenant_settings)
    errors: dict[str, list[str]] = {}
    cleaned: dict[str, Any] = {}
    for key, value in (attrs or {}).items():
        field = schema.get(key)
        if field is None:
            errors[key] = ["Not a custom field of this business line."]
        elif value is None:
            if field.get("required"):
                errors[key] = ["Required."]
            else:
                cleaned[key] = None
        else:
            try:
                cleaned[key] = _coerce(field, value)
            except ValueError as exc:
                errors[key] = [str(exc)]
    if not partial:
        for key, field in schema.items():
            if field.get("required") and key not in attrs:
                errors[key] = ["Required."]
    if errors:
        raise InvalidAttributes(errors={"json": {"attributes": errors}})
    return cleaned


def parse_filter(tenant_settings: dict[str, Any], attr_filters: dict[str, str]) -> dict[str, Any]:
    """``attr.<key>=value`` query values parsed to the field's type, as a JSONB containment document."""
    schema = field_schema(tenant_settings)
    errors: dict[str, list[str]] = {}
    document: dict[str, Any] = {}
    for key, raw in attr_filters.items():
        field = schema.get(key)
        if field is None:
            errors[f"attr.{key}"] = ["Not a custom field of this business line."]
            continue
        try:
            document[key] = _coerce(field, _from_text(field["type"], raw))
        except ValueError as exc:
            errors[f"attr.{key}"] = [str(exc)]
    if errors:
        raise InvalidAttributeFilter(errors={"query": errors})
    return document


def _from_text(kind: str, raw: str) -> Any:
    if kind == "number":
        try:
            number = float(raw)
        except ValueError:
            raise ValueError("A finite number.") from None
        return int(number) if number.is_integer() and "." not in raw and "e" not in raw.lower() else number
    if kind == "bool":
        lowered = raw.lower()
        if lowered in _TRUE or lowered in _FALSE:
            return lowered in _TRUE
        raise ValueError("true or false.")
    return raw
