"""The merchant detail payload: everything a BD needs to negotiate, in one response.

Two statements build it, whatever the merchant's history size:

- ``CALLER_SQL`` (every request): the merchant's version, pool state and owner, and what depends on who
  is asking (claimability inputs, the open tasks the caller may see, whether phones are shown).
- ``AGGREGATE_SQL`` (on a cache miss): every other section as JSON aggregates.

The aggregate is cached in Redis under the merchant's ``detail_version``; every write that changes it bumps
the version in its own transaction (``touch``), so a reader can never be served stale data, even when
Redis was unreachable at write time. Without Redis the endpoint answers from the database.
"""

from __future__ import annotations

import logging
from datetime import date, datetime
from difflib import SequenceMatcher
from typing import Any

import orjson
from flask import current_app
from redis.exceptions import RedisError
from sqlalchemy import text

from app import clock, db, redis_conn
from app.audit import service as audit
from app.errors import MerchantNotFound
from app.merchants import pool as pool
from app.merchants.privacy import mask_phone
from app.org.models import Role, User
from app.tenants.models import Tenant
from geo.coords import CoordSys, from_wgs84

log = logging.getLogger(__name__)

CACHE_TTL_SECONDS = 3600
RECENT_VISITS = 10
RELATED_STORES = 20
NEARBY_SAME_BRAND = 5
SALES_MONTHS = 12

CALLER_SQL = text(
    """
    SELECT m.id, m.detail_version, m.merged_into_id,
           l.state, l.owner_id, l.claimed_at, l.drops_at, l.drop_reason, l.extensions_used,
           coalesce(nullif(o.display_name, ''), o.username) AS owner_name,
           o.manager_id AS owner_manager_id, ou.path AS owner_path,
           (SELECT path FROM org_units WHERE id = :caller_unit) AS caller_path,
           (SELECT count(*) FROM leads WHERE owner_id = :caller AND state = 'private') AS caller_private,
           EXISTS (SELECT 1 FROM lead_events e
                   WHERE e.merchant_id = m.id AND e.from_owner_id = :caller AND e.action = 'drop'
                     AND e.created_at > :cooldown_since) AS caller_in_cooldown,
           (SELECT coalesce(json_agg(t ORDER BY t.due_at NULLS LAST, t.assignment_id), '[]')
            FROM (SELECT tk.id AS task_id, a.id AS assignment_id, tk.title, tk.kind, tk.priority, tk.due_at,
                         a.status, json_build_object('id', au.id, 'name',
                                                     coalesce(nullif(au.display_name, ''), au.username)) AS assignee
                  FROM task_assignments a
                  JOIN tasks tk ON tk.id = a.task_id
                  JOIN users au ON au.id = a.assignee_id
                  LEFT JOIN org_units aou ON aou.id = au.org_unit_id
                  WHERE tk.tenant_id = :tenant
                    -- Two indexed paths UNIONed: an OR across both tables' merchant ids uses neither
                    -- index and hash-joins every task of the tenant (84 ms at 100k tasks).
                    AND a.id IN (SELECT a2.id FROM task_assignments a2 WHERE a2.merchant_id = m.id
                                 UNION
                                 SELECT a3.id FROM tasks t3 JOIN task_assignments a3 ON a3.task_id = t3.id
                                 WHERE t3.merchant_id = m.id)
                    AND a.status IN ('assigned', 'accepted')
                    AND (:sees_all OR tk.creator_id = :caller OR a.assignee_id = :caller
                         OR (:is_manager AND (au.manager_id = :caller
                                              OR aou.path LIKE (SELECT path FROM org_units
                                                                WHERE id = :caller_unit) || '%')))
                  LIMIT 50) t) AS tasks
    FROM merchants m
    LEFT JOIN leads l ON l.merchant_id = m.id
    LEFT JOIN users o ON o.id = l.owner_id
    LEFT JOIN org_units ou ON ou.id = o.org_unit_id
    WHERE m.id = :merchant_id AND m.tenant_id = :tenant
    """
)

