"""Who manages whom: a manager's scope is their direct reports plus everyone in their org subtree."""

from __future__ import annotations

from sqlalchemy import select

from app import db
from app.org.models import OrgUnit, Role, User


def manages(manager: User, user_id: int) -> bool:
    if manager.role != Role.MANAGER:
        return False
    user = db.session.get(User, user_id)
    if user is None:
        return False
    if user.manager_id == manager.id:
        return True
    if manager.org_unit_id is None or user.org_unit_id is None:
        return False
    paths = dict(db.session.execute(
        select(OrgUnit.id, OrgUnit.path).where(OrgUnit.id.in_((manager.org_unit_id, user.org_unit_id)))
    ).all())
    manager_path, user_path = paths.get(manager.org_unit_id), paths.get(user.org_unit_id)
    return bool(manager_path and user_path and user_path.startswith(manager_path))
