"""The reads of merchants: the nearby list and the map view, then the merchant detail.

Nearby and map are the hottest endpoints of the app, so they run one Core statement each (no ORM objects) and
build plain dicts for a fast serialiser. The tenant filter is explicit here because Core statements do
not pass through the ORM tenant scope.

The merchant detail payload is everything a BD needs to negotiate, in one response. Two statements build
it, whatever the merchant's history size:

- ``CALLER_SQL`` (every request): the merchant's version, pool state and owner, and what depends on who
  is asking (claimability inputs, the open tasks the caller may see, whether phones are shown).
- ``AGGREGATE_SQL`` (on a cache miss): every other section as JSON aggregates.

The aggregate is cached in Redis under the merchant's ``detail_version``; every write that changes it bumps
the version in its own transaction (``touch``), so a reader can never be served stale data, even when
Redis was unreachable at write time. Without Redis the endpoint answers from the database.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from difflib import SequenceMatcher
from functools import lru_cache
from typing import Any

import orjson
from flask import current_app
from geoalchemy2 import Geography, Geometry
from redis.exceptions import RedisError
from sqlalchemy import (
    ARRAY,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    Integer,
    String,
    and_,
    any_,
    bindparam,
    cast,
    func,
    literal,
    or_,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.sql.elements import ColumnElement

from app import clock, db, metrics, redis_conn
from app.errors import BboxTooLarge, MerchantNotFound
from app.merchants import pool, privacy
from app.merchants.models import CLOSED_FOR_GOOD, AuditStatus, Lead, LeadState, Merchant
from app.merchants.privacy import mask_phone
from app.org.models import Role, User
from app.org.scope import visible_user_ids
from app.pagination import decode_cursor, encode_cursor, fingerprint
from app.tenants.custom_fields import parse_filter
from app.tenants.models import Tenant
from app.territories import service as territory_scope
from app.territories.models import Territory, TerritoryMember
from app.uploads.urls import photo_links
from geo import sql as geo_sql
from geo.coords import CoordSys, from_wgs84, to_wgs84
from geo.distance import bbox_around, distance_m

merchants = Merchant.__table__
leads = Lead.__table__
owners = User.__table__.alias("owners")
territories = Territory.__table__
members = TerritoryMember.__table__

HIDDEN_STATUSES = (AuditStatus.REJECTED.value, AuditStatus.MERGED.value)
MAX_PINS = 500
MAX_BBOX_SIDE_M = 50_000  # a city; a wider box would be a country-scale scan


@dataclass(frozen=True)
class MerchantFilters:
    sea: str = "all"
    category: str | None = None
    tags: tuple[str, ...] = ()
    q: str | None = None
    unvisited_days: int | None = None
    in_my_territory: bool = False
    # ``attr.<key>=value`` pairs as sent, sorted; typed against the tenant's custom-field schema when bound
    attrs: tuple[tuple[str, str], ...] = ()


def like_pattern(text: str, *, anywhere: bool) -> str:
    """A LIKE pattern matching ``text`` literally (its % and _ are not wildcards)."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%" if anywhere else f"{escaped}%"


def _expr(value: Any) -> ColumnElement[Any]:
    return value if isinstance(value, ColumnElement) else literal(value)


def _filter_conditions(
    tenant_id: Any,
    user_id: Any,
    sea: str,
    *,
    category_pattern: Any = None,
    tags: Any = None,
    q: Any = None,
    q_pattern: Any = None,
    unvisited_since: Any = None,
    attrs: Any = None,
    in_my_territory: bool = False,
) -> list[ColumnElement[bool]]:
    """The shared filters. Values may be plain values (one-off queries) or bind parameters (cached ones)."""
    conditions: list[ColumnElement[bool]] = [
        merchants.c.tenant_id == tenant_id,
        # two plain comparisons rather than NOT IN: no expanding parameter, so the statement can be cached
        *(merchants.c.audit_status != status for status in HIDDEN_STATUSES),
        # closed for good (an approved correction): out of nearby, the map and the public pool
        merchants.c.closed.is_distinct_from(CLOSED_FOR_GOOD),
    ]
    sea_condition = pool.sea_filter(sea, user_id)
    if sea_condition is not None:
        conditions.append(sea_condition)
    if category_pattern is not None:
        conditions.append(merchants.c.category.like(category_pattern, escape="\\"))
    if tags is not None:
        conditions.append(merchants.c.tags.contains(tags))
    if q is not None:
        # substring for short CJK queries, trigram word similarity for typos in longer names
        conditions.append(or_(merchants.c.name.ilike(q_pattern, escape="\\"), _expr(q).op("<%")(merchants.c.name)))
    if unvisited_since is not None:
        conditions.append(or_(merchants.c.last_visit_at.is_(None), merchants.c.last_visit_at < unvisited_since))
    if attrs is not None:
        # containment, so the GIN (jsonb_path_ops) index on attributes can serve it
        conditions.append(merchants.c.attributes.contains(attrs))
    if in_my_territory:
        conditions.append(_in_territory_of(user_id))
    return conditions


