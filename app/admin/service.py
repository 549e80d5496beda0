"""Admin writes on the org tree and its users, behind the API.

Admins manage the whole tenant. Managers manage their subtree: they create sub-units under their
own unit, create BDs in it, move BDs and units within it, and deactivate their BDs. Anything outside
the caller's reach is a 404 (the id might as well not exist).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, func, select, update

from app import clock, db, pagination
from app.audit import service as audit_log
from app.auth.service import revoke_all_sessions
from app.devices.models import Device
from app.errors import (
    Forbidden,
    OrgCycle,
    OrgUnitExists,
    OrgUnitNotFound,
    SelfDemotion,
    UnknownOrgUnit,
    UnknownUsers,
    UserNotFound,
    ValidationFailed,
)
from app.leads.rules import drop_clock
from app.merchants.models import Lead, LeadEvent, LeadState, touch
from app.org import passwords
from app.org import service as org
from app.org.models import OrgKind, OrgUnit, Role, User
from app.org.scope import managed_unit_ids, managed_user_ids, manages, unit_path
from app.tenants.models import Tenant
from app.territories.models import Territory, TerritoryMember

EDITORS = (Role.MANAGER, Role.ADMIN)


def _ensure_editor(actor: User) -> None:
    if actor.role not in EDITORS:
        raise Forbidden("Only admins and managers manage the org.")


# --- org units ----------------------------------------------------------------------------------


def visible_units(viewer: User):
    statement = select(OrgUnit).order_by(OrgUnit.path)
    if viewer.role == Role.MANAGER:
        statement = statement.where(OrgUnit.id.in_(managed_unit_ids(viewer)))
    elif viewer.role == Role.BD:
        statement = statement.where(OrgUnit.id == viewer.org_unit_id)
    return statement


def list_units(viewer: User, limit: int, cursor: str | None) -> dict[str, Any]:
    """Root first: in the order of the units' paths, the unit's id breaking ties."""
    statement = visible_units(viewer)
    rows, next_cursor = pagination.keyset_page(
        statement,
        (OrgUnit.path, OrgUnit.id),
        (str, int),
        lambda row: [row[0].path, row[0].id],
        limit=limit,
        cursor=cursor,
        params={"units": viewer.id},
    )
    items = [unit_view(unit) for (unit,) in rows]
    return {"items": items, "next_cursor": next_cursor, "total": pagination.count(statement)}


def unit_view(unit: OrgUnit) -> dict[str, Any]:
    return {
        "id": unit.id,
        "name": unit.name,
        "kind": unit.kind.value,
        "parent_id": unit.parent_id,
        "path": unit.path,
        "manager_id": unit.manager_id,
    }


def _unit(actor: User, unit_id: int, field: str | None = None) -> OrgUnit:
    unit = db.session.scalar(visible_units(actor).where(OrgUnit.id == unit_id))
    if unit is None:
        if field:
            raise UnknownOrgUnit(errors={"json": {field: ["No such org unit in your subtree."]}})
        raise OrgUnitNotFound()
    return unit


def _unit_manager(actor: User, manager_id: int | None) -> int | None:
    if manager_id is None:
        return None
    user = _user(actor, manager_id, field="manager_id", include_self=True)
    if user.role != Role.MANAGER or not user.is_active:
        raise UnknownUsers("Not an active manager.", errors={"json": {"manager_id": ["Not an active manager."]}})
    return user.id


def create_unit(actor: User, fields: dict[str, Any]) -> dict[str, Any]:
    _ensure_editor(actor)
    parent = _unit(actor, fields["parent_id"], "parent_id") if fields.get("parent_id") else None
    if parent is None and actor.role != Role.ADMIN:
        raise Forbidden("Only admins create top-level units.")
    unit = OrgUnit(
        tenant_id=actor.tenant_id,
        name=fields["name"],
        kind=OrgKind(fields["kind"]),
        parent_id=parent.id if parent else None,
        path="/",
        manager_id=_unit_manager(actor, fields.get("manager_id")),
    )
    db.session.add(unit)
    db.flush_unique(OrgUnitExists)
    unit.path = f"{parent.path if parent else '/'}{unit.id}/"
    db.flush_unique(OrgUnitExists)
    return unit_view(unit)


def update_unit(actor: User, unit_id: int, fields: dict[str, Any]) -> dict[str, Any]:
    """Rename a unit, set its manager, or move it (with its whole subtree) under another parent."""
    _ensure_editor(actor)
    unit = _unit(actor, unit_id)
    if "name" in fields:
        unit.name = fields["name"]
    if "manager_id" in fields:
        unit.manager_id = _unit_manager(actor, fields["manager_id"])
    if "parent_id" in fields and fields["parent_id"] != unit.parent_id:
        if actor.role == Role.MANAGER and unit.id == actor.org_unit_id:
            raise Forbidden("Managers cannot move their own unit.")
        _move_unit(actor, unit, fields["parent_id"])
    db.flush_unique(OrgUnitExists)
    return unit_view(unit)


def _move_unit(actor: User, unit: OrgUnit, parent_id: int | None) -> None:
    if parent_id is None:
        if actor.role != Role.ADMIN:
            raise Forbidden("Only admins make top-level units.")
        new_parent_path = "/"
    else:
        parent = _unit(actor, parent_id, "parent_id")
        if parent.path.startswith(unit.path):
            raise OrgCycle(errors={"json": {"parent_id": ["Inside the unit being moved."]}})
        new_parent_path = parent.path
    old_path, new_path = unit.path, f"{new_parent_path}{unit.id}/"
    # one statement rewrites the whole subtree's paths: "everything under X" stays one prefix match
    db.session.execute(
        update(OrgUnit)
        .where(OrgUnit.path.startswith(old_path))
        .values(path=func.concat(new_path, func.substr(OrgUnit.path, len(old_path) + 1)))
        .execution_options(synchronize_session=False)
    )
    unit.parent_id = parent_id
    unit.path = new_path


# --- users --------------------------------------------------------------------------------------


def visible_users(viewer: User):
    statement = select(User).order_by(User.id)
    if viewer.role == Role.MANAGER:
        statement = statement.where(User.id.in_(managed_user_ids(viewer)) | (User.id == viewer.id))
    elif viewer.role == Role.BD:
        statement = statement.where(User.id == viewer.id)
    return statement


def user_view(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "username": user.username,
        "display_name": user.display_name,
        "role": user.role.value,
        "org_unit_id": user.org_unit_id,
        "manager_id": user.manager_id,
        "phone": user.phone,
        "rank": user.rank,
        "is_active": user.is_active,
        "deactivated_at": user.deactivated_at,
    }


def list_users(viewer: User, filters: dict[str, Any]) -> dict[str, Any]:
    statement = visible_users(viewer)
    if filters.get("role"):
        statement = statement.where(User.role == Role(filters["role"]))
    if filters.get("org_unit_id"):
        statement = statement.where(User.org_unit_id == filters["org_unit_id"])
    if filters.get("active") is not None:
        statement = statement.where(User.is_active.is_(filters["active"]))
    rows, next_cursor = pagination.keyset_page(
        statement,
        (User.id,),
        (int,),
        lambda row: [row[0].id],
        limit=filters["limit"],
        cursor=filters.get("cursor"),
        params={"users": viewer.id, **{k: v for k, v in filters.items() if k not in ("limit", "cursor")}},
    )
    items = [user_view(user) for (user,) in rows]
    return {"items": items, "next_cursor": next_cursor, "total": pagination.count(statement)}


def _user(actor: User, user_id: int, *, field: str | None = None, include_self: bool = True) -> User:
    user = db.session.scalar(visible_users(actor).where(User.id == user_id))
    if user is None or (not include_self and user.id == actor.id):
        if field:
            raise UnknownUsers("Unknown user.", errors={"json": {field: ["No such user you manage."]}})
        raise UserNotFound()
    return user


def get_user(viewer: User, user_id: int) -> dict[str, Any]:
    return user_view(_user(viewer, user_id))


def _check_role(actor: User, role: Role) -> None:
    if actor.role == Role.MANAGER and role != Role.BD:
        raise Forbidden("Managers create and manage BDs only; ask an admin for other roles.")


def create_user(actor: User, fields: dict[str, Any]) -> dict[str, Any]:
    _ensure_editor(actor)
    role = Role(fields["role"])
    _check_role(actor, role)
    unit = _unit(actor, fields["org_unit_id"], "org_unit_id") if fields.get("org_unit_id") else None
    if actor.role == Role.MANAGER and unit is None:
        raise ValidationFailed("Give the BD's org unit.", errors={"json": {"org_unit_id": ["Required for managers."]}})
    manager_id = fields.get("manager_id")
    if manager_id is not None:
        _unit_manager(actor, manager_id)
    elif actor.role == Role.MANAGER:
        manager_id = actor.id
    user = org.add_user(
        actor.tenant_id,
        fields["username"],
        fields["password"],
        role,
        display_name=fields.get("display_name") or "",
        org_unit_id=unit.id if unit else None,
        manager_id=manager_id,
        phone=fields.get("phone"),
    )
    return user_view(user)


def update_user(actor: User, user_id: int, fields: dict[str, Any]) -> dict[str, Any]:
    """Change a user's details, role (admins), org unit (a move) or manager."""
    _ensure_editor(actor)
    user = _user(actor, user_id, include_self=actor.role == Role.ADMIN)
    _check_role(actor, user.role)
    if "role" in fields:
        if actor.role != Role.ADMIN:
            raise Forbidden("Only admins change roles.")
        if user.id == actor.id and fields["role"] != Role.ADMIN.value:
            raise SelfDemotion()
        user.role = Role(fields["role"])
    for key in ("display_name", "phone", "rank"):
        if key in fields:
            setattr(user, key, fields[key])
    if "org_unit_id" in fields:
        user.org_unit_id = _unit(actor, fields["org_unit_id"], "org_unit_id").id if fields["org_unit_id"] else None
        if actor.role == Role.MANAGER and user.org_unit_id is None:
            raise ValidationFailed(
                "A BD you manage stays in your subtree.", errors={"json": {"org_unit_id": ["Required for managers."]}}
            )
        _leave_foreign_territories(user)
    if "manager_id" in fields:
        if fields["manager_id"] == user.id:
            raise ValidationFailed("Nobody manages themselves.", errors={"json": {"manager_id": ["Not this user."]}})
        user.manager_id = _unit_manager(actor, fields["manager_id"])
    if "password" in fields:
        passwords.check_new(fields["password"], user.username)
        user.password_hash = passwords.hash_password(fields["password"])
        revoke_all_sessions(user.id, "password_reset")
    db.session.flush()
    return user_view(user)


