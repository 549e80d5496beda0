"""The ops audit queue: pending merchants, oldest first, with what made them pending."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

from app import db
from app.pagination import decode_cursor, encode_cursor
from geo.coords import CoordSys, from_wgs84

QUEUE_SQL = text(
    """
    SELECT m.id, m.name, m.category, m.address, m.phone, m.source, m.audit_flags, m.self_onboarded,
           m.attributes -> 'duplicate_candidates' AS candidates, m.created_at,
           ST_Y(m.location::geometry) AS lat, ST_X(m.location::geometry) AS lng,
           CASE WHEN u.id IS NULL THEN NULL
                ELSE json_build_object('id', u.id, 'name', coalesce(nullif(u.display_name, ''), u.username)) END
             AS created_by
    FROM merchants m LEFT JOIN users u ON u.id = m.created_by_id
    WHERE m.tenant_id = :tenant_id AND m.audit_status = 'pending_audit'
      AND (CAST(:after_id AS bigint) IS NULL OR m.id > :after_id)
    ORDER BY m.id
    LIMIT :limit
    """
)


def pending(tenant_id: int, coord_sys: CoordSys, limit: int, cursor: str | None) -> dict[str, Any]:
    after_id = decode_cursor(cursor, "audit-queue", (int,))[0] if cursor else None
    rows = (
        db.session.execute(QUEUE_SQL, {"tenant_id": tenant_id, "after_id": after_id, "limit": limit + 1})
        .mappings()
        .all()
    )
    items = []
    for row in rows[:limit]:
        lat, lng = from_wgs84(row["lat"], row["lng"], coord_sys)
        items.append({**row, "lat": round(lat, 7), "lng": round(lng, 7), "candidates": row["candidates"] or []})
    more = len(rows) > limit
    return {"items": items, "next_cursor": encode_cursor([items[-1]["id"]], "audit-queue") if more else None}