def _in_territory_of(user_id: Any) -> ColumnElement[bool]:
    """Covered by a territory the user is assigned to.

    The user's territories are merged once per statement (an InitPlan) into one area; each candidate row is
    then tested against that constant, which PostGIS answers from its cached, indexed polygon. (A correlated
    EXISTS over the territories looks so costly to the planner, ST_Covers being priced high, that it gives up
    index lookups for the rest of the statement.)
    """
    area = (
        select(cast(func.ST_Multi(func.ST_Union(cast(territories.c.boundary, Geometry))), Geography))
        .select_from(territories.join(members, members.c.territory_id == territories.c.id))
        .where(members.c.user_id == user_id)
        .scalar_subquery()
    )
    return func.ST_Covers(area, merchants.c.location)


def _in_pool_group(mode: str, user_id: Any, city_names: Any, location: Any) -> list[ColumnElement[bool]]:
    """What ``claimable`` adds when the business line splits the public pool (``pool.pool_groups``)."""
    if mode == "territory":
        area = (
            select(cast(func.ST_Multi(func.ST_Union(cast(territories.c.boundary, Geometry))), Geography))
            .select_from(territories.join(members, members.c.territory_id == territories.c.id))
            .where(members.c.user_id == user_id)
            .scalar_subquery()
        )
        return [func.coalesce(func.ST_Covers(area, location), False)]
    if mode == "city":
        return [func.lower(merchants.c.city) == any_(city_names)]
    return []


def _filter_values(filters: MerchantFilters, tenant: Tenant) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if filters.attrs:
        values["attrs"] = parse_filter(tenant.settings, dict(filters.attrs))
    if filters.category:
        values["category_pattern"] = like_pattern(filters.category, anywhere=False)
    if filters.tags:
        values["tags"] = list(filters.tags)
    if filters.q:
        values["q"], values["q_pattern"] = filters.q, like_pattern(filters.q, anywhere=True)
    if filters.unvisited_days:
        values["unvisited_since"] = clock.now() - timedelta(days=filters.unvisited_days)
    return values


def _with_pool(columns: list[Any]) -> Any:
    return select(*columns).select_from(
        merchants.outerjoin(leads, leads.c.merchant_id == merchants.c.id).outerjoin(
            owners, owners.c.id == leads.c.owner_id
        )
    )


def _owner_name() -> ColumnElement[str]:
    return func.coalesce(func.nullif(owners.c.display_name, ""), owners.c.username)


# --- nearby -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NearbyQuery:
    lat: float
    lng: float
    coord_sys: CoordSys = CoordSys.WGS84
    radius_m: int = 1000
    limit: int = 20
    cursor: str | None = None
    filters: MerchantFilters = MerchantFilters()

    def echo(self) -> dict[str, Any]:
        return {
            "lat": self.lat,
            "lng": self.lng,
            "coord_sys": self.coord_sys.value,
            "radius_m": self.radius_m,
            "limit": self.limit,
            "sea": self.filters.sea,
            "category": self.filters.category,
            "tag": list(self.filters.tags),
            "q": self.filters.q,
            "unvisited_days": self.filters.unvisited_days,
            "in_my_territory": self.filters.in_my_territory,
            "attr": dict(self.filters.attrs),
        }


def nearby(user: User, tenant: Tenant, query: NearbyQuery) -> dict[str, Any]:
    """Merchants within ``radius_m`` of the caller, nearest first, one keyset page at a time."""
    shape, params, query_key = _nearby_parts(user, tenant, query)
    rows = db.execute_precompiled(_nearby_sql(*shape), params).all()
    page, more = rows[: query.limit], len(rows) > query.limit
    next_cursor = encode_cursor([page[-1].knn, page[-1].id], query_key) if more else None
    items = [_nearby_item(r, user.id, query.coord_sys) for r in page]
    # The page boundary follows the index's sphere distance; within a page show exact geodesic order.
    items.sort(key=lambda item: (item["distance_m"], item["id"]))
    return {"items": items, "next_cursor": next_cursor, "query": query.echo()}


def nearby_statement(user: User, tenant: Tenant, query: NearbyQuery) -> tuple[Any, str]:
    """The nearby page query with its values bound, and the fingerprint its cursors carry."""
    shape, params, query_key = _nearby_parts(user, tenant, query)
    return _nearby_template(*shape).params(**params), query_key