def _leave_foreign_territories(user: User) -> None:
    """After a move, a BD keeps only the territories of teams their new unit belongs to."""
    path = unit_path(user.org_unit_id) or ""
    still_valid = (
        select(Territory.id).join(OrgUnit, OrgUnit.id == Territory.team_id).where(func.strpos(path, OrgUnit.path) == 1)
    )
    db.session.execute(
        delete(TerritoryMember).where(
            TerritoryMember.user_id == user.id, TerritoryMember.territory_id.not_in(still_valid)
        )
    )


def _successor(user: User) -> int | None:
    """Who inherits a deactivated BD's leads under ``on_deactivate: manager``: their manager, else their unit's."""
    candidates = [user.manager_id]
    path = unit_path(user.org_unit_id)
    if path:
        # the nearest unit up the tree that has a manager
        ids = [int(part) for part in path.strip("/").split("/")][::-1]
        managers = dict(db.session.execute(select(OrgUnit.id, OrgUnit.manager_id).where(OrgUnit.id.in_(ids))).all())
        candidates += [managers.get(unit_id) for unit_id in ids]
    for candidate in candidates:
        if candidate and candidate != user.id:
            heir = db.get(User, candidate)
            if heir is not None and heir.is_active:
                return heir.id
    return None


def deactivate_user(actor: User, tenant: Tenant, user_id: int, reason: str | None = None) -> dict[str, Any]:
    """Deactivate a user: sign them out everywhere, stop pushes to their phones, hand back their private
    leads (public pool, or their manager per the tenant's ``pool.on_deactivate``), each in lead history,
    and take them off their territories. Signed partners keep their owner (it is history). Idempotent."""
    _ensure_editor(actor)
    user = _user(actor, user_id, include_self=False)
    _check_role(actor, user.role)
    if actor.role == Role.MANAGER and not manages(actor, user.id):
        raise UserNotFound()
    db.session.execute(select(User.id).where(User.id == user.id).with_for_update())
    now = clock.now()
    already = not user.is_active
    user.is_active = False
    user.deactivated_at = user.deactivated_at or now
    sessions = revoke_all_sessions(user.id, "deactivated")
    devices = db.session.execute(
        update(Device)
        .where(Device.user_id == user.id, Device.disabled_at.is_(None))
        .values(disabled_at=now, disabled_reason="user_deactivated")
        .execution_options(synchronize_session=False)
    ).rowcount
    rules = tenant.setting("pool")
    heir = _successor(user) if rules["on_deactivate"] == "manager" else None
    leads = db.session.scalars(
        select(Lead).where(Lead.owner_id == user.id, Lead.state == LeadState.PRIVATE).with_for_update()
    ).all()
    for lead in leads:
        if heir is None:
            lead.state, lead.owner_id, lead.drops_at, lead.drop_reason = LeadState.PUBLIC, None, None, None
        else:
            # the manager gets a fresh term to hand the lead to another BD
            lead.owner_id, lead.claimed_at, lead.last_visit_at = heir, now, None
            lead.extensions_used = lead.extended_days = lead.manager_extended_days = 0
            clock_ = drop_clock(lead.claimed_at, lead.last_visit_at, lead.extended_days, rules)
            lead.drops_at, lead.drop_reason = clock_.drops_at, clock_.reason
        lead.version += 1
        db.session.add(
            LeadEvent(
                merchant_id=lead.merchant_id,
                tenant_id=lead.tenant_id,
                action="deactivate",
                from_owner_id=user.id,
                to_owner_id=heir,
                actor_id=actor.id,
                reason=reason or "owner deactivated",
                details={"to": "manager" if heir else "public"},
            )
        )
    touch(*(lead.merchant_id for lead in leads))
    territories = db.session.execute(delete(TerritoryMember).where(TerritoryMember.user_id == user.id)).rowcount
    if not already:
        audit_log.record_audit(
            audit_log.USER_DEACTIVATE,
            actor=actor,
            subject_type="user",
            subject_id=user.id,
            before={"is_active": True},
            after={
                "is_active": False,
                "reason": reason,
                "sessions_revoked": sessions,
                "leads": [lead.merchant_id for lead in leads],
                "heir_id": heir,
            },
            tenant_id=tenant.id,
        )
    db.session.flush()
    return {
        "user": user_view(user),
        "already_inactive": already,
        "sessions_revoked": sessions,
        "devices_disabled": devices,
        "leads_to_public": len(leads) if heir is None else 0,
        "leads_to_manager": len(leads) if heir is not None else 0,
        "heir_id": heir,
        "territories_left": territories,
    }