AGGREGATE_SQL = text(
    """
    SELECT
      json_build_object(
        'id', m.id, 'name', m.name, 'category', m.category, 'address', m.address, 'city', m.city,
        'phone', m.phone, 'brand', m.brand, 'tags', m.tags,
        'lat', ST_Y(m.location::geometry), 'lng', ST_X(m.location::geometry),
        'attributes', m.attributes, 'source', m.source, 'source_id', m.source_id,
        'audit_status', m.audit_status, 'audit_flags', m.audit_flags, 'self_onboarded', m.self_onboarded,
        'created_at', m.created_at, 'updated_at', m.updated_at,
        'created_by', CASE WHEN cb.id IS NULL THEN NULL
                           ELSE json_build_object('id', cb.id,
                                                  'name', coalesce(nullif(cb.display_name, ''), cb.username)) END
      ) AS merchant,
      (SELECT coalesce(json_agg(json_build_object(
                'id', c.id, 'name', c.name, 'title', c.title, 'role', c.role, 'phones', c.phones,
                'is_key_person', c.is_key_person, 'notes', c.notes, 'last_contacted_at', c.last_contacted_at)
              ORDER BY c.is_key_person DESC, c.id), '[]')
       FROM contacts c WHERE c.merchant_id = m.id) AS contacts,
      (SELECT json_build_object('total', count(*), 'verified', count(*) FILTER (WHERE v.verified))
       FROM visits v WHERE v.merchant_id = m.id) AS visit_counts,
      (SELECT coalesce(json_agg(x ORDER BY x.at DESC, x.id DESC), '[]')
       FROM (SELECT v.id, v.client_time AS at, v.verified, v.flags, v.distance_m, v.result, v.notes, v.purpose,
                    v.offline, json_build_object('id', u.id,
                                                 'name', coalesce(nullif(u.display_name, ''), u.username)) AS "by"
             -- The 10 visits first, then their users: joining first touches every visit's user.
             FROM (SELECT * FROM visits v WHERE v.merchant_id = m.id
                   ORDER BY v.client_time DESC, v.id DESC LIMIT :recent_visits) v
             JOIN users u ON u.id = v.user_id) x) AS recent_visits,
      (SELECT coalesce(json_agg(json_build_object(
                'id', d.id, 'title', d.title, 'price', d.price, 'status', d.status,
                'started_at', d.started_at, 'ended_at', d.ended_at) ORDER BY d.price, d.id), '[]')
       FROM deals d WHERE d.merchant_id = m.id AND d.status = 'active') AS deals,
      (SELECT coalesce(json_agg(json_build_object('month', s.month, 'orders', s.orders, 'gmv', s.gmv)
                                ORDER BY s.month), '[]')
       FROM sales_monthly s WHERE s.merchant_id = m.id AND s.month >= :since_month) AS months,
      (SELECT json_build_object('orders', coalesce(sum(s.orders), 0), 'gmv', coalesce(sum(s.gmv), 0),
                                'months', count(*))
       FROM sales_monthly s WHERE s.merchant_id = m.id) AS lifetime,
      (SELECT coalesce(json_agg(json_build_object(
                'platform', cr.platform, 'online', cr.online, 'deals', cr.deals, 'captured_at', cr.captured_at)
              ORDER BY cr.platform), '[]')
       FROM competitor_records cr WHERE cr.merchant_id = m.id) AS competitors,
      (SELECT count(*) FROM merchants b
       WHERE b.tenant_id = m.tenant_id AND b.brand = m.brand AND b.id <> m.id) AS related_store_count,
      (SELECT coalesce(json_agg(r ORDER BY r.gmv_12m DESC, r.id), '[]')
       FROM (SELECT b.id, b.name, b.address,
                    coalesce((SELECT sum(s.gmv) FROM sales_monthly s
                              WHERE s.merchant_id = b.id AND s.month >= :since_month), 0) AS gmv_12m,
                    coalesce((SELECT sum(s.orders) FROM sales_monthly s
                              WHERE s.merchant_id = b.id AND s.month >= :since_month), 0) AS orders_12m
             FROM merchants b
             WHERE b.tenant_id = m.tenant_id AND b.brand = m.brand AND b.id <> m.id
             ORDER BY gmv_12m DESC, b.id
             LIMIT :related_stores) r) AS related_stores,
      (SELECT coalesce(json_agg(n ORDER BY n.distance_m, n.id), '[]')
       FROM (SELECT b.id, b.name, b.address, ST_Y(b.location::geometry) AS lat, ST_X(b.location::geometry) AS lng,
                    ST_Distance(b.location, m.location) AS distance_m
             FROM merchants b
             WHERE b.tenant_id = m.tenant_id AND b.brand = m.brand AND b.id <> m.id
               AND b.audit_status NOT IN ('rejected', 'merged')
             ORDER BY b.location <-> m.location
             LIMIT :nearby_same_brand) n) AS nearby_same_brand
    FROM merchants m
    LEFT JOIN users cb ON cb.id = m.created_by_id
    WHERE m.id = :merchant_id AND m.tenant_id = :tenant
    """
)