def _nearby_parts(user: User, tenant: Tenant, query: NearbyQuery) -> tuple[tuple[Any, ...], dict[str, Any], str]:
    lat, lng = to_wgs84(query.lat, query.lng, query.coord_sys)
    query_key = fingerprint({k: v for k, v in query.echo().items() if k != "limit"})
    rules = tenant.setting("pool")
    west, south, east, north = bbox_around(lat, lng, query.radius_m)
    params: dict[str, Any] = {
        "lat": lat,
        "lng": lng,
        "radius_m": float(query.radius_m),
        "west": west,
        "south": south,
        "east": east,
        "north": north,
        "tenant_id": tenant.id,
        "user_id": user.id,
        "is_bd": user.role == Role.BD,
        "claim_cap": pool.claim_cap_of(tenant, user),
        "cooldown_since": pool.cooldown_since(clock.now(), rules),
        "fetch_n": query.limit + 1,
        "limit_n": query.limit + 1,
        **_filter_values(query.filters, tenant),
    }
    if query.cursor:
        params["after_key"], params["after_id"] = decode_cursor(query.cursor, query_key, (float, int))
    pool_groups = tenant.setting("pool", "pool_groups") if user.role == Role.BD else "off"
    if pool_groups == "city":
        params["city_names"] = [name.lower() for name in pool.user_city_names(user)]
    shape = (
        query.filters.sea,
        *(name in params for name in ("category_pattern", "tags", "q", "unvisited_since", "after_key", "attrs")),
        query.filters.in_my_territory,
        pool_groups,
    )
    return shape, params, query_key


@lru_cache(maxsize=256)
def _nearby_sql(*shape: Any) -> db.Precompiled:
    return db.precompile(_nearby_template(*shape))


@lru_cache(maxsize=256)
def _nearby_template(
    sea: str,
    category: bool,
    tags: bool,
    q: bool,
    unvisited: bool,
    cursor: bool,
    attrs: bool = False,
    in_my_territory: bool = False,
    pool_groups: str = "off",
) -> Any:
    """One statement per query shape, with bind parameters: built once, and its SQL text stays the same, so
    SQLAlchemy's compiled cache and psycopg's prepared statements are reused across requests.

    Plan shape (asserted by a test): one GiST index scan on (tenant_id, location) bounded by the radius's
    bounding box and ordered by ``<->``, stopping after the page. The exact ``ST_DWithin`` is applied to
    those few rows outside: inside, PostGIS's row estimate for it on geography is so low that the
    planner would rather sort every merchant in the radius. ``FETCH ... WITH TIES`` keeps rows tied on
    distance together, so ordering the page by (distance, id) never splits a tie across pages.
    """
    p = {
        name: bindparam(name, type_=kind)
        for name, kind in (
            ("lat", Float()),
            ("lng", Float()),
            ("radius_m", Float()),
            ("west", Float()),
            ("south", Float()),
            ("east", Float()),
            ("north", Float()),
            ("tenant_id", BigInteger()),
            ("user_id", BigInteger()),
            ("is_bd", Boolean()),
            ("claim_cap", Integer()),
            ("cooldown_since", DateTime(timezone=True)),
            ("fetch_n", Integer()),
            ("limit_n", Integer()),
            ("category_pattern", String()),
            ("tags", ARRAY(String(64))),
            ("q", String()),
            ("q_pattern", String()),
            ("unvisited_since", DateTime(timezone=True)),
            ("after_key", Float()),
            ("after_id", BigInteger()),
            ("attrs", JSONB()),
            ("city_names", ARRAY(String())),
        )
    }
    origin = geo_sql.point(p["lat"], p["lng"])
    knn = geo_sql.knn_distance(merchants.c.location, origin)
    conditions = _filter_conditions(
        p["tenant_id"],
        p["user_id"],
        sea,
        category_pattern=p["category_pattern"] if category else None,
        tags=p["tags"] if tags else None,
        q=p["q"] if q else None,
        q_pattern=p["q_pattern"],
        unvisited_since=p["unvisited_since"] if unvisited else None,
        attrs=p["attrs"] if attrs else None,
        in_my_territory=in_my_territory,
    )
    conditions.append(geo_sql.in_box(merchants.c.location, geo_sql.box(p["west"], p["south"], p["east"], p["north"])))
    if cursor:
        conditions.append(or_(knn > p["after_key"], and_(knn == p["after_key"], merchants.c.id > p["after_id"])))
    candidates = (
        _with_pool(
            [
                merchants.c.id,
                merchants.c.location,
                knn.label("knn"),
                leads.c.state,
                leads.c.owner_id,
                leads.c.drops_at,
                leads.c.locked_until,
                _owner_name().label("owner_name"),
            ]
        )
        .where(*conditions)
        .order_by(knn)
        .fetch(p["fetch_n"], with_ties=True)
        .subquery("candidates")
    )
    row = candidates.c
    claimable = and_(
        p["is_bd"],
        select(func.count())
        .select_from(leads)
        .where(leads.c.owner_id == p["user_id"], leads.c.state == LeadState.PRIVATE.value)
        .scalar_subquery()
        < p["claim_cap"],
        pool.is_public(row.state),
        ~pool.in_cooldown(row.id, p["user_id"], p["cooldown_since"]),
        *_in_pool_group(pool_groups, p["user_id"], p["city_names"], row.location),
    )
    return (
        select(
            row.id,
            merchants.c.name,
            merchants.c.category,
            merchants.c.address,
            merchants.c.tags,
            merchants.c.last_visit_at,
            geo_sql.latitude(row.location).label("lat"),
            geo_sql.longitude(row.location).label("lng"),
            geo_sql.geodesic_distance(row.location, origin).label("distance_m"),
            geo_sql.bearing_deg(origin, row.location).label("bearing_deg"),
            row.knn,
            row.state,
            row.owner_id,
            row.drops_at,
            row.locked_until,
            row.owner_name,
            claimable.label("claimable"),
        )
        .select_from(candidates.join(merchants, merchants.c.id == row.id))
        .where(geo_sql.within(row.location, origin, p["radius_m"]))
        .order_by(row.knn, row.id)
        .limit(p["limit_n"])
    )


