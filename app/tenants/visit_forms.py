"""Visit forms: the questions a business line asks at check-in or check-out, versioned, and their answers.

A form is defined in the tenant's settings (``visit_forms``, validated by the admin settings schema) and
published as a new version whenever its definition changes (``publish``). The app sends answers with the
version it showed; ``validate_answers`` checks them against exactly that version, so a form changed while a
phone was offline still accepts what the BD filled in.

The answer checks are written here rather than generated with marshmallow from each definition: the
definitions are data (one schema class per tenant form version would be built on every request), and the
rules are few (a type, required, min/max, options, one ``show_if``) with one error message per field.

One form is built in: ``competitor_observation`` (the ``sales`` package turns its answers into competitor
records and price-gap observations).
"""

from __future__ import annotations

import math
from datetime import date
from typing import Any
from uuid import UUID

from sqlalchemy import select

from app import db
from app.tenants.models import Tenant, VisitFormVersion

FIELD_TYPES = ("choice", "multi_choice", "number", "text", "yes_no", "date", "photo")
# when the app shows a form: at every check-in, at every check-out, with a visit for an open task of a kind,
# or whenever the BD chooses to fill it in
BINDINGS = ("check_in", "check_out", "task:visit", "task:price_adjust", "task:collect_info", "task:custom", "on_demand")
STAGES = ("check_in", "check_out")
TEXT_MAX = 2000
PHOTOS_MAX = 9

COMPETITOR_FORM = "competitor_observation"
BUILT_IN: dict[str, dict[str, Any]] = {
    COMPETITOR_FORM: {
        "key": COMPETITOR_FORM,
        "version": 1,
        "title": "Competitor observation",
        "bind": "on_demand",
        "built_in": True,
        "fields": [
            {"key": "platform", "label": "Competitor platform", "type": "text", "required": True, "max_length": 60},
            {"key": "online", "label": "Is the merchant online there?", "type": "yes_no", "required": True},
            {
                "key": "offer",
                "label": "Their offer",
                "type": "text",
                "required": False,
                "max_length": 300,
                "show_if": {"field": "online", "equals": True},
            },
            {
                "key": "their_price",
                "label": "Their price for a comparable item",
                "type": "number",
                "required": False,
                "min": 0,
                "max": 1_000_000,
                "show_if": {"field": "online", "equals": True},
            },
            {
                "key": "our_price",
                "label": "Our price for that item",
                "type": "number",
                "required": False,
                "min": 0,
                "max": 1_000_000,
                "show_if": {"field": "online", "equals": True},
            },
        ],
    }
}


def _definition(form: dict[str, Any]) -> dict[str, Any]:
    """What a version freezes: the form without its version number."""
    return {k: v for k, v in form.items() if k != "version"}


