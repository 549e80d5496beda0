"""Offline delta sync: everything the app caches, as upserts and tombstones since a cursor.

What changed comes from ``sync_changes``, which triggers fill in the writing transaction (migration 0018), each
row stamped with that transaction's id (``txid``, an ``xid8``). Ordering by a sequence alone would skip changes:
a transaction that took a lower id may commit after a reader has served a higher one. So the cursor is kept
behind every transaction still in progress:

* A sync run (the pages of one sync) starts by taking ``X = pg_snapshot_xmin(pg_current_snapshot())``: every
  transaction with an id below ``X`` has ended, and its changes are visible to this and every later statement.
* A delta run serves the visible changes with ``txid >= floor`` in ``(txid, id)`` order, paged by keyset. Its
  floor is the ``X`` of the previous run, so every transaction that was still open then (or began after) is
  looked at again; a change that commits while paging, behind the keyset position, is at least above this run's
  ``X`` and so in the next run.
* The full bundle (no cursor, or a reset) reads current state, and the delta run after it starts at the ``X``
  taken before its first page.

The price is that a change from a transaction that overlapped the previous run may be served twice; every
change is "the current state" (an upsert or a tombstone), so applying one twice is harmless. Nothing is kept per
device: the cursor carries all of it, signed like every other cursor (``app/pagination.py``).

Entities answer with their state now, not what the log row saw: a change is a pointer, so many changes to one
row in a page are one upsert.
"""

from __future__ import annotations

from datetime import date, timedelta
from types import SimpleNamespace
from typing import Any

from sqlalchemy import text

from app import clock, db
from app.errors import ValidationFailed
from app.org.models import User
from app.pagination import decode_cursor, encode_cursor, fingerprint
from app.tasks.queries import open_todos
from app.tenants.models import Tenant
from app.visits.plans import get_plan
from app.visits.queries import user_visits
from geo.coords import CoordSys, from_wgs84, to_wgs84

DEFAULT_LIMIT = 1000
MAX_LIMIT = 5000
RECENT_VISIT_DAYS = 30
PLAN_DAYS_BACK = 7
# the change log keeps this long (app/sync/jobs.py); a cursor older than it may have lost changes: start over
CHANGE_LOG_DAYS = 30
CURSOR_MAX_AGE = timedelta(days=CHANGE_LOG_DAYS - 1)

_FULL, _DELTA = 0, 1
_MERCHANT_COLUMNS = """
    m.id, m.name, m.category, m.address, m.city, m.brand, m.tags, m.audit_status::text AS audit_status,
    ST_Y(m.location::geometry) AS lat, ST_X(m.location::geometry) AS lng, m.updated_at
"""
_VISIBLE = "m.audit_status NOT IN ('rejected', 'merged')"


class Scope:
    """Which merchants a BD caches: those covered by their territories, else those within a radius of a point."""

    def __init__(
        self, territory_ids: list[int], lat: float | None, lng: float | None, radius_m: int, coord_sys: CoordSys
    ):
        self.territory_ids = territory_ids
        self.point: tuple[float, float] | None = None
        self.radius_m = radius_m
        if not self.territory_ids and lat is not None and lng is not None:
            self.point = to_wgs84(lat, lng, coord_sys)

    def params(self) -> dict[str, Any]:
        lat, lng = self.point or (0.0, 0.0)
        return {"tids": self.territory_ids, "plat": lat, "plng": lng, "radius": self.radius_m}

    def point_covers(self) -> str:
        """SQL: merchant ``m`` is within the radius of the point (with ``params()``); territories are another test."""
        if self.point is not None:
            return "ST_DWithin(m.location, ST_SetSRID(ST_MakePoint(:plng, :plat), 4326)::geography, :radius)"
        return "false"

    def area_ids(self) -> str:
        """SQL: the ids of every merchant in scope, found through the location index (not the whole tenant)."""
        if self.territory_ids:
            return """
                SELECT m.id FROM territories t JOIN merchants m
                  ON m.tenant_id = t.tenant_id AND ST_Covers(t.boundary, m.location)
                WHERE t.id = ANY(:tids) AND m.tenant_id = :tenant"""
        if self.point is not None:
            return f"SELECT m.id FROM merchants m WHERE m.tenant_id = :tenant AND {self.point_covers()}"
        return "SELECT NULL::bigint AS id WHERE false"