def _nearby_item(row: Any, user_id: int, coord_sys: CoordSys) -> dict[str, Any]:
    lat, lng = from_wgs84(row.lat, row.lng, coord_sys)
    return {
        "id": row.id,
        "name": row.name,
        "category": row.category,
        "address": row.address,
        "lat": round(lat, 7),
        "lng": round(lng, 7),
        "distance_m": round(row.distance_m, 2),
        "bearing_deg": round(row.bearing_deg, 1) % 360.0,
        "tags": row.tags,
        "sea": pool.sea_view(row.state, row.owner_id, row.owner_name, row.drops_at, user_id, row.locked_until),
        "claimable": bool(row.claimable),
        "last_visit_at": row.last_visit_at,
    }


# --- map view ---------------------------------------------------------------------------------------


def _wgs84_box(bbox: tuple[float, float, float, float], coord_sys: CoordSys) -> tuple[float, float, float, float]:
    min_lng, min_lat, max_lng, max_lat = bbox
    corners = [to_wgs84(lat, lng, coord_sys) for lat, lng in ((min_lat, min_lng), (max_lat, max_lng))]
    (s, w), (n, e) = corners
    return w, s, e, n


def box_size_m(west: float, south: float, east: float, north: float) -> tuple[float, float]:
    """Width and height of a WGS84 box in metres, at its middle latitude; ``BboxTooLarge`` past a city."""
    middle = (south + north) / 2
    width, height = distance_m(middle, west, middle, east), distance_m(south, west, north, west)
    if max(width, height) > MAX_BBOX_SIDE_M:
        raise BboxTooLarge(
            f"The box is {max(width, height) / 1000:.0f} km across; zoom in to at most {MAX_BBOX_SIDE_M // 1000} km.",
            errors={"query": {"bbox": [f"At most {MAX_BBOX_SIDE_M // 1000} km across."]}},
        )
    return width, height


def map_view(
    user: User,
    tenant: Tenant,
    bbox: tuple[float, float, float, float],
    zoom: int,
    coord_sys: CoordSys,
    filters: MerchantFilters,
) -> dict[str, Any]:
    """Pins when at most 500 merchants match in the box, otherwise grid clusters sized by zoom."""
    west, south, east, north = _wgs84_box(bbox, coord_sys)
    box_size_m(west, south, east, north)
    middle = (south + north) / 2
    conditions = [
        *_filter_conditions(
            tenant.id, user.id, filters.sea, in_my_territory=filters.in_my_territory, **_filter_values(filters, tenant)
        ),
        geo_sql.within_box(merchants.c.location, west, south, east, north),
    ]
    matching = db.session.scalar(
        select(func.count()).select_from(_with_pool([merchants.c.id]).where(*conditions).limit(MAX_PINS + 1).subquery())
    )
    if matching <= MAX_PINS:
        rows = db.session.execute(
            _with_pool(
                [
                    merchants.c.id,
                    merchants.c.name,
                    merchants.c.category,
                    geo_sql.latitude(merchants.c.location).label("lat"),
                    geo_sql.longitude(merchants.c.location).label("lng"),
                    leads.c.state,
                    leads.c.owner_id,
                ]
            )
            .where(*conditions)
            .order_by(merchants.c.id)
        ).all()
        pins = [_pin(row, user.id, coord_sys) for row in rows]
        return {"mode": "pins", "total": len(pins), "pins": pins, "clusters": [], "cell_deg": None}
    return _clusters(user, conditions, zoom, middle, coord_sys)


def _pin(row: Any, user_id: int, coord_sys: CoordSys) -> dict[str, Any]:
    lat, lng = from_wgs84(row.lat, row.lng, coord_sys)
    state = row.state or LeadState.PUBLIC.value
    return {
        "id": row.id,
        "name": row.name,
        "category": row.category,
        "lat": round(lat, 7),
        "lng": round(lng, 7),
        "sea_state": state,
        "mine": state != LeadState.PUBLIC.value and row.owner_id == user_id,
    }


def cell_size_deg(zoom: int, latitude: float) -> tuple[float, float]:
    """A cluster cell of about 64 screen pixels at this zoom (256-pixel Web Mercator tiles)."""
    cell_lng = 360.0 / (2**zoom) / 4
    return cell_lng, cell_lng * max(math.cos(math.radians(latitude)), 0.01)