def _months_ago(first_of_month: date, months: int) -> date:
    year, month = divmod(first_of_month.year * 12 + first_of_month.month - 1 - months, 12)
    return date(year, month + 1, 1)


def _cache_key(tenant_id: int, merchant_id: int, version: int) -> str:
    return f"merchant-detail:v1:{tenant_id}:{merchant_id}:{version}"


def _cached_aggregate(tenant_id: int, merchant_id: int, version: int) -> dict[str, Any] | None:
    if not current_app.config["DETAIL_CACHE_ENABLED"]:
        return None
    try:
        raw = redis_conn.client().get(_cache_key(tenant_id, merchant_id, version))
    except RedisError as exc:
        log.warning("detail cache unavailable: %s", exc)
        return None
    return orjson.loads(raw) if raw else None


def _store_aggregate(tenant_id: int, merchant_id: int, version: int, aggregate: dict[str, Any]) -> None:
    if not current_app.config["DETAIL_CACHE_ENABLED"]:
        return
    try:
        redis_conn.client().set(
            _cache_key(tenant_id, merchant_id, version), orjson.dumps(aggregate), ex=CACHE_TTL_SECONDS
        )
    except RedisError as exc:
        log.warning("detail cache not stored: %s", exc)


def _load_aggregate(tenant_id: int, merchant_id: int, today: date) -> dict[str, Any]:
    this_month = today.replace(day=1)
    row = db.session.execute(AGGREGATE_SQL, {
        "merchant_id": merchant_id, "tenant": tenant_id, "recent_visits": RECENT_VISITS,
        "since_month": _months_ago(this_month, SALES_MONTHS - 1), "related_stores": RELATED_STORES,
        "nearby_same_brand": NEARBY_SAME_BRAND,
    }).mappings().one()
    aggregate = dict(row)
    aggregate["this_month"] = this_month.isoformat()
    return aggregate


def can_see_phones(caller: User, caller_path: str | None, lead: Any) -> bool:
    """Full phone numbers: the lead's owner, the owner's managers, ops and admins."""
    if caller.role in (Role.OPS, Role.ADMIN):
        return True
    if lead.owner_id is None:
        return False
    if lead.owner_id == caller.id:
        return True
    if caller.role != Role.MANAGER:
        return False
    in_subtree = bool(caller_path and lead.owner_path and lead.owner_path.startswith(caller_path))
    return lead.owner_manager_id == caller.id or in_subtree