def _xmin_and_territories(user: User) -> tuple[int, list[int]]:
    """The oldest transaction still in progress (every one below it has ended, committed or not), and the user's
    territories: one round trip, taken before anything is read."""
    row = db.session.execute(
        text("""
            SELECT pg_snapshot_xmin(pg_current_snapshot())::text AS xmin,
                   ARRAY(SELECT territory_id FROM territory_members WHERE user_id = :u ORDER BY 1) AS tids"""),
        {"u": user.id},
    ).one()
    return int(row.xmin), list(row.tids)


def _merchant(row: Any, coord_sys: CoordSys) -> dict[str, Any]:
    lat, lng = from_wgs84(row.lat, row.lng, coord_sys)
    return {
        "id": row.id,
        "name": row.name,
        "category": row.category,
        "address": row.address,
        "city": row.city,
        "brand": row.brand,
        "tags": row.tags,
        "audit_status": row.audit_status,
        "lat": round(lat, 7),
        "lng": round(lng, 7),
        "updated_at": row.updated_at,
    }


def _lead(row: Any, coord_sys: CoordSys) -> dict[str, Any]:
    lat, lng = from_wgs84(row.lat, row.lng, coord_sys)
    return {
        "merchant_id": row.merchant_id,
        "name": row.name,
        "lat": round(lat, 7),
        "lng": round(lng, 7),
        "claimed_at": row.claimed_at,
        "last_visit_at": row.last_visit_at,
        "drops_at": row.drops_at,
        "drop_reason": row.drop_reason,
        "extensions_used": row.extensions_used,
    }


def _upsert(entity: str, entity_id: int | str, data: dict[str, Any]) -> dict[str, Any]:
    change = {"entity": entity, "id": str(entity_id), "op": "upsert", "reason": None, "merged_into_id": None}
    return {**change, entity: data}


def _tombstone(entity: str, entity_id: int | str, reason: str, merged_into_id: int | None = None) -> dict[str, Any]:
    return {"entity": entity, "id": str(entity_id), "op": "delete", "reason": reason, "merged_into_id": merged_into_id}


_LEAD_SELECT = """
    SELECT l.merchant_id, l.claimed_at, l.last_visit_at, l.drops_at, l.drop_reason, l.extensions_used, m.name,
           ST_Y(m.location::geometry) AS lat, ST_X(m.location::geometry) AS lng
    FROM leads l JOIN merchants m ON m.id = l.merchant_id
    WHERE l.tenant_id = :tenant AND l.owner_id = :user AND l.state = 'private'
"""


# --- the full bundle --------------------------------------------------------------------------------------------


def _owned(user: User, tenant: Tenant, coord_sys: CoordSys) -> list[dict[str, Any]]:
    """Leads, to-dos, plans and recent visits: a BD's own, small, all on the first page."""
    params = {"tenant": tenant.id, "user": user.id}
    changes = [
        _upsert("lead", row.merchant_id, _lead(row, coord_sys))
        for row in db.session.execute(text(_LEAD_SELECT + " ORDER BY l.merchant_id"), params)
    ]
    changes += [_upsert("todo", item["id"], item) for item in open_todos(user)]
    since = clock.now().date() - timedelta(days=PLAN_DAYS_BACK)
    plans = db.session.execute(
        text("SELECT id, plan_date FROM visit_plans WHERE user_id = :user AND plan_date >= :since ORDER BY plan_date"),
        {"user": user.id, "since": since},
    ).all()
    changes += [_upsert("plan", plan.id, _plan(user, tenant, plan.id, plan.plan_date, coord_sys)) for plan in plans]
    recent = clock.now() - timedelta(days=RECENT_VISIT_DAYS)
    changes += [_upsert("visit", visit["id"], visit) for visit in user_visits(user.id, since=recent)]
    return changes


