"""Dashboard figures, each computed by one SQL statement over indexed ranges (never a Python loop over rows).

Scope: managers see the BDs they manage, ops and admins every BD of the tenant (optionally one team's
subtree). Merchant counts in the heatmap are tenant-wide basic data, as on the map; visit counts are
limited to the viewer's people.
"""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import BigInteger, bindparam, select, text
from sqlalchemy.dialects.postgresql import ARRAY

from app import clock, db
from app.errors import (
    Forbidden,
    InvalidPeriod,
    TeamNotFound,
    TooManyCells,
)
from app.merchants.queries import box_size_m
from app.org.models import OrgUnit, Role, User
from app.org.scope import managed_user_ids, manages_unit
from app.tenants.models import Tenant
from app.territories import service as territories

MAX_CELLS = 10_000
M_PER_DEG_LAT = 111_320.0


def _ensure_viewer(viewer: User) -> None:
    if viewer.role not in (Role.MANAGER, Role.OPS, Role.ADMIN):
        raise Forbidden("Dashboards are for managers, ops and admins.")


def team_bds(viewer: User, team_id: int | None = None, active_since: datetime | None = None) -> list[tuple[int, str]]:
    """(id, name) of the BDs a dashboard covers: the viewer's people, optionally one team's subtree.

    BDs deactivated before ``active_since`` are left out (their history stays in the periods they worked).
    """
    _ensure_viewer(viewer)
    statement = select(User.id, User.display_name, User.username).where(User.role == Role.BD).order_by(User.id)
    if active_since is not None:
        statement = statement.where(User.is_active.is_(True) | (User.deactivated_at >= active_since))
    if viewer.role == Role.MANAGER:
        statement = statement.where(User.id.in_(managed_user_ids(viewer)))
    if team_id is not None:
        unit = db.get(OrgUnit, team_id)
        if unit is None or (viewer.role == Role.MANAGER and not manages_unit(viewer, unit)):
            raise TeamNotFound()
        statement = statement.where(User.org_unit_id.in_(select(OrgUnit.id).where(OrgUnit.path.startswith(unit.path))))
    return [(row.id, row.display_name or row.username) for row in db.session.execute(statement)]


TEAM_SQL = text(
    """
    WITH team AS (SELECT unnest(CAST(:ids AS bigint[])) AS user_id),
    visits_ AS (
        SELECT user_id, count(*) FILTER (WHERE verified) AS verified, count(*) FILTER (WHERE NOT verified) AS unverified
        FROM visits WHERE user_id = ANY(:ids) AND client_time >= :start AND client_time < :end GROUP BY user_id
    ),
    events AS (
        SELECT to_owner_id AS user_id, count(*) FILTER (WHERE action = 'claim') AS claims,
               count(*) FILTER (WHERE action = 'sign') AS signings
        FROM lead_events
        WHERE tenant_id = :tenant_id AND created_at >= :start AND created_at < :end
          AND action IN ('claim', 'sign') AND to_owner_id = ANY(:ids)
        GROUP BY to_owner_id
    ),
    created AS (
        SELECT created_by_id AS user_id, count(*) AS new_merchants
        FROM merchants WHERE created_by_id = ANY(:ids) AND created_at >= :start AND created_at < :end
        GROUP BY created_by_id
    ),
    activities_ AS (
        SELECT user_id, count(*) FILTER (WHERE kind = 'call') AS calls,
               count(*) FILTER (WHERE kind = 'message') AS messages
        FROM activities WHERE user_id = ANY(:ids) AND occurred_at >= :start AND occurred_at < :end GROUP BY user_id
    ),
    tasks_ AS (
        SELECT a.assignee_id AS user_id,
               count(*) FILTER (WHERE a.status = 'done' AND a.completed_at >= :start AND a.completed_at < :end) AS done,
               -- overdue at the day's end (or now, for today): due before it and still open then
               count(*) FILTER (WHERE t.due_at < LEAST(:end, :now) AND (a.status IN ('assigned', 'accepted')
                                      OR a.completed_at >= LEAST(:end, :now))) AS overdue
        FROM task_assignments a JOIN tasks t ON t.id = a.task_id
        WHERE a.assignee_id = ANY(:ids) AND (a.status IN ('assigned', 'accepted') OR a.completed_at >= :start)
        GROUP BY a.assignee_id
    )
    SELECT team.user_id, coalesce(v.verified, 0) AS verified, coalesce(v.unverified, 0) AS unverified,
           coalesce(c.new_merchants, 0) AS new_merchants, coalesce(e.claims, 0) AS claims,
           coalesce(e.signings, 0) AS signings, coalesce(k.done, 0) AS tasks_done, coalesce(k.overdue, 0) AS overdue,
           coalesce(ac.calls, 0) AS calls, coalesce(ac.messages, 0) AS messages
    FROM team
    LEFT JOIN visits_ v ON v.user_id = team.user_id
    LEFT JOIN events e ON e.user_id = team.user_id
    LEFT JOIN created c ON c.user_id = team.user_id
    LEFT JOIN tasks_ k ON k.user_id = team.user_id
    LEFT JOIN activities_ ac ON ac.user_id = team.user_id
    """
).bindparams(bindparam("ids", type_=ARRAY(BigInteger)))