def _clusters(
    user: User, conditions: list[ColumnElement[bool]], zoom: int, middle_lat: float, coord_sys: CoordSys
) -> dict[str, Any]:
    cell_lng, cell_lat = cell_size_deg(zoom, middle_lat)
    located = (
        _with_pool(
            [
                geo_sql.latitude(merchants.c.location).label("lat"),
                geo_sql.longitude(merchants.c.location).label("lng"),
                leads.c.state.label("state"),
                leads.c.owner_id.label("owner_id"),
            ]
        )
        .where(*conditions)
        .subquery()
    )
    state = located.c.state
    private = state == LeadState.PRIVATE.value
    partner = state == LeadState.PARTNER.value
    owned_by_me = and_(or_(private, partner), located.c.owner_id == user.id)
    statement = (
        select(
            func.count().label("count"),
            func.avg(located.c.lat).label("lat"),
            func.avg(located.c.lng).label("lng"),
            func.count().filter(or_(state.is_(None), state == LeadState.PUBLIC.value)).label("public"),
            func.count().filter(private).label("private"),
            func.count().filter(partner).label("partner"),
            func.count().filter(owned_by_me).label("mine"),
        )
        .group_by(func.floor(located.c.lng / cell_lng), func.floor(located.c.lat / cell_lat))
        .order_by(func.count().desc())
    )
    clusters = []
    for row in db.session.execute(statement):
        lat, lng = from_wgs84(row.lat, row.lng, coord_sys)
        clusters.append(
            {
                "lat": round(lat, 7),
                "lng": round(lng, 7),
                "count": row.count,
                "by_state": {"public": row.public, "private": row.private, "partner": row.partner, "mine": row.mine},
            }
        )
    total = sum(cluster["count"] for cluster in clusters)
    return {"mode": "clusters", "total": total, "pins": [], "clusters": clusters, "cell_deg": cell_lng}


def territories_covering(viewer: User, merchant_id: int) -> list[int]:
    """Ids of the (visible) territories whose boundary covers a merchant (GiST on territories.boundary)."""
    statement = (
        select(Territory.id)
        .join(Merchant, func.ST_Covers(Territory.boundary, Merchant.location))
        .where(Merchant.id == merchant_id)
        .order_by(Territory.id)
    )
    condition = territory_scope.visible_condition(viewer)
    if condition is not None:
        statement = statement.where(condition)
    return list(db.session.scalars(statement))