def publish(tenant: Tenant, forms: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Store a new version of each form whose definition changed; returns the forms with their versions."""
    # two admins publishing at once would both take the next version number: one waits for the other
    db.session.execute(select(Tenant.id).where(Tenant.id == tenant.id).with_for_update())
    versions = db.session.scalars(
        select(VisitFormVersion)
        .where(VisitFormVersion.tenant_id == tenant.id)
        .order_by(VisitFormVersion.form_key, VisitFormVersion.version)
    )
    latest = {row.form_key: row for row in versions}  # the highest version of each key comes last
    published = []
    for form in forms:
        definition = _definition(form)
        current = latest.get(form["key"])
        version = current.version if current is not None else 0
        if current is None or current.definition != definition:
            version += 1
            db.session.add(
                VisitFormVersion(tenant_id=tenant.id, form_key=form["key"], version=version, definition=definition)
            )
        published.append({**definition, "version": version})
    db.session.flush()
    return published


def current_forms(tenant: Tenant) -> list[dict[str, Any]]:
    """The forms the app should show now: the tenant's (latest versions) and the built-in ones."""
    return [*tenant.setting("visit_forms"), *BUILT_IN.values()]


def form_version(tenant: Tenant, key: str, version: int) -> dict[str, Any] | None:
    built_in = BUILT_IN.get(key)
    if built_in is not None:
        return built_in if version == built_in["version"] else None
    row = db.session.scalar(
        select(VisitFormVersion).where(
            VisitFormVersion.tenant_id == tenant.id,
            VisitFormVersion.form_key == key,
            VisitFormVersion.version == version,
        )
    )
    return {**row.definition, "version": row.version} if row is not None else None


def required_at(tenant: Tenant, stage: str) -> list[str]:
    """The forms bound to every check-in (or check-out) that have a required field: they must be answered."""
    return [
        form["key"]
        for form in tenant.setting("visit_forms")
        if form.get("bind") == stage and any(field.get("required") for field in form["fields"])
    ]


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == []


def _shown(field: dict[str, Any], answers: dict[str, Any]) -> bool:
    condition = field.get("show_if")
    if not condition:
        return True
    value = answers.get(condition["field"])
    if _empty(value):
        return False
    if "equals" not in condition:
        return True
    if isinstance(value, list):
        return condition["equals"] in value
    return value == condition["equals"]


def _check(field: dict[str, Any], value: Any) -> tuple[Any, str | None]:
    """The cleaned value, or an error message."""
    kind = field["type"]
    if kind == "choice":
        if not isinstance(value, str) or value not in field["options"]:
            return None, f"One of: {', '.join(field['options'])}."
        return value, None
    if kind == "multi_choice":
        if not isinstance(value, list) or not all(isinstance(v, str) and v in field["options"] for v in value):
            return None, f"A list of: {', '.join(field['options'])}."
        if len(set(value)) != len(value):
            return None, "Each option once."
        return value, None
    if kind == "number":
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            return None, "A number."
        if field.get("min") is not None and value < field["min"]:
            return None, f"At least {field['min']:g}."
        if field.get("max") is not None and value > field["max"]:
            return None, f"At most {field['max']:g}."
        return value, None
    if kind == "text":
        limit = field.get("max_length") or TEXT_MAX
        if not isinstance(value, str):
            return None, "Text."
        if len(value) > limit:
            return None, f"At most {limit} characters."
        return value.strip(), None
    if kind == "yes_no":
        if not isinstance(value, bool):
            return None, "true or false."
        return value, None
    if kind == "date":
        try:
            return date.fromisoformat(value).isoformat(), None
        except (TypeError, ValueError):
            return None, "A date: YYYY-MM-DD."
    # photo: upload ids (whose they are is checked by the caller, with the visit's other photos)
    limit = field.get("max_photos") or PHOTOS_MAX
    try:
        ids = [str(UUID(v)) for v in value] if isinstance(value, list) else None
    except (TypeError, ValueError, AttributeError):
        ids = None
    if ids is None:
        return None, "A list of upload ids."
    if len(ids) > limit:
        return None, f"At most {limit} photos."
    return ids, None


def validate_answers(form: dict[str, Any], answers: dict[str, Any]) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """Check answers against one form version: the cleaned answers and the errors per field key."""
    fields = {field["key"]: field for field in form["fields"]}
    errors: dict[str, list[str]] = {key: ["Not a field of this form."] for key in answers if key not in fields}
    cleaned: dict[str, Any] = {}
    # fields in order: a show_if names an earlier field, whose cleaned answer decides
    for field in form["fields"]:
        key, value = field["key"], answers.get(field["key"])
        condition = field.get("show_if")
        if condition and condition["field"] in errors:
            continue  # whether it is asked depends on an answer that is wrong itself: one error, not two
        if not _shown(field, cleaned):
            if not _empty(value):
                errors[key] = [f"Not asked unless {field['show_if']['field']} is answered so."]
            continue
        if _empty(value):
            if field.get("required"):
                errors[key] = ["Required."]
            continue
        value, error = _check(field, value)
        if error:
            errors[key] = [error]
        else:
            cleaned[key] = value
    return cleaned, errors


def photo_ids(form: dict[str, Any], answers: dict[str, Any]) -> list[str]:
    return [pid for field in form["fields"] if field["type"] == "photo" for pid in answers.get(field["key"], [])]
