"""Reads only the console needs: the audit queue's candidates beside the merchant ops decide on; the heatmap's box."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

from app import db

CANDIDATES_SQL = text(
    """
    SELECT c.id, c.name, c.address, ST_Y(c.location::geometry) AS lat, ST_X(c.location::geometry) AS lng,
           ST_Distance(c.location, m.location) AS distance_m,
           similarity(c.name_key, m.name_key) AS similarity,
           coalesce(c.phone_keys && m.phone_keys, false) AS phone_match
    FROM merchants m JOIN merchants c ON c.id = ANY(:ids) AND c.tenant_id = m.tenant_id
    WHERE m.id = :merchant_id AND m.tenant_id = :tenant_id
    ORDER BY phone_match DESC, similarity DESC, distance_m
    """
)


def candidates_beside(tenant_id: int, merchant_id: int, candidate_ids: list[int]) -> list[dict[str, Any]]:
    """The possible duplicates of a pending merchant with their distance from it and their name similarity."""
    if not candidate_ids:
        return []
    rows = db.session.execute(
        CANDIDATES_SQL, {"ids": candidate_ids, "merchant_id": merchant_id, "tenant_id": tenant_id}
    ).mappings()
    return [dict(row) for row in rows]


EXTENT_SQL = text(
    """
    SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e)
    FROM (SELECT ST_Extent(location::geometry) AS e FROM merchants
          WHERE tenant_id = :tenant_id AND audit_status NOT IN ('rejected', 'merged')) AS box
    """
)


def merchant_extent(tenant_id: int) -> tuple[float, float, float, float] | None:
    """The box (west, south, east, north) around the line's merchants: where the dashboard's heatmap looks.

    A box of zero size (one merchant) is widened to about a kilometre so the grid has cells.
    """
    row = db.session.execute(EXTENT_SQL, {"tenant_id": tenant_id}).one()
    if row[0] is None:
        return None
    west, south, east, north = (float(v) for v in row)
    pad = 0.005
    return (west - pad, south - pad, east + pad, north + pad)