def merchant_detail(
    caller: User, tenant: Tenant, merchant_id: int, coord_sys: CoordSys, *, _following_alias: bool = False
) -> dict[str, Any]:
    now = clock.now()
    rules = tenant.setting("pool")
    lead = db.session.execute(CALLER_SQL, {
        "merchant_id": merchant_id, "tenant": tenant.id, "caller": caller.id, "caller_unit": caller.org_unit_id,
        "cooldown_since": pool.cooldown_since(now, rules),
        "sees_all": caller.role in (Role.OPS, Role.ADMIN), "is_manager": caller.role == Role.MANAGER,
    }).one_or_none()
    if lead is None:
        raise MerchantNotFound()
    if lead.merged_into_id is not None and not _following_alias:
        # a merged duplicate's id is an alias: answer with the survivor (its id tells the app to switch)
        return merchant_detail(caller, tenant, lead.merged_into_id, coord_sys, _following_alias=True)
    aggregate = _cached_aggregate(tenant.id, merchant_id, lead.detail_version)
    if aggregate is None:
        aggregate = _load_aggregate(tenant.id, merchant_id, now.date())
        # the caller-independent comparison is cached with its inputs (fuzzy title matching is not cheap)
        aggregate["competitors_section"] = _competitors_section(aggregate["competitors"], aggregate["deals"])
        _store_aggregate(tenant.id, merchant_id, lead.detail_version, aggregate)
    show_phones = can_see_phones(caller, lead.caller_path, lead)
    if show_phones:
        _audit_reveal(caller, tenant.id, merchant_id, aggregate)
    return {
        "merchant": _merchant_section(aggregate["merchant"], coord_sys, show_phones),
        "contacts": [_contact(c, show_phones) for c in aggregate["contacts"]],
        "visits": _visits_section(aggregate),
        "sales": _sales_section(aggregate),
        "competitors": aggregate.get("competitors_section")
        or _competitors_section(aggregate["competitors"], aggregate["deals"]),
        "sea": _sea_section(lead, caller, rules),
        "tasks": [_task(t, now) for t in lead.tasks],
        "nearby_same_brand": [_positioned(store, coord_sys) for store in aggregate["nearby_same_brand"]],
        "phones_masked": not show_phones,
    }


REVEAL_LOGGED_TTL_S = 26 * 3600


def _audit_reveal(caller: User, tenant_id: int, merchant_id: int, aggregate: dict[str, Any]) -> None:
    """Full phone numbers shown are personal data disclosed: logged, committed with the read (``end_request``).

    Once per person, merchant, set of numbers and day: a BD reopens their merchants all day long, and a
    durable write on every read would double the cost of the page. Redis remembers what was logged (set
    after the commit, so a failed commit is logged again); without Redis every reveal is logged.
    """
    contacts = [c["id"] for c in aggregate["contacts"] if c["phones"]]
    merchant_phone = bool(aggregate["merchant"].get("phone"))
    if not contacts and not merchant_phone:
        return
    key = (f"audit:reveal:{tenant_id}:{caller.id}:{merchant_id}:{clock.now().date().isoformat()}:"
           f"{int(merchant_phone)}:{','.join(map(str, contacts))}")
    try:
        client = redis_conn.client()
        if client.exists(key):
            return
    except RedisError:
        client = None
    audit.record_audit(audit.PHONES_REVEALED, actor=caller, subject_type="merchant", subject_id=merchant_id,
                       after={"merchant_phone": merchant_phone, "contact_ids": contacts}, tenant_id=tenant_id)
    if client is not None:
        db.on_commit(lambda: client.set(key, 1, ex=REVEAL_LOGGED_TTL_S))


def _positioned(item: dict[str, Any], coord_sys: CoordSys) -> dict[str, Any]:
    lat, lng = from_wgs84(item["lat"], item["lng"], coord_sys)
    return {**item, "lat": round(lat, 7), "lng": round(lng, 7), **(
        {"distance_m": round(item["distance_m"], 1)} if "distance_m" in item else {})}


def _merchant_section(merchant: dict[str, Any], coord_sys: CoordSys, show_phones: bool) -> dict[str, Any]:
    section = _positioned(merchant, coord_sys)
    section["coord_sys"] = coord_sys.value
    if not show_phones and section["phone"]:
        section["phone"] = ";".join(mask_phone(p) for p in section["phone"].split(";"))
    return section


