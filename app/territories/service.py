"""Territories: drawing them (validated boundaries, overlap report), assigning BDs, and what they cover.

Who sees what: ops and admins every territory of the tenant, managers those of teams in their org
subtree, BDs those they are assigned to. Only managers (in their subtree) and admins change them.
Anything outside the caller's view is a 404, never a 403, so ids cannot be probed.
"""

from __future__ import annotations

from typing import Any

from geoalchemy2.shape import to_shape
from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.sql.elements import ColumnElement

from app import db, pagination
from app.errors import (
    Forbidden,
    InvalidGeometry,
    NotFound,
    TeamNotFound,
    TerritoryExists,
    TerritoryNotFound,
    UnknownUsers,
)
from app.org.models import OrgUnit, Role, User
from app.org.scope import managed_unit_ids, managed_user_ids, manages_unit
from app.tenants.models import Tenant
from app.territories.models import Territory, TerritoryMember
from geo import sql as geo_sql
from geo.territory import TerritoryGeometryError, TerritoryShape, validate_territory

# a shared edge has zero area; anything below a square metre is drawing noise, not an overlap
MIN_OVERLAP_M2 = 1.0


def _not_found() -> NotFound:
    return TerritoryNotFound()


def visible_condition(viewer: User) -> ColumnElement[bool] | None:
    """The territories a viewer may read (None: every territory of the tenant)."""
    if viewer.role in (Role.OPS, Role.ADMIN):
        return None
    if viewer.role == Role.MANAGER:
        return Territory.team_id.in_(managed_unit_ids(viewer))
    return Territory.id.in_(select(TerritoryMember.territory_id).where(TerritoryMember.user_id == viewer.id))


def get_visible(viewer: User, territory_id: int) -> Territory:
    statement = select(Territory).where(Territory.id == territory_id)
    condition = visible_condition(viewer)
    if condition is not None:
        statement = statement.where(condition)
    territory = db.session.scalar(statement)
    if territory is None:
        raise _not_found()
    return territory


def _get_editable(editor: User, territory_id: int, *, lock: bool = False) -> Territory:
    if editor.role not in (Role.MANAGER, Role.ADMIN):
        raise _forbidden()
    territory = get_visible(editor, territory_id)
    if lock:
        db.session.execute(select(Territory.id).where(Territory.id == territory.id).with_for_update())
    return territory


def _forbidden() -> Forbidden:
    return Forbidden("Only managers (in their subtree) and admins change territories.")


def _team(editor: User, team_id: int) -> OrgUnit:
    if editor.role not in (Role.MANAGER, Role.ADMIN):
        raise _forbidden()
    unit = db.get(OrgUnit, team_id)
    if unit is None or (editor.role == Role.MANAGER and not manages_unit(editor, unit)):
        raise TeamNotFound()
    return unit


def _shape(tenant: Tenant, geometry: Any) -> TerritoryShape:
    rules = tenant.setting("territory")
    try:
        return validate_territory(geometry, max_vertices=rules["max_vertices"], max_area_km2=rules["max_area_km2"])
    except TerritoryGeometryError as exc:
        raise InvalidGeometry(
            f"The territory's geometry is invalid: {exc.reason}",
            errors={"json": {"geometry": [exc.reason]}},
            extra={"geometry_error": exc.as_dict()},
        ) from exc


def overlaps(territory: Territory) -> list[dict[str, Any]]:
    """Other territories of the same team whose area overlaps this one's, largest overlap first."""
    other = Territory.__table__.alias("other")
    mine = Territory.__table__
    overlap = func.ST_Area(func.ST_Intersection(mine.c.boundary, other.c.boundary))
    rows = db.session.execute(
        select(other.c.id, other.c.name, overlap.label("overlap_m2"))
        .select_from(mine.join(other, func.ST_Intersects(mine.c.boundary, other.c.boundary)))
        .where(
            mine.c.id == territory.id,
            other.c.id != territory.id,
            other.c.team_id == territory.team_id,
            other.c.tenant_id == territory.tenant_id,
        )
        .order_by(overlap.desc())
    ).all()
    return [
        {"id": r.id, "name": r.name, "overlap_m2": round(r.overlap_m2, 1)}
        for r in rows
        if r.overlap_m2 >= MIN_OVERLAP_M2
    ]


def _apply_shape(territory: Territory, shape: TerritoryShape) -> None:
    territory.boundary = geo_sql.shape_value(shape.geometry)
    territory.area_m2, territory.vertices = shape.area_m2, shape.vertices