# --- merchant detail -------------------------------------------------------------------------------

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
           l.locked_until, l.lock_reason, l.account_owner_id,
           (SELECT coalesce(nullif(a.display_name, ''), a.username) FROM users a
            WHERE a.id = l.account_owner_id) AS account_owner_name,
           coalesce(nullif(o.display_name, ''), o.username) AS owner_name,
           o.manager_id AS owner_manager_id, ou.path AS owner_path,
           (SELECT path FROM org_units WHERE id = :caller_unit) AS caller_path,
           (SELECT count(*) FROM leads WHERE owner_id = :caller AND state = 'private') AS caller_private,
           EXISTS (SELECT 1 FROM lead_events e
                   WHERE e.merchant_id = m.id AND e.from_owner_id = :caller
                     AND e.action = ANY(CAST(:cooldown_actions AS varchar[]))
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
        'closed', m.closed,
        'created_at', m.created_at, 'updated_at', m.updated_at,
        'created_by', CASE WHEN cb.id IS NULL THEN NULL
                           ELSE json_build_object('id', cb.id,
                                                  'name', coalesce(nullif(cb.display_name, ''), cb.username)) END
      ) AS merchant,
      (SELECT coalesce(json_agg(json_build_object(
                'id', c.id, 'name', c.name, 'title', c.title, 'role', c.role, 'phones', c.phones,
                'is_key_person', c.is_key_person, 'notes', c.notes, 'last_contacted_at', c.last_contacted_at,
                'verified', c.verified)
              ORDER BY c.is_key_person DESC, c.id), '[]')
       FROM contacts c WHERE c.merchant_id = m.id) AS contacts,
      (SELECT json_build_object('total', count(*), 'verified', count(*) FILTER (WHERE v.verified))
       FROM visits v WHERE v.merchant_id = m.id) AS visit_counts,
      (SELECT coalesce(json_agg(x ORDER BY x.at DESC, x.id DESC), '[]')
       FROM (SELECT v.id, v.client_time AS at, v.verified, v.flags, v.distance_m, v.result, v.notes, v.purpose,
                    v.offline, v.photo_ids, v.form_answers, json_build_object('id', u.id,
                                                 'name', coalesce(nullif(u.display_name, ''), u.username)) AS "by"
             -- The 10 visits first, then their users: joining first touches every visit's user.
             FROM (SELECT * FROM visits v WHERE v.merchant_id = m.id
                   ORDER BY v.client_time DESC, v.id DESC LIMIT :recent_visits) v
             JOIN users u ON u.id = v.user_id) x) AS recent_visits,
      -- calls and messages (app.activities, read as a table: that package sits above this one)
      (SELECT json_build_object('total', count(*), 'calls', count(*) FILTER (WHERE a.kind = 'call'),
                                'messages', count(*) FILTER (WHERE a.kind = 'message'))
       FROM activities a WHERE a.merchant_id = m.id) AS activity_counts,
      (SELECT coalesce(json_agg(x ORDER BY x.at DESC, x.id DESC), '[]')
       FROM (SELECT a.id, a.kind, a.direction, a.occurred_at AS at, a.duration_s, a.result, a.notes,
                    json_build_object('id', u.id, 'name', coalesce(nullif(u.display_name, ''), u.username)) AS "by",
                    CASE WHEN c.id IS NULL THEN NULL ELSE json_build_object('id', c.id, 'name', c.name) END
                      AS contact
             FROM (SELECT * FROM activities a WHERE a.merchant_id = m.id
                   ORDER BY a.occurred_at DESC, a.id DESC LIMIT :recent_visits) a
             JOIN users u ON u.id = a.user_id
             LEFT JOIN contacts c ON c.id = a.contact_id) x) AS recent_activities,
      -- the latest BD observation per competitor platform (the competitor-observation visit form)
      (SELECT coalesce(json_agg(o ORDER BY o.platform), '[]')
       FROM (SELECT DISTINCT ON (co.platform) co.platform, co.online, co.offer, co.their_price, co.our_price,
                    co.price_gap, co.observed_at, co.visit_id,
                    json_build_object('id', u.id, 'name', coalesce(nullif(u.display_name, ''), u.username)) AS "by"
             FROM competitor_observations co LEFT JOIN users u ON u.id = co.user_id
             WHERE co.merchant_id = m.id
             ORDER BY co.platform, co.observed_at DESC, co.id DESC) o) AS observations,
      (SELECT coalesce(json_agg(json_build_object(
                'id', d.id, 'title', d.title, 'price', d.price, 'status', d.status,
                'started_at', d.started_at, 'ended_at', d.ended_at) ORDER BY d.price, d.id), '[]')
       FROM deals d WHERE d.merchant_id = m.id AND d.status = 'active') AS deals,
      -- ended deals stay in the sales history (the latest first)
      (SELECT coalesce(json_agg(x ORDER BY x.ended_at DESC NULLS LAST, x.id DESC), '[]')
       FROM (SELECT d.id, d.title, d.price, d.status, d.started_at, d.ended_at FROM deals d
             WHERE d.merchant_id = m.id AND d.status <> 'active'
             ORDER BY d.ended_at DESC NULLS LAST, d.id DESC LIMIT 20) x) AS ended_deals,
      -- the contracts a signing recorded (app.sales), active and ended
      (SELECT coalesce(json_agg(json_build_object(
                'id', c.id, 'number', c.number, 'type', c.type, 'starts_on', c.starts_on, 'ends_on', c.ends_on,
                'status', c.status) ORDER BY c.starts_on DESC, c.id DESC), '[]')
       FROM contracts c WHERE c.merchant_id = m.id) AS contracts,
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
    # v4: `closed`, photos, form answers, activities, observations, contracts, locks and the account owner
    return f"merchant-detail:v4:{tenant_id}:{merchant_id}:{version}"


def _cached_aggregate(tenant_id: int, merchant_id: int, version: int) -> dict[str, Any] | None:
    if not current_app.config["DETAIL_CACHE_ENABLED"]:
        return None
    try:
        raw = redis_conn.client().get(_cache_key(tenant_id, merchant_id, version))
    except RedisError as exc:
        log.warning("detail cache unavailable: %s", exc)
        metrics.CACHE_LOOKUPS.labels("merchant_detail", "error").inc()
        return None
    metrics.CACHE_LOOKUPS.labels("merchant_detail", "hit" if raw else "miss").inc()
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
    row = (
        db.session.execute(
            AGGREGATE_SQL,
            {
                "merchant_id": merchant_id,
                "tenant": tenant_id,
                "recent_visits": RECENT_VISITS,
                "since_month": _months_ago(this_month, SALES_MONTHS - 1),
                "related_stores": RELATED_STORES,
                "nearby_same_brand": NEARBY_SAME_BRAND,
            },
        )
        .mappings()
        .one()
    )
    aggregate = dict(row)
    aggregate["this_month"] = this_month.isoformat()
    return aggregate


