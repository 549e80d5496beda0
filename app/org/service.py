"""Tenants, org units and users: the administrative writes (CLI and admin endpoints share them)."""

from __future__ import annotations

from sqlalchemy import select

from app import db
from app.errors import (
    ManagerNotFound,
    TenantExists,
    TenantNotFound,
    UserExists,
)
from app.org import passwords
from app.org.models import OrgKind, OrgUnit, Role, User
from app.tenants.models import Tenant


def create_tenant(slug: str, name: str, settings: dict | None = None) -> Tenant:
    session = db.session()
    if session.scalar(select(Tenant.id).where(Tenant.slug == slug)) is not None:
        raise TenantExists(f"Tenant {slug!r} already exists.")
    tenant = Tenant(slug=slug, name=name, settings=settings or {})
    session.add(tenant)
    session.flush()
    return tenant


def get_tenant(slug: str) -> Tenant:
    tenant = db.session.scalar(select(Tenant).where(Tenant.slug == slug))
    if tenant is None:
        raise TenantNotFound(f"No tenant {slug!r}.")
    return tenant


def ensure_org_unit(tenant_id: int, name: str, kind: OrgKind, parent: OrgUnit | None = None) -> OrgUnit:
    session = db.session()
    unit = session.scalar(
        select(OrgUnit).where(
            OrgUnit.tenant_id == tenant_id,
            OrgUnit.name == name,
            OrgUnit.parent_id == parent.id if parent else OrgUnit.parent_id.is_(None),
        )
    )
    if unit is None:
        unit = OrgUnit(tenant_id=tenant_id, name=name, kind=kind, parent_id=parent.id if parent else None)
        session.add(unit)
        session.flush()
        unit.path = f"{parent.path if parent else '/'}{unit.id}/"
    return unit


def _find_team(tenant_id: int, name: str) -> OrgUnit:
    """A unit of that name anywhere in the tree, or a new top-level team."""
    existing = db.session.scalar(
        select(OrgUnit).where(OrgUnit.tenant_id == tenant_id, OrgUnit.name == name).order_by(OrgUnit.id).limit(1)
    )
    return existing or ensure_org_unit(tenant_id, name, OrgKind.TEAM)


def add_user(
    tenant_id: int,
    username: str,
    password: str,
    role: Role,
    *,
    display_name: str = "",
    org_unit_id: int | None = None,
    manager_id: int | None = None,
    phone: str | None = None,
) -> User:
    """The one way a user is made (the admin API, the CLI, the demo seed): a hashed password, a unique name."""
    passwords.check_new(password, username)
    user = User(
        tenant_id=tenant_id,
        username=username,
        display_name=display_name or username,
        password_hash=passwords.hash_password(password),
        role=role,
        org_unit_id=org_unit_id,
        manager_id=manager_id,
        phone=phone,
    )
    db.session.add(user)
    db.flush_unique(UserExists, f"User {username!r} already exists.")
    return user


def provision_user(
    tenant: Tenant,
    username: str,
    password: str,
    role: Role,
    *,
    display_name: str = "",
    team: str | None = None,
    manager_username: str | None = None,
) -> User:
    """A user named by the operator (CLI, demo seed): the team and manager are given by name."""
    session = db.session()
    exists = select(User.id).where(User.tenant_id == tenant.id, User.username == username)
    if session.scalar(exists) is not None:
        raise UserExists(f"User {username!r} already exists in {tenant.slug!r}.")
    manager = None
    if manager_username:
        manager = session.scalar(select(User).where(User.tenant_id == tenant.id, User.username == manager_username))
        if manager is None:
            raise ManagerNotFound(f"No user {manager_username!r} in {tenant.slug!r}.")
    unit = _find_team(tenant.id, team) if team else None
    user = add_user(
        tenant.id,
        username,
        password,
        role,
        display_name=display_name,
        org_unit_id=unit.id if unit else (manager.org_unit_id if manager else None),
        manager_id=manager.id if manager else None,
    )
    if unit is not None and role == Role.MANAGER and unit.manager_id is None:
        unit.manager_id = user.id
    session.flush()
    return user