def create(editor: User, tenant: Tenant, fields: dict[str, Any]) -> dict[str, Any]:
    team = _team(editor, fields["team_id"])
    shape = _shape(tenant, fields["geometry"])
    territory = Territory(tenant_id=tenant.id, team_id=team.id, name=fields["name"], created_by_id=editor.id)
    _apply_shape(territory, shape)
    db.session.add(territory)
    db.flush_unique(TerritoryExists)
    return view(territory, with_overlaps=True)


def update(editor: User, tenant: Tenant, territory_id: int, fields: dict[str, Any]) -> dict[str, Any]:
    territory = _get_editable(editor, territory_id, lock=True)
    if "team_id" in fields:
        territory.team_id = _team(editor, fields["team_id"]).id
    if "name" in fields:
        territory.name = fields["name"]
    if "geometry" in fields:
        _apply_shape(territory, _shape(tenant, fields["geometry"]))
    db.flush_unique(TerritoryExists)
    return view(territory, with_overlaps=True)


def remove(editor: User, territory_id: int) -> None:
    territory = _get_editable(editor, territory_id)
    db.session.delete(territory)
    db.session.flush()


def set_members(editor: User, territory_id: int, user_ids: list[int]) -> dict[str, Any]:
    """Replace the territory's BDs: active BDs of the tenant, and for a manager only BDs they manage."""
    territory = _get_editable(editor, territory_id, lock=True)
    wanted = list(dict.fromkeys(user_ids))
    candidates = select(User.id).where(User.id.in_(wanted), User.role == Role.BD, User.is_active.is_(True))
    if editor.role == Role.MANAGER:
        candidates = candidates.where(User.id.in_(managed_user_ids(editor)))
    found = set(db.session.scalars(candidates))
    missing = [uid for uid in wanted if uid not in found]
    if missing:
        raise UnknownUsers(
            "Unknown, inactive or out-of-scope BDs.",
            errors={"json": {"user_ids": [f"Not active BDs you manage: {missing[:20]}"]}},
        )
    db.session.execute(
        delete(TerritoryMember).where(
            TerritoryMember.territory_id == territory.id, TerritoryMember.user_id.not_in(wanted)
        )
    )
    if wanted:
        db.session.execute(
            insert(TerritoryMember)
            .values(
                [{"territory_id": territory.id, "user_id": uid, "tenant_id": territory.tenant_id} for uid in wanted]
            )
            .on_conflict_do_nothing()
        )
    db.session.flush()
    return view(territory)


def member_ids(territory_id: int) -> list[int]:
    return list(
        db.session.scalars(
            select(TerritoryMember.user_id)
            .where(TerritoryMember.territory_id == territory_id)
            .order_by(TerritoryMember.user_id)
        )
    )


def active_member_bds(viewer: User, territory_id: int) -> list[int]:
    """The active BDs assigned to a territory the viewer can see (task targeting)."""
    territory = get_visible(viewer, territory_id)
    return list(
        db.session.scalars(
            select(User.id)
            .join(TerritoryMember, TerritoryMember.user_id == User.id)
            .where(TerritoryMember.territory_id == territory.id, User.role == Role.BD, User.is_active.is_(True))
            .order_by(User.id)
        )
    )


def view(territory: Territory, *, with_overlaps: bool = False, with_geometry: bool = True) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": territory.id,
        "name": territory.name,
        "team_id": territory.team_id,
        "area_m2": round(territory.area_m2, 1),
        "vertices": territory.vertices,
        "member_ids": member_ids(territory.id),
        "created_at": territory.created_at,
    }
    if with_geometry:
        body["geometry"] = TerritoryShape(to_shape(territory.boundary), territory.area_m2, territory.vertices).geojson()
    if with_overlaps:
        body["overlaps"] = overlaps(territory)
    return body


def list_territories(
    viewer: User,
    team_id: int | None = None,
    user_id: int | None = None,
    *,
    limit: int = 100,
    cursor: str | None = None,
) -> dict[str, Any]:
    statement = select(Territory)
    condition = visible_condition(viewer)
    if condition is not None:
        statement = statement.where(condition)
    if team_id is not None:
        statement = statement.where(Territory.team_id == team_id)
    if user_id is not None:
        statement = statement.where(
            Territory.id.in_(select(TerritoryMember.territory_id).where(TerritoryMember.user_id == user_id))
        )
    rows, next_cursor = pagination.keyset_page(
        statement,
        (Territory.name, Territory.id),
        (str, int),
        lambda row: [row[0].name, row[0].id],
        limit=limit,
        cursor=cursor,
        params={"territories": viewer.id, "team_id": team_id, "user_id": user_id},
    )
    items = [view(territory, with_geometry=False) for (territory,) in rows]
    return {"items": items, "next_cursor": next_cursor, "total": pagination.count(statement)}