def merchant_detail(
    caller: User, tenant: Tenant, merchant_id: int, coord_sys: CoordSys, *, _following_alias: bool = False
) -> dict[str, Any]:
    now = clock.now()
    rules = tenant.setting("pool")
    lead = db.session.execute(
        CALLER_SQL,
        {
            "merchant_id": merchant_id,
            "tenant": tenant.id,
            "caller": caller.id,
            "caller_unit": caller.org_unit_id,
            "cooldown_since": pool.cooldown_since(now, rules),
            # the rule the claim applies (a release starts the cool-down like a drop): one rule, one answer
            "cooldown_actions": list(pool.COOLDOWN_ACTIONS),
            "sees_all": caller.role in (Role.OPS, Role.ADMIN),
            "is_manager": caller.role == Role.MANAGER,
        },
    ).one_or_none()
    if lead is None:
        raise MerchantNotFound()
    if lead.merged_into_id is not None and not _following_alias:
        # a merged duplicate's id is an alias: answer with the survivor (its id tells the app to switch)
        return merchant_detail(caller, tenant, lead.merged_into_id, coord_sys, _following_alias=True)
    aggregate = _cached_aggregate(tenant.id, merchant_id, lead.detail_version)
    if aggregate is None:
        aggregate = _load_aggregate(tenant.id, merchant_id, now.date())
        # the caller-independent comparison is cached with its inputs (fuzzy title matching is not cheap)
        aggregate["competitors_section"] = _competitors_section(
            aggregate["competitors"], aggregate["deals"], aggregate["observations"]
        )
        _store_aggregate(tenant.id, merchant_id, lead.detail_version, aggregate)
    show_phones = privacy.can_see_phones(caller, lead.caller_path, lead)
    if show_phones:
        privacy.record_reveal(
            caller,
            tenant.id,
            merchant_id,
            contact_ids=[c["id"] for c in aggregate["contacts"] if c["phones"]],
            merchant_phone=bool(aggregate["merchant"].get("phone")),
        )
    return {
        "merchant": _merchant_section(aggregate["merchant"], coord_sys, show_phones),
        "contacts": [_contact(c, show_phones) for c in aggregate["contacts"]],
        "visits": _visits_section(aggregate, caller),
        "sales": _sales_section(aggregate),
        "competitors": aggregate.get("competitors_section")
        or _competitors_section(aggregate["competitors"], aggregate["deals"], aggregate["observations"]),
        "activities": _activities_section(aggregate),
        "sea": _sea_section(lead, caller, rules, pool.claim_cap_of(tenant, caller), _in_group(tenant, caller, lead)),
        "tasks": [_task(t, now) for t in lead.tasks],
        "nearby_same_brand": [_positioned(store, coord_sys) for store in aggregate["nearby_same_brand"]],
        "phones_masked": not show_phones,
    }


def _positioned(item: dict[str, Any], coord_sys: CoordSys) -> dict[str, Any]:
    lat, lng = from_wgs84(item["lat"], item["lng"], coord_sys)
    return {
        **item,
        "lat": round(lat, 7),
        "lng": round(lng, 7),
        **({"distance_m": round(item["distance_m"], 1)} if "distance_m" in item else {}),
    }


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


def _photo_viewable_authors(caller: User, visits: list[dict[str, Any]]) -> set[int]:
    """Whose visit photos the caller may load: the visit-visibility rule (their own as a BD, their people's as
    a manager, everyone's for ops and admins); colleagues see the visit history but not the photos."""
    authors = {visit["by"]["id"] for visit in visits if visit["photo_ids"]}
    if not authors or caller.role in (Role.OPS, Role.ADMIN):
        return authors
    if caller.role != Role.MANAGER:
        return authors & {caller.id}
    return set(db.session.scalars(visible_user_ids(caller).where(User.id.in_(authors))))


def _visit_summary(visit: dict[str, Any], may_see_photos: bool) -> dict[str, Any]:
    summary = {key: value for key, value in visit.items() if key != "photo_ids"}
    summary["photo_count"] = len(visit["photo_ids"])
    summary["photos"] = photo_links(visit["photo_ids"]) if may_see_photos else []
    return summary


def _visits_section(aggregate: dict[str, Any], caller: User) -> dict[str, Any]:
    visits = aggregate["recent_visits"]
    viewable = _photo_viewable_authors(caller, visits)
    recent = [_visit_summary(visit, visit["by"]["id"] in viewable) for visit in visits]
    return {
        "total": aggregate["visit_counts"]["total"],
        "verified": aggregate["visit_counts"]["verified"],
        "last_visit": recent[0] if recent else None,
        "recent": recent,
    }


def _activities_section(aggregate: dict[str, Any]) -> dict[str, Any]:
    return {**aggregate["activity_counts"], "recent": aggregate["recent_activities"]}


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
        "ended_deals": [{**deal, "price": float(deal["price"])} for deal in aggregate.get("ended_deals") or []],
        "contracts": aggregate.get("contracts") or [],
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


def _observation(row: dict[str, Any]) -> dict[str, Any]:
    return {
        **row,
        **{k: float(row[k]) if row[k] is not None else None for k in ("their_price", "our_price", "price_gap")},
    }


