"""Merchant reads for the street: the nearby list and the map view.

These are the hottest endpoints of the app, so they run one Core statement each (no ORM objects) and
build plain dicts for a fast serialiser. The tenant filter is explicit here because Core statements do
not pass through the ORM tenant scope.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache
from typing import Any

from geoalchemy2 import Geography, Geometry
from sqlalchemy import (
    ARRAY,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    Integer,
    String,
    and_,
    bindparam,
    cast,
    func,
    literal,
    or_,
    select,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.sql.elements import ColumnElement

from app import clock, db
from app.errors import BboxTooLarge
from app.merchants import pool
from app.merchants.models import AuditStatus, Lead, LeadState, Merchant
from app.org.models import Role, User
from app.pagination import decode_cursor, encode_cursor, fingerprint
from app.tenants.custom_fields import parse_filter
from app.tenants.models import Tenant
from app.territories import service as territory_scope
from app.territories.models import Territory, TerritoryMember
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
    tenant_id: Any, user_id: Any, sea: str, *, category_pattern: Any = None, tags: Any = None, q: Any = None,
    q_pattern: Any = None, unvisited_since: Any = None, attrs: Any = None, in_my_territory: bool = False,
) -> list[ColumnElement[bool]]:
    """The shared filters. Values may be plain values (one-off queries) or bind parameters (cached ones)."""
    conditions: list[ColumnElement[bool]] = [
        merchants.c.tenant_id == tenant_id,
        # two plain comparisons rather than NOT IN: no expanding parameter, so the statement can be cached
        *(merchants.c.audit_status != status for status in HIDDEN_STATUSES),
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
    return (
        select(*columns)
        .select_from(
            merchants.outerjoin(leads, leads.c.merchant_id == merchants.c.id).outerjoin(
                owners, owners.c.id == leads.c.owner_id
            )
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
        "lat": lat, "lng": lng, "radius_m": float(query.radius_m), "west": west, "south": south, "east": east,
        "north": north, "tenant_id": tenant.id, "user_id": user.id, "is_bd": user.role == Role.BD,
        "claim_cap": rules["claim_cap"], "cooldown_since": pool.cooldown_since(clock.now(), rules),
        "fetch_n": query.limit + 1, "limit_n": query.limit + 1, **_filter_values(query.filters, tenant),
    }
    if query.cursor:
        params["after_key"], params["after_id"] = decode_cursor(query.cursor, query_key, (float, int))
    shape = (query.filters.sea, *(name in params for name in (
        "category_pattern", "tags", "q", "unvisited_since", "after_key", "attrs")), query.filters.in_my_territory)
    return shape, params, query_key


@lru_cache(maxsize=256)
def _nearby_sql(*shape: Any) -> db.Precompiled:
    return db.precompile(_nearby_template(*shape))


@lru_cache(maxsize=256)
def _nearby_template(sea: str, category: bool, tags: bool, q: bool, unvisited: bool, cursor: bool,
                     attrs: bool = False, in_my_territory: bool = False) -> Any:
    """One statement per query shape, with bind parameters: built once, and its SQL text stays the same, so
    SQLAlchemy's compiled cache and psycopg's prepared statements are reused across requests.

    Plan shape (asserted by a test): one GiST index scan on (tenant_id, location) bounded by the radius's
    bounding box and ordered by ``<->``, stopping after the page. The exact ``ST_DWithin`` is applied to
    those few rows outside: inside, PostGIS's row estimate for it on geography is so low that the
    planner would rather sort every merchant in the radius. ``FETCH ... WITH TIES`` keeps rows tied on
    distance together, so ordering the page by (distance, id) never splits a tie across pages.
    """
    p = {name: bindparam(name, type_=kind) for name, kind in (
        ("lat", Float()), ("lng", Float()), ("radius_m", Float()), ("west", Float()), ("south", Float()),
        ("east", Float()), ("north", Float()), ("tenant_id", BigInteger()), ("user_id", BigInteger()),
        ("is_bd", Boolean()), ("claim_cap", Integer()), ("cooldown_since", DateTime(timezone=True)),
        ("fetch_n", Integer()), ("limit_n", Integer()), ("category_pattern", String()),
        ("tags", ARRAY(String(64))), ("q", String()), ("q_pattern", String()),
        ("unvisited_since", DateTime(timezone=True)), ("after_key", Float()), ("after_id", BigInteger()),
        ("attrs", JSONB()),
    )}
    origin = geo_sql.point(p["lat"], p["lng"])
    knn = geo_sql.knn_distance(merchants.c.location, origin)
    conditions = _filter_conditions(
        p["tenant_id"], p["user_id"], sea,
        category_pattern=p["category_pattern"] if category else None, tags=p["tags"] if tags else None,
        q=p["q"] if q else None, q_pattern=p["q_pattern"], unvisited_since=p["unvisited_since"] if unvisited else None,
        attrs=p["attrs"] if attrs else None, in_my_territory=in_my_territory,
    )
    conditions.append(geo_sql.in_box(merchants.c.location, geo_sql.box(p["west"], p["south"], p["east"], p["north"])))
    if cursor:
        conditions.append(or_(knn > p["after_key"], and_(knn == p["after_key"], merchants.c.id > p["after_id"])))
    candidates = (
        _with_pool([
            merchants.c.id, merchants.c.location, knn.label("knn"), leads.c.state, leads.c.owner_id,
            leads.c.drops_at, _owner_name().label("owner_name"),
        ])
        .where(*conditions)
        .order_by(knn)
        .fetch(p["fetch_n"], with_ties=True)
        .subquery("candidates")
    )
    row = candidates.c
    claimable = and_(
        p["is_bd"],
        select(func.count()).select_from(leads).where(
            leads.c.owner_id == p["user_id"], leads.c.state == LeadState.PRIVATE.value
        ).scalar_subquery() < p["claim_cap"],
        pool.is_public(row.state),
        ~pool.in_cooldown(row.id, p["user_id"], p["cooldown_since"]),
    )
    return (
        select(
            row.id, merchants.c.name, merchants.c.category, merchants.c.address, merchants.c.tags,
            merchants.c.last_visit_at,
            geo_sql.latitude(row.location).label("lat"), geo_sql.longitude(row.location).label("lng"),
            geo_sql.geodesic_distance(row.location, origin).label("distance_m"),
            geo_sql.bearing_deg(origin, row.location).label("bearing_deg"),
            row.knn, row.state, row.owner_id, row.drops_at, row.owner_name, claimable.label("claimable"),
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
        "sea": pool.sea_view(row.state, row.owner_id, row.owner_name, row.drops_at, user_id),
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
        raise BboxTooLarge(f"The box is {max(width, height) / 1000:.0f} km across; zoom in to at most "
                           f"{MAX_BBOX_SIDE_M // 1000} km.",
                           errors={"query": {"bbox": [f"At most {MAX_BBOX_SIDE_M // 1000} km across."]}})
    return width, height


def map_view(
    user: User, tenant: Tenant, bbox: tuple[float, float, float, float], zoom: int, coord_sys: CoordSys,
    filters: MerchantFilters,
) -> dict[str, Any]:
    """Pins when at most 500 merchants match in the box, otherwise grid clusters sized by zoom."""
    west, south, east, north = _wgs84_box(bbox, coord_sys)
    box_size_m(west, south, east, north)
    middle = (south + north) / 2
    conditions = [
        *_filter_conditions(tenant.id, user.id, filters.sea, in_my_territory=filters.in_my_territory,
                            **_filter_values(filters, tenant)),
        geo_sql.within_box(merchants.c.location, west, south, east, north),
    ]
    matching = db.session.scalar(
        select(func.count()).select_from(_with_pool([merchants.c.id]).where(*conditions).limit(MAX_PINS + 1).subquery())
    )
    if matching <= MAX_PINS:
        rows = db.session.execute(
            _with_pool([
                merchants.c.id, merchants.c.name, merchants.c.category,
                geo_sql.latitude(merchants.c.location).label("lat"),
                geo_sql.longitude(merchants.c.location).label("lng"),
                leads.c.state, leads.c.owner_id,
            ]).where(*conditions).order_by(merchants.c.id)
        ).all()
        pins = [_pin(row, user.id, coord_sys) for row in rows]
        return {"mode": "pins", "total": len(pins), "pins": pins, "clusters": [], "cell_deg": None}
    return _clusters(user, conditions, zoom, middle, coord_sys)


def _pin(row: Any, user_id: int, coord_sys: CoordSys) -> dict[str, Any]:
    lat, lng = from_wgs84(row.lat, row.lng, coord_sys)
    state = row.state or LeadState.PUBLIC.value
    return {
        "id": row.id, "name": row.name, "category": row.category, "lat": round(lat, 7), "lng": round(lng, 7),
        "sea_state": state, "mine": state != LeadState.PUBLIC.value and row.owner_id == user_id,
    }


def cell_size_deg(zoom: int, latitude: float) -> tuple[float, float]:
    """A cluster cell of about 64 screen pixels at this zoom (256-pixel Web Mercator tiles)."""
    cell_lng = 360.0 / (2**zoom) / 4
    return cell_lng, cell_lng * max(math.cos(math.radians(latitude)), 0.01)


def _clusters(
    user: User, conditions: list[ColumnElement[bool]], zoom: int, middle_lat: float, coord_sys: CoordSys
) -> dict[str, Any]:
    cell_lng, cell_lat = cell_size_deg(zoom, middle_lat)
    located = _with_pool([
        geo_sql.latitude(merchants.c.location).label("lat"),
        geo_sql.longitude(merchants.c.location).label("lng"),
        leads.c.state.label("state"), leads.c.owner_id.label("owner_id"),
    ]).where(*conditions).subquery()
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
        clusters.append({
            "lat": round(lat, 7), "lng": round(lng, 7), "count": row.count,
            "by_state": {"public": row.public, "private": row.private, "partner": row.partner, "mine": row.mine},
        })
    total = sum(cluster["count"] for cluster in clusters)
    return {"mode": "clusters", "total": total, "pins": [], "clusters": clusters, "cell_deg": cell_lng}


def territories_covering(viewer: User, merchant_id: int) -> list[int]:
    """Ids of the (visible) territories whose boundary covers a merchant (GiST on territories.boundary)."""
    statement = (
        select(Territory.id).join(Merchant, func.ST_Covers(Territory.boundary, Merchant.location))
        .where(Merchant.id == merchant_id).order_by(Territory.id)
    )
    condition = territory_scope.visible_condition(viewer)
    if condition is not None:
        statement = statement.where(condition)
    return list(db.session.scalars(statement))