def _plan(user: User, tenant: Tenant, plan_id: int, day: date, coord_sys: CoordSys) -> dict[str, Any]:
    return {"id": plan_id, **get_plan(user, tenant, day, coord_sys)}


def _full_page(
    user: User, tenant: Tenant, scope: Scope, coord_sys: CoordSys, after_id: int, limit: int, next_floor: int
) -> tuple[list[dict[str, Any]], bool, list[int]]:
    changes = _owned(user, tenant, coord_sys) if after_id == 0 else []
    # materialized: the area is found through the location index, then ordered by id; without it the planner
    # may walk the whole tenant in id order and test each merchant against the territories
    rows = db.session.execute(
        text(f"""
            WITH area AS MATERIALIZED ({scope.area_ids()})
            SELECT {_MERCHANT_COLUMNS} FROM merchants m
            WHERE m.id IN (SELECT id FROM area) AND m.id > :after AND {_VISIBLE}
            ORDER BY m.id LIMIT :limit"""),
        {**scope.params(), "tenant": tenant.id, "after": after_id, "limit": limit + 1},
    ).all()
    page = rows[:limit]
    changes += [_upsert("merchant", row.id, _merchant(row, coord_sys)) for row in page]
    if len(rows) > limit:
        return changes, True, [_FULL, 0, 0, page[-1].id, next_floor]
    # the bundle is complete: the next sync serves what changed from the moment it began
    return changes, False, [_DELTA, next_floor, 0, 0, 0]


# --- deltas -----------------------------------------------------------------------------------------------------


def _delta_read(
    user: User, tenant: Tenant, position: tuple[int, int, int], scope_point: Scope, limit: int
) -> tuple[int, list[int], list[list[Any]], dict[int, Any]]:
    """In one statement (one snapshot, one round trip): the oldest transaction in progress, the user's territories,
    a page of the change log, and the changed merchants' state with whether they are in scope.

    ``pg_current_snapshot()`` is the statement's own snapshot, so its ``xmin`` is taken no later than the read, as
    the floor of the next run must be.
    """
    floor, after_txid, after_id = position
    point_covers = scope_point.point_covers()
    row = db.session.execute(
        text(f"""
            WITH mine AS MATERIALIZED (
                SELECT ARRAY(SELECT territory_id FROM territory_members WHERE user_id = :user ORDER BY 1) AS tids
            ), log AS MATERIALIZED (
                SELECT txid, id, entity, entity_id FROM sync_changes
                WHERE tenant_id = :tenant AND txid >= CAST(CAST(:floor AS text) AS xid8)
                  AND (txid, id) > (CAST(CAST(:after_txid AS text) AS xid8), :after_id)
                  AND (user_id = :user OR user_id IS NULL)
                ORDER BY txid, id LIMIT :limit
            )
            SELECT pg_snapshot_xmin(pg_current_snapshot())::text AS xmin,
                   (SELECT tids FROM mine) AS tids,
                   ARRAY(SELECT json_build_array(txid::text::bigint, id, entity, entity_id) FROM log
                         ORDER BY txid, id) AS log,
                   ARRAY(SELECT row_to_json(changed) FROM (
                       SELECT {_MERCHANT_COLUMNS}, m.merged_into_id, ({_VISIBLE}) AS visible,
                              CASE WHEN cardinality((SELECT tids FROM mine)) > 0
                                   THEN EXISTS (SELECT 1 FROM territories t
                                                WHERE t.id = ANY(CAST((SELECT tids FROM mine) AS bigint[]))
                                                  AND ST_Covers(t.boundary, m.location))
                                   ELSE {point_covers} END AS in_scope
                       FROM merchants m
                       WHERE m.tenant_id = :tenant AND m.id IN (SELECT entity_id FROM log WHERE entity = 'merchant')
                   ) AS changed) AS merchants"""),
        {
            **scope_point.params(),
            "tenant": tenant.id,
            "user": user.id,
            "floor": str(floor),
            "after_txid": str(after_txid),
            "after_id": after_id,
            "limit": limit + 1,
        },
    ).one()
    merchants = {item["id"]: SimpleNamespace(**item) for item in row.merchants}
    return int(row.xmin), list(row.tids), list(row.log), merchants