def team_day(viewer: User, tenant: Tenant, day: date | None, team_id: int | None = None) -> dict[str, Any]:
    """Per BD, for one of the tenant's local days: visits, new merchants, claims, signings, tasks done/overdue."""
    day = day or clock.now().astimezone(tenant.zone).date()
    start, end = tenant.day_bounds(day)
    bds = team_bds(viewer, team_id, active_since=start)
    rows = {
        row.user_id: row
        for row in db.session.execute(
            TEAM_SQL,
            {
                "ids": [bd_id for bd_id, _ in bds],
                "tenant_id": tenant.id,
                "start": start,
                "end": end,
                "now": clock.now(),
            },
        )
    }
    keys = ("new_merchants", "claims", "signings", "tasks_done", "overdue", "calls", "messages", "contacts")
    items = []
    for bd_id, name in bds:
        row = rows[bd_id]
        visits = {"verified": row.verified, "unverified": row.unverified}
        counts = {key: getattr(row, key) for key in keys if key != "contacts"}
        # every contact with merchants counts for the dashboard; only verified visits are proof of presence
        counts["contacts"] = row.verified + row.unverified + row.calls + row.messages
        items.append({"user_id": bd_id, "name": name, "visits": visits, **counts})
    totals = {key: sum(item[key] for item in items) for key in keys}
    totals["visits"] = {k: sum(item["visits"][k] for item in items) for k in ("verified", "unverified")}
    return {"date": day, "items": items, "totals": totals}


FUNNEL_SQL = text(
    """
    WITH claimed AS MATERIALIZED (
        SELECT DISTINCT merchant_id FROM lead_events
        WHERE tenant_id = :tenant_id AND created_at >= :start AND created_at < :end
          AND action = 'claim' AND to_owner_id = ANY(:ids)
    )
    SELECT
        -- the public pool as differences of cheap counts (an anti-join over every merchant costs 10x a count):
        -- all merchants, less the few hidden ones (partial index), less owned leads of visible merchants
        (SELECT count(*) FROM merchants WHERE tenant_id = :tenant_id)
        - (SELECT count(*) FROM merchants WHERE tenant_id = :tenant_id AND audit_status IN ('rejected', 'merged'))
        - (SELECT count(*) FROM leads WHERE tenant_id = :tenant_id AND state <> 'public')
        + (SELECT count(*) FROM leads l JOIN merchants m ON m.id = l.merchant_id
            WHERE m.tenant_id = :tenant_id AND m.audit_status IN ('rejected', 'merged') AND l.state <> 'public')
          AS public,
        (SELECT count(*) FROM claimed) AS private,
        (SELECT count(*) FROM claimed c WHERE EXISTS (
            SELECT 1 FROM visits v WHERE v.merchant_id = c.merchant_id AND v.verified
              AND v.client_time >= :start AND v.client_time < :end AND v.user_id = ANY(:ids))) AS visited,
        (SELECT count(*) FROM claimed c WHERE EXISTS (
            SELECT 1 FROM lead_events s WHERE s.merchant_id = c.merchant_id AND s.action = 'sign'
              AND s.created_at >= :start AND s.created_at < :end)) AS signed
    """
).bindparams(bindparam("ids", type_=ARRAY(BigInteger)))


def funnel(viewer: User, tenant: Tenant, start_day: date, end_day: date, team_id: int | None = None) -> dict[str, Any]:
    """The pool funnel for a period: the public pool now, and of the merchants the team claimed in the
    period, how many they visited (verified) and signed within it."""
    if end_day < start_day or (end_day - start_day).days > 366:
        raise InvalidPeriod(errors={"query": {"to": ["On or after `from`, at most 366 days later."]}})
    start, _ = tenant.day_bounds(start_day)
    _, end = tenant.day_bounds(end_day)
    bds = team_bds(viewer, team_id, active_since=start)
    row = db.session.execute(
        FUNNEL_SQL, {"ids": [b for b, _ in bds], "tenant_id": tenant.id, "start": start, "end": end}
    ).one()

    def rate(part: int, whole: int) -> float | None:
        return round(part / whole, 4) if whole else None

    return {
        "from": start_day,
        "to": end_day,
        "bds": len(bds),
        "stages": {"public": row.public, "private": row.private, "visited": row.visited, "signed": row.signed},
        "conversion": {
            "visited_of_private": rate(row.visited, row.private),
            "signed_of_private": rate(row.signed, row.private),
            "signed_of_visited": rate(row.signed, row.visited),
        },
    }


