"""The ops audit queue: pending merchants and pending corrections, oldest first, with what made them wait."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import text

from app import db
from app.intake.corrections import positioned_changes
from app.merchants import history
from app.pagination import decode_cursor, encode_cursor
from geo.coords import CoordSys, from_wgs84

QUEUE_SQL = text(
    """
    WITH queue AS (
        SELECT 'correction' AS kind, c.id AS item_id, c.merchant_id, c.created_at AS queued_at,
               c.created_by_id AS by_id, c.id AS correction_id
        FROM merchant_corrections c
        WHERE c.tenant_id = :tenant_id AND c.status = 'pending'
        UNION ALL
        SELECT 'merchant', m.id, m.id, m.created_at, m.created_by_id, NULL
        FROM merchants m
        WHERE m.tenant_id = :tenant_id AND m.audit_status = 'pending_audit'
    )
    SELECT q.kind, q.item_id, q.queued_at AS created_at,
           m.id, m.name, m.category, m.address, m.phone, m.source, m.audit_flags, m.self_onboarded,
           m.attributes -> 'duplicate_candidates' AS candidates,
           ST_Y(m.location::geometry) AS lat, ST_X(m.location::geometry) AS lng,
           CASE WHEN u.id IS NULL THEN NULL
                ELSE json_build_object('id', u.id, 'name', coalesce(nullif(u.display_name, ''), u.username)) END
             AS created_by,
           c.id AS correction_id, c.status AS correction_status, c.changes, c.applied, c.queued, c.reasons,
           c.duplicate_candidates, c.note, c.photo_ids
    FROM queue q
    JOIN merchants m ON m.id = q.merchant_id
    LEFT JOIN merchant_corrections c ON c.id = q.correction_id
    LEFT JOIN users u ON u.id = q.by_id
    WHERE CAST(:after_at AS timestamptz) IS NULL
       OR (q.queued_at, q.kind, q.item_id) > (CAST(:after_at AS timestamptz), CAST(:after_kind AS text), :after_id)
    ORDER BY q.queued_at, q.kind, q.item_id
    LIMIT :limit
    """
)
QUEUE_CURSOR = "audit-queue:v2"


def _current(row: Any, coord_sys: CoordSys) -> dict[str, Any]:
    """What the merchant has now for each queued field of a correction."""
    now = history.snapshot(row["id"], (row["changes"].get("attributes") or {}).keys())
    current: dict[str, Any] = {}
    for field in row["queued"]:
        if field == "attributes":
            current[field] = {k: now.get(history.ATTRIBUTE_PREFIX + k) for k in row["changes"]["attributes"]}
        else:
            current[field] = now.get(field)
    return positioned_changes(current, coord_sys)


def _correction(row: Any, coord_sys: CoordSys) -> dict[str, Any] | None:
    if row["correction_id"] is None:
        return None
    return {
        "id": row["correction_id"],
        "merchant_id": row["id"],
        "status": row["correction_status"],
        "changes": positioned_changes(row["changes"], coord_sys),
        "applied": row["applied"],
        "queued": row["queued"],
        "reasons": row["reasons"],
        "duplicate_candidates": row["duplicate_candidates"],
        "note": row["note"],
        "photo_ids": row["photo_ids"],
        "coord_sys": coord_sys.value,
        "current": _current(row, coord_sys),
    }


def pending(tenant_id: int, coord_sys: CoordSys, limit: int, cursor: str | None) -> dict[str, Any]:
    after_at, after_kind, after_id = (
        decode_cursor(cursor, QUEUE_CURSOR, (datetime, str, int)) if cursor else (None, None, None)
    )
    params = {
        "tenant_id": tenant_id,
        "after_at": after_at,
        "after_kind": after_kind,
        "after_id": after_id,
        "limit": limit + 1,
    }
    rows = db.session.execute(QUEUE_SQL, params).mappings().all()
    items = []
    for row in rows[:limit]:
        lat, lng = from_wgs84(row["lat"], row["lng"], coord_sys)
        items.append(
            {
                "kind": row["kind"],
                "id": row["id"],
                "name": row["name"],
                "category": row["category"],
                "address": row["address"],
                "phone": row["phone"],
                "source": row["source"],
                "audit_flags": row["audit_flags"],
                "self_onboarded": row["self_onboarded"],
                "candidates": row["candidates"] or [],
                "created_at": row["created_at"],
                "created_by": row["created_by"],
                "lat": round(lat, 7),
                "lng": round(lng, 7),
                "correction": _correction(row, coord_sys),
            }
        )
    more = len(rows) > limit
    last = rows[limit - 1] if more else None
    next_cursor = (
        encode_cursor([last["created_at"].isoformat(), last["kind"], last["item_id"]], QUEUE_CURSOR) if last else None
    )
    return {"items": items, "next_cursor": next_cursor}