def _delta_page(
    user: User,
    tenant: Tenant,
    coord_sys: CoordSys,
    read: tuple[list[list[Any]], dict[int, Any]],
    position: tuple[int, int, int],
    next_floor: int,
    limit: int,
) -> tuple[list[dict[str, Any]], bool, list[int], bool]:
    """The changes of one page; the last item says whether the scope changed (the app must start over)."""
    log, merchants = read
    floor = position[0]
    page = log[:limit]
    changed: dict[str, set[int]] = {}
    for _txid, _id, entity, entity_id in page:
        changed.setdefault(entity, set()).add(entity_id)
    if "scope" in changed:
        return [], False, [], True
    changes = _merchant_changes(merchants, coord_sys, sorted(changed.get("merchant", ())))
    changes += _lead_changes(user, tenant, coord_sys, sorted(changed.get("lead", ())))
    todo_ids = [f"a{i}" for i in sorted(changed.get("task", ()))]
    todo_ids += [f"r{i}" for i in sorted(changed.get("reminder", ()))]
    changes += _todo_changes(user, todo_ids)
    changes += _plan_changes(user, tenant, coord_sys, sorted(changed.get("plan", ())))
    changes += _visit_changes(user, sorted(changed.get("visit", ())))
    if len(log) > limit:
        last_txid, last_id, _, _ = page[-1]
        return changes, True, [_DELTA, floor, last_txid, last_id, next_floor], False
    return changes, False, [_DELTA, next_floor, 0, 0, 0], False


def _merchant_changes(found: dict[int, Any], coord_sys: CoordSys, ids: list[int]) -> list[dict[str, Any]]:
    changes = []
    for merchant_id in ids:
        row = found.get(merchant_id)
        if row is None:
            changes.append(_tombstone("merchant", merchant_id, "deleted"))
        elif row.audit_status == "merged":
            changes.append(_tombstone("merchant", merchant_id, "merged", row.merged_into_id))
        elif not row.visible:
            changes.append(_tombstone("merchant", merchant_id, "rejected"))
        elif not row.in_scope:
            changes.append(_tombstone("merchant", merchant_id, "out_of_scope"))
        else:
            changes.append(_upsert("merchant", merchant_id, _merchant(row, coord_sys)))
    return changes


def _lead_changes(user: User, tenant: Tenant, coord_sys: CoordSys, ids: list[int]) -> list[dict[str, Any]]:
    if not ids:
        return []
    rows = db.session.execute(
        text("""
            SELECT l.merchant_id, l.state::text AS state, l.owner_id, l.claimed_at, l.last_visit_at, l.drops_at,
                   l.drop_reason, l.extensions_used, m.name,
                   ST_Y(m.location::geometry) AS lat, ST_X(m.location::geometry) AS lng
            FROM leads l JOIN merchants m ON m.id = l.merchant_id
            WHERE l.tenant_id = :tenant AND l.merchant_id = ANY(:ids)"""),
        {"tenant": tenant.id, "ids": ids},
    ).all()
    states = {row.merchant_id: row for row in rows}
    mine = {row.merchant_id: row for row in rows if row.state == "private" and row.owner_id == user.id}
    changes = []
    for merchant_id in ids:
        if merchant_id in mine:
            changes.append(_upsert("lead", merchant_id, _lead(mine[merchant_id], coord_sys)))
            continue
        state = states.get(merchant_id)
        if state is None:
            reason = "deleted"
        elif state.state == "partner":
            reason = "signed"
        elif state.state == "private":
            reason = "transferred"
        else:  # back in the public pool: dropped by the clock or released
            reason = "lost"
        changes.append(_tombstone("lead", merchant_id, reason))
    return changes