def _contact(contact: dict[str, Any], show_phones: bool) -> dict[str, Any]:
    if show_phones:
        return contact
    return {**contact, "phones": [mask_phone(p) for p in contact["phones"]]}


def _visits_section(aggregate: dict[str, Any]) -> dict[str, Any]:
    recent = aggregate["recent_visits"]
    return {
        "total": aggregate["visit_counts"]["total"],
        "verified": aggregate["visit_counts"]["verified"],
        "last_visit": recent[0] if recent else None,
        "recent": recent,
    }


def _sales_section(aggregate: dict[str, Any]) -> dict[str, Any]:
    by_month = {row["month"][:7]: row for row in aggregate["months"]}
    this_month = date.fromisoformat(aggregate["this_month"])
    months = []
    for back in range(SALES_MONTHS - 1, -1, -1):
        key = _months_ago(this_month, back).isoformat()[:7]
        row = by_month.get(key)
        months.append({"month": key, "orders": row["orders"] if row else 0, "gmv": float(row["gmv"]) if row else 0.0})
    lifetime = aggregate["lifetime"]
    return {
        "active_deals": [{**deal, "price": float(deal["price"])} for deal in aggregate["deals"]],
        "totals": {
            "orders_12m": sum(m["orders"] for m in months),
            "gmv_12m": round(sum(m["gmv"] for m in months), 2),
            "orders_lifetime": lifetime["orders"],
            "gmv_lifetime": float(lifetime["gmv"]),
        },
        "months": months,
        "related_stores": {
            "count": aggregate["related_store_count"],
            "stores": [{**s, "gmv_12m": float(s["gmv_12m"])} for s in aggregate["related_stores"]],
        },
    }


def _similarity(a: str, b: str) -> float:
    return SequenceMatcher(None, a.lower(), b.lower()).ratio()


def _competitors_section(records: list[dict[str, Any]], our_deals: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per platform, each of their deals against our most comparable active deal (by title)."""
    section = []
    for record in records:
        comparisons = []
        for deal in record["deals"] or []:
            their_price = float(deal["price"])
            ours = max(our_deals, key=lambda d: _similarity(d["title"], deal["title"]), default=None)
            comparison = {"their_title": deal["title"], "their_price": their_price,
                          "monthly_sales": deal.get("monthly_sales")}
            if ours is not None:
                our_price = float(ours["price"])
                comparison.update({
                    "our_deal_id": ours["id"], "our_title": ours["title"], "our_price": our_price,
                    "difference": round(our_price - their_price, 2),
                    "price_disadvantage": their_price < our_price,
                })
            else:
                comparison.update({"our_deal_id": None, "our_title": None, "our_price": None, "difference": None,
                                   "price_disadvantage": False})
            comparisons.append(comparison)
        section.append({
            "platform": record["platform"],
            "online": record["online"],
            "captured_at": record["captured_at"],
            "deals": comparisons,
            "price_disadvantage": any(c["price_disadvantage"] for c in comparisons),
        })
    return section


def _sea_section(lead: Any, caller: User, rules: dict[str, Any]) -> dict[str, Any]:
    view = pool.sea_view(lead.state, lead.owner_id, lead.owner_name, lead.drops_at, caller.id)
    private = view["state"] == "private"
    claimable = (
        caller.role == Role.BD and view["state"] == "public"
        and lead.caller_private < rules["claim_cap"] and not lead.caller_in_cooldown
    )
    return {
        **view,
        "claimed_at": lead.claimed_at if view["state"] != "public" else None,
        "drops_at": lead.drops_at if private else None,
        "drop_reason": lead.drop_reason if private else None,
        "extensions_left": max(0, rules["max_extensions"] - (lead.extensions_used or 0)) if private else None,
        "claimable": claimable,
    }


def _task(task: dict[str, Any], now: datetime) -> dict[str, Any]:
    due = datetime.fromisoformat(task["due_at"]) if task["due_at"] else None
    return {**task, "overdue": bool(due and due < now)}
