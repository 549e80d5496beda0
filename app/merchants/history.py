"""The history of a merchant's fields: every change (correction, import, merge, edit) as one row per field.

Writers take a ``snapshot`` before and after their change and hand both to ``record_changes``, which keeps the
fields that differ. A field a person set is also marked in ``Merchant.corrected_fields`` (``mark_corrected``):
that is the provenance an import reads to leave the person's value alone.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import text

from app import clock, db
from app.merchants.models import Merchant, MerchantChange

# the merchant's own columns a person or an import may change (position and custom attributes apart)
COLUMNS = ("name", "address", "phone", "category", "brand", "city", "closed")
ATTRIBUTE_PREFIX = "attributes."
# 1e-7 degrees is about 1 cm: a position read back through PostGIS is the same position
POSITION_EPSILON = 1e-7

_SNAPSHOT = text(
    """
    SELECT name, address, phone, category, brand, city, closed, attributes,
           ST_Y(location::geometry) AS lat, ST_X(location::geometry) AS lng
    FROM merchants WHERE id = :id
    """
)


def snapshot(merchant_id: int, attribute_keys: Iterable[str] | None = None) -> dict[str, Any]:
    """The tracked fields of a merchant as stored now: columns, ``position`` (WGS84) and ``attributes.<key>``
    for ``attribute_keys`` (every custom attribute when None)."""
    db.session.flush()
    row = db.session.execute(_SNAPSHOT, {"id": merchant_id}).mappings().one()
    values: dict[str, Any] = {column: row[column] for column in COLUMNS}
    values["position"] = {"lat": row["lat"], "lng": row["lng"]}
    attributes = row["attributes"] or {}
    keys = attributes.keys() if attribute_keys is None else attribute_keys
    for key in keys:
        if key not in ("photo_ids", "duplicate_candidates"):  # bookkeeping of intake, not the merchant's data
            values[ATTRIBUTE_PREFIX + key] = attributes.get(key)
    return values


def _same(field: str, before: Any, after: Any) -> bool:
    if field == "position" and isinstance(before, dict) and isinstance(after, dict):
        return (
            abs(before["lat"] - after["lat"]) < POSITION_EPSILON
            and abs(before["lng"] - after["lng"]) < POSITION_EPSILON
        )
    return before == after


def record_changes(
    tenant_id: int,
    merchant_id: int,
    before: dict[str, Any],
    after: dict[str, Any],
    source: str,
    actor_id: int | None,
    details: dict[str, Any] | None = None,
) -> list[str]:
    """One history row per field whose value differs between the snapshots; returns those fields."""
    fields = dict.fromkeys([*before, *after])
    changed = [field for field in fields if not _same(field, before.get(field), after.get(field))]
    for field in changed:
        db.session.add(
            MerchantChange(
                tenant_id=tenant_id,
                merchant_id=merchant_id,
                field=field,
                before=before.get(field),
                after=after.get(field),
                source=source,
                actor_id=actor_id,
                details=details or {},
            )
        )
    return changed


def mark_corrected(merchant: Merchant, fields: Iterable[str], at: datetime | None = None) -> None:
    """Record that a person set these fields (provenance for imports)."""
    moment = (at or clock.now()).isoformat()
    marked = {**(merchant.corrected_fields or {}), **{field: moment for field in fields}}
    if marked != merchant.corrected_fields:
        merchant.corrected_fields = marked