HEATMAP_SQL = """
    -- Three sources, each read once and grouped by cell, then summed: merchants (counted), owned leads
    -- (a minority: private and partner counts, public is the rest), and recent visits. The exact lng/lat
    -- box test is an aggregate FILTER on plain floats, never a WHERE predicate: computed values have no
    -- statistics, so the planner would expect a handful of rows and probe leads or visits once per merchant.
    -- The only spatial predicate is the geography &&, which PostGIS estimates well and serves from the GiST
    -- index. For a box wider than a district the && is left out: evaluating it on most of the
    -- tenant's rows costs more than it saves.
    WITH inside AS (
        SELECT m.id, floor((x.lng - :west) / :cell_lng)::int AS cx, floor((x.lat - :south) / :cell_lat)::int AS cy,
               x.lng BETWEEN :west AND :east AND x.lat BETWEEN :south AND :north AS in_box
        FROM merchants m
        CROSS JOIN LATERAL (SELECT ST_X(m.location::geometry) AS lng, ST_Y(m.location::geometry) AS lat) x
        WHERE m.tenant_id = :tenant_id AND m.audit_status NOT IN ('rejected', 'merged') {box}
    ),
    merchant_cells AS (
        SELECT cx, cy, count(*) FILTER (WHERE in_box) AS merchants, 0::bigint AS private, 0::bigint AS partner,
               0::bigint AS visits, 0::bigint AS verified_visits
        FROM inside GROUP BY cx, cy
    ),
    lead_cells AS (
        SELECT floor((x.lng - :west) / :cell_lng)::int AS cx, floor((x.lat - :south) / :cell_lat)::int AS cy,
               0::bigint, count(*) FILTER (WHERE l.state = 'private' AND x.in_box),
               count(*) FILTER (WHERE l.state = 'partner' AND x.in_box), 0::bigint, 0::bigint
        FROM leads l JOIN merchants m ON m.id = l.merchant_id
        CROSS JOIN LATERAL (SELECT ST_X(m.location::geometry) AS lng, ST_Y(m.location::geometry) AS lat) p
        CROSS JOIN LATERAL (SELECT p.*, p.lng BETWEEN :west AND :east AND p.lat BETWEEN :south AND :north AS in_box) x
        WHERE l.tenant_id = :tenant_id AND l.state IN ('private', 'partner')
          AND m.audit_status NOT IN ('rejected', 'merged') {box}
        GROUP BY 1, 2
    ),
    visit_cells AS (
        SELECT floor((x.lng - :west) / :cell_lng)::int AS cx, floor((x.lat - :south) / :cell_lat)::int AS cy,
               0::bigint, 0::bigint, 0::bigint, count(*) FILTER (WHERE x.in_box),
               count(*) FILTER (WHERE v.verified AND x.in_box)
        FROM visits v JOIN merchants m ON m.id = v.merchant_id
        CROSS JOIN LATERAL (SELECT ST_X(m.location::geometry) AS lng, ST_Y(m.location::geometry) AS lat) p
        CROSS JOIN LATERAL (SELECT p.*, p.lng BETWEEN :west AND :east AND p.lat BETWEEN :south AND :north AS in_box) x
        WHERE v.tenant_id = :tenant_id AND v.client_time >= :since AND (:all_users OR v.user_id = ANY(:ids))
        GROUP BY 1, 2
    )
    SELECT cx, cy, sum(merchants)::bigint AS merchants,
           (sum(merchants) - sum(private) - sum(partner))::bigint AS public, sum(private)::bigint AS private,
           sum(partner)::bigint AS partner, sum(visits)::bigint AS visits,
           sum(verified_visits)::bigint AS verified_visits
    FROM (SELECT * FROM merchant_cells UNION ALL SELECT * FROM lead_cells UNION ALL SELECT * FROM visit_cells) c
    GROUP BY cx, cy
    HAVING sum(merchants) + sum(visits) > 0
    ORDER BY cy, cx
"""
INDEXED_BOX = "AND m.location && ST_MakeEnvelope(:west, :south, :east, :north, 4326)::geography"
# above this side, the heatmap reads the tenant's merchants without the index (see HEATMAP_SQL)
SCAN_ALL_SIDE_M = 12_000


@lru_cache(maxsize=2)
def _heatmap_statement(indexed: bool) -> Any:
    return text(HEATMAP_SQL.format(box=INDEXED_BOX if indexed else "")).bindparams(
        bindparam("ids", type_=ARRAY(BigInteger))
    )


