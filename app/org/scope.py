"""Who manages whom: a manager's scope is their direct reports plus everyone in their org subtree."""

from __future__ import annotations

from sqlalchemy import select

from app import db
from app.org.models import OrgUnit, Role, User


def manages(manager: User, user_id: int) -> bool:
    if manager.role != Role.MANAGER:
        return False
    user = db.get(User, user_id)
    if user is None:
        return False
    if user.manager_id == manager.id:
        return True
    if manager.org_unit_id is None or user.org_unit_id is None:
        return False
    paths = dict(
        db.session.execute(
            select(OrgUnit.id, OrgUnit.path).where(OrgUnit.id.in_((manager.org_unit_id, user.org_unit_id)))
        ).all()
    )
    manager_path, user_path = paths.get(manager.org_unit_id), paths.get(user.org_unit_id)
    return bool(manager_path and user_path and user_path.startswith(manager_path))


def managed_user_ids(manager: User):
    """Users a manager manages: direct reports and everyone in the manager's org subtree."""
    subtree = select(OrgUnit.path).where(OrgUnit.id == manager.org_unit_id).scalar_subquery()
    in_subtree = User.org_unit_id.in_(select(OrgUnit.id).where(OrgUnit.path.startswith(subtree)))
    condition = User.manager_id == manager.id
    if manager.org_unit_id is not None:
        condition = condition | in_subtree
    return select(User.id).where(condition, User.id != manager.id)


def visible_user_ids(viewer: User):
    """Whose activity a viewer may list: BDs themselves, managers their people, ops and admins everyone."""
    if viewer.role in (Role.OPS, Role.ADMIN):
        return select(User.id)
    if viewer.role == Role.MANAGER:
        return select(User.id).where(User.id.in_(managed_user_ids(viewer)) | (User.id == viewer.id))
    return select(User.id).where(User.id == viewer.id)


def unit_path(unit_id: int | None) -> str | None:
    if unit_id is None:
        return None
    return db.session.scalar(select(OrgUnit.path).where(OrgUnit.id == unit_id))


def manages_unit(manager: User, unit: OrgUnit) -> bool:
    """A manager manages the org units of their own subtree (their own unit included)."""
    if manager.role != Role.MANAGER:
        return False
    path = unit_path(manager.org_unit_id)
    return bool(path and unit.path.startswith(path))


def managed_unit_ids(manager: User):
    """The org units of a manager's subtree (nothing for a manager outside the tree)."""
    subtree = select(OrgUnit.path).where(OrgUnit.id == manager.org_unit_id).scalar_subquery()
    return select(OrgUnit.id).where(OrgUnit.path.startswith(subtree))