def _competitors_section(
    records: list[dict[str, Any]], our_deals: list[dict[str, Any]], observations: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Per platform, each of their deals against our most comparable active deal (by title), and what a BD
    last observed there."""
    observed = {row["platform"]: _observation(row) for row in observations}
    section = []
    for record in records:
        comparisons = []
        for deal in record["deals"] or []:
            their_price = float(deal["price"])
            ours = max(our_deals, key=lambda d: _similarity(d["title"], deal["title"]), default=None)
            comparison = {
                "their_title": deal["title"],
                "their_price": their_price,
                "monthly_sales": deal.get("monthly_sales"),
            }
            if ours is not None:
                our_price = float(ours["price"])
                comparison.update(
                    {
                        "our_deal_id": ours["id"],
                        "our_title": ours["title"],
                        "our_price": our_price,
                        "difference": round(our_price - their_price, 2),
                        "price_disadvantage": their_price < our_price,
                    }
                )
            else:
                comparison.update(
                    {
                        "our_deal_id": None,
                        "our_title": None,
                        "our_price": None,
                        "difference": None,
                        "price_disadvantage": False,
                    }
                )
            comparisons.append(comparison)
        section.append(
            {
                "platform": record["platform"],
                "online": record["online"],
                "captured_at": record["captured_at"],
                "deals": comparisons,
                "price_disadvantage": any(c["price_disadvantage"] for c in comparisons),
                "latest_observation": observed.get(record["platform"]),
            }
        )
    return section


def _in_group(tenant: Tenant, caller: User, lead: Any) -> bool:
    """Whether a BD may claim here under the business line's pool groups (asked only when it matters)."""
    if caller.role != Role.BD or tenant.setting("pool", "pool_groups") == "off" or (lead.state or "public") != "public":
        return True
    return pool.in_pool_group(tenant, caller, db.get(Merchant, lead.id))


def _sea_section(lead: Any, caller: User, rules: dict[str, Any], claim_cap: int, in_group: bool) -> dict[str, Any]:
    view = pool.sea_view(lead.state, lead.owner_id, lead.owner_name, lead.drops_at, caller.id, lead.locked_until)
    private = view["state"] == "private"
    claimable = (
        caller.role == Role.BD
        and view["state"] == "public"
        and lead.caller_private < claim_cap
        and in_group
        and not lead.caller_in_cooldown
    )
    return {
        **view,
        "claimed_at": lead.claimed_at if view["state"] != "public" else None,
        "drops_at": lead.drops_at if private else None,
        "drop_reason": lead.drop_reason if private else None,
        "extensions_left": max(0, rules["max_extensions"] - (lead.extensions_used or 0)) if private else None,
        "lock_reason": lead.lock_reason if view["locked_until"] else None,
        "account_owner": (
            {"id": lead.account_owner_id, "name": lead.account_owner_name} if lead.account_owner_id else None
        ),
        "claimable": claimable,
    }


def _task(task: dict[str, Any], now: datetime) -> dict[str, Any]:
    due = datetime.fromisoformat(task["due_at"]) if task["due_at"] else None
    return {**task, "overdue": bool(due and due < now)}


# --- the history of a merchant's fields ------------------------------------------------------------------------

CHANGES_SQL = text(
    """
    SELECT c.id, c.field, c.before, c.after, c.source, c.details, c.created_at AS at,
           CASE WHEN u.id IS NULL THEN NULL
                ELSE json_build_object('id', u.id, 'name', coalesce(nullif(u.display_name, ''), u.username)) END
             AS "by"
    FROM merchant_changes c LEFT JOIN users u ON u.id = c.actor_id
    WHERE c.merchant_id = :merchant_id AND c.tenant_id = :tenant
      AND (CAST(:before_id AS bigint) IS NULL OR c.id < :before_id)
    ORDER BY c.id DESC
    LIMIT :limit
    """
)


def _change_value(field: str, value: Any, coord_sys: CoordSys, show_phones: bool) -> Any:
    if field == "position" and isinstance(value, dict):
        lat, lng = from_wgs84(value["lat"], value["lng"], coord_sys)
        return {"lat": round(lat, 7), "lng": round(lng, 7)}
    if field == "phone" and isinstance(value, str) and value and not show_phones:
        return ";".join(mask_phone(p) for p in value.split(";"))
    return value


def merchant_changes(
    merchant_id: int, tenant_id: int, coord_sys: CoordSys, limit: int, cursor: str | None, *, show_phones: bool
) -> dict[str, Any]:
    """A merchant's field changes, newest first, keyset-paged by id."""
    query = f"merchant-changes:{merchant_id}"
    before_id = decode_cursor(cursor, query, (int,))[0] if cursor else None
    rows = (
        db.session.execute(
            CHANGES_SQL, {"merchant_id": merchant_id, "tenant": tenant_id, "before_id": before_id, "limit": limit + 1}
        )
        .mappings()
        .all()
    )
    items = [
        {
            **row,
            "before": _change_value(row["field"], row["before"], coord_sys, show_phones),
            "after": _change_value(row["field"], row["after"], coord_sys, show_phones),
        }
        for row in rows[:limit]
    ]
    more = len(rows) > limit
    return {
        "items": items,
        "coord_sys": coord_sys.value,
        "next_cursor": encode_cursor([items[-1]["id"]], query) if more else None,
    }