def heatmap_grid(bbox: tuple[float, float, float, float], cell_m: int) -> dict[str, float]:
    """Cell sizes in degrees for square cells of ``cell_m`` metres at the box's middle latitude."""
    west, south, east, north = bbox
    middle = (south + north) / 2
    width, height = box_size_m(west, south, east, north)
    cells = math.ceil(width / cell_m) * math.ceil(height / cell_m)
    if cells > MAX_CELLS:
        raise TooManyCells(
            f"{cells} cells; at most {MAX_CELLS}: use larger cells or a smaller box.",
            errors={"query": {"cell_m": [f"At most {MAX_CELLS} cells in the box."]}},
        )
    cell_lat = cell_m / M_PER_DEG_LAT
    return {"lat": cell_lat, "lng": cell_lat / max(math.cos(math.radians(middle)), 0.01), "side_m": max(width, height)}


def heatmap(
    viewer: User, tenant: Tenant, bbox: tuple[float, float, float, float], cell_m: int, days: int
) -> dict[str, Any]:
    """Merchants by pool state and recent visits per square cell of the box (WGS84), non-empty cells only."""
    _ensure_viewer(viewer)
    west, south, east, north = bbox
    cell = heatmap_grid(bbox, cell_m)
    all_users = viewer.role in (Role.OPS, Role.ADMIN)
    ids = [] if all_users else [b for b, _ in team_bds(viewer)]
    since: datetime = clock.now() - timedelta(days=days)
    indexed = cell.pop("side_m") <= SCAN_ALL_SIDE_M
    rows = db.session.execute(
        _heatmap_statement(indexed),
        {
            "west": west,
            "south": south,
            "east": east,
            "north": north,
            "tenant_id": tenant.id,
            "cell_lat": cell["lat"],
            "cell_lng": cell["lng"],
            "since": since,
            "all_users": all_users,
            "ids": ids,
        },
    )
    cells = [
        {
            "lat": round(south + (row.cy + 0.5) * cell["lat"], 7),
            "lng": round(west + (row.cx + 0.5) * cell["lng"], 7),
            "merchants": row.merchants,
            "public": row.public,
            "private": row.private,
            "partner": row.partner,
            "visits": row.visits,
            "verified_visits": row.verified_visits,
        }
        for row in rows
    ]
    return {"cell_m": cell_m, "cell_deg": cell, "origin": {"lat": south, "lng": west}, "since": since, "cells": cells}


STATS_SQL = text(
    """
    WITH covered AS MATERIALIZED (
        SELECT m.id
        FROM territories t
        JOIN merchants m ON m.tenant_id = t.tenant_id AND ST_Covers(t.boundary, m.location)
        WHERE t.id = :territory_id AND m.audit_status NOT IN ('rejected', 'merged')
    )
    SELECT
        (SELECT count(*) FROM covered) AS merchants,
        (SELECT count(*) FROM covered c LEFT JOIN leads l ON l.merchant_id = c.id
          WHERE l.state IS NULL OR l.state = 'public') AS public,
        (SELECT count(*) FROM covered c JOIN leads l ON l.merchant_id = c.id WHERE l.state = 'private') AS private,
        (SELECT count(*) FROM covered c JOIN leads l ON l.merchant_id = c.id WHERE l.state = 'partner') AS partner,
        (SELECT count(*) FROM covered c JOIN visits v ON v.merchant_id = c.id
          WHERE v.client_time >= :week_start AND v.client_time < :now) AS visits,
        (SELECT count(*) FROM covered c JOIN visits v ON v.merchant_id = c.id
          WHERE v.client_time >= :week_start AND v.client_time < :now AND v.verified) AS verified_visits,
        (SELECT count(*) FROM covered c JOIN leads l ON l.merchant_id = c.id
          WHERE l.signed_at >= :week_start AND l.signed_at < :now) AS signings
    """
)


def week_start(tenant: Tenant, now: datetime) -> datetime:
    """Monday 00:00 of the tenant's current local week."""
    local = now.astimezone(tenant.zone)
    start, _end = tenant.day_bounds(local.date() - timedelta(days=local.weekday()))
    return start


def territory_stats(viewer: User, tenant: Tenant, territory_id: int) -> dict[str, Any]:
    """Merchants covered by pool state, visits (all and verified) and signings this week (tenant time)."""
    territory = territories.get_visible(viewer, territory_id)
    now = clock.now()
    since = week_start(tenant, now)
    row = db.session.execute(STATS_SQL, {"territory_id": territory.id, "week_start": since, "now": now}).one()
    return {
        "territory_id": territory.id,
        "merchants": {"total": row.merchants, "public": row.public, "private": row.private, "partner": row.partner},
        "week_start": since,
        "visits_this_week": {"total": row.visits, "verified": row.verified_visits},
        "signings_this_week": row.signings,
    }