def _todo_changes(user: User, todo_ids: list[str]) -> list[dict[str, Any]]:
    if not todo_ids:
        return []
    open_items = {item["id"]: item for item in open_todos(user)}
    return [
        _upsert("todo", todo_id, open_items[todo_id]) if todo_id in open_items else _tombstone("todo", todo_id, "gone")
        for todo_id in todo_ids
    ]


def _plan_changes(user: User, tenant: Tenant, coord_sys: CoordSys, ids: list[int]) -> list[dict[str, Any]]:
    if not ids:
        return []
    days = dict(
        db.session.execute(
            text("SELECT id, plan_date FROM visit_plans WHERE user_id = :user AND id = ANY(:ids)"),
            {"user": user.id, "ids": ids},
        ).all()
    )
    return [
        _upsert("plan", plan_id, _plan(user, tenant, plan_id, days[plan_id], coord_sys))
        if plan_id in days
        else _tombstone("plan", plan_id, "deleted")
        for plan_id in ids
    ]


def _visit_changes(user: User, ids: list[int]) -> list[dict[str, Any]]:
    if not ids:
        return []
    visits = {visit["id"]: visit for visit in user_visits(user.id, ids=ids)}
    return [
        _upsert("visit", visit_id, visits[visit_id]) if visit_id in visits else _tombstone("visit", visit_id, "deleted")
        for visit_id in ids
    ]


# --- the endpoint -----------------------------------------------------------------------------------------------


def sync(
    user: User,
    tenant: Tenant,
    *,
    cursor: str | None,
    limit: int,
    coord_sys: CoordSys,
    lat: float | None,
    lng: float | None,
    radius_m: int,
) -> dict[str, Any]:
    """One page of changes since ``cursor`` (none: the full bundle)."""
    if (lat is None) != (lng is None):
        raise ValidationFailed(errors={"query": {"lat": ["Send lat and lng together."]}})
    # a cursor is only good for the area and coordinate system it was issued for
    query_key = fingerprint(
        {"sync": user.id, "coord_sys": coord_sys.value, "lat": lat, "lng": lng, "radius_m": radius_m}
    )
    now = clock.now()
    mode = None
    if cursor:
        mode, floor, after_txid, after_id, next_floor, issued = decode_cursor(cursor, query_key, (int,) * 6)
        if mode not in (_FULL, _DELTA) or min(floor, after_txid, after_id, next_floor) < 0:
            mode = None  # not a state this module issues: start over
        elif now.timestamp() - issued > CURSOR_MAX_AGE.total_seconds():
            mode = None  # the change log may have been pruned past it
    point_only = Scope([], lat, lng, radius_m, coord_sys)
    if mode == _DELTA:
        # the hot path (an app syncing with nothing or little changed): one round trip for all but other entities
        xmin, territory_ids, log, merchants = _delta_read(
            user, tenant, (floor, after_txid, after_id), point_only, limit
        )
    else:
        xmin, territory_ids = _xmin_and_territories(user)
    scope = Scope(territory_ids, lat, lng, radius_m, coord_sys)
    reset = False
    if mode is None:
        reset = True
        changes, has_more, key = _full_page(user, tenant, scope, coord_sys, 0, limit, xmin)
    elif mode == _FULL:
        changes, has_more, key = _full_page(user, tenant, scope, coord_sys, after_id, limit, next_floor)
    else:
        if not next_floor:  # the first page of a delta run
            next_floor = xmin
        changes, has_more, key, rescoped = _delta_page(
            user, tenant, coord_sys, (log, merchants), (floor, after_txid, after_id), next_floor, limit
        )
        if rescoped:  # territories changed: which merchants to keep is for the full bundle to say
            reset = True
            changes, has_more, key = _full_page(user, tenant, scope, coord_sys, 0, limit, xmin)
    return {
        "reset": reset,
        "changes": changes,
        "has_more": has_more,
        "next_cursor": encode_cursor([*key, int(now.timestamp())], query_key),
        "coord_sys": coord_sys.value,
        "server_time": now,
        "scope": "territories" if scope.territory_ids else ("radius" if scope.point else "none"),
    }
