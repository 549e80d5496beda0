"""Phones that receive pushes. A token identifies one app install; within a tenant, whoever signs in on it
owns it. Tenants never share a row: the same token registered in two tenants is two devices (see ``Device``)."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert

from app import clock, db
from app.auth.models import AuthSession
from app.auth.service import session_ended
from app.devices.models import Device
from app.errors import DeviceNotFound
from app.org.models import User

STALE_AFTER = timedelta(days=270)


def register(user: User, session_id: uuid.UUID, token: str, platform: str, app_version: str | None) -> Device:
    """Register or refresh a token for the caller; a token last seen under another user of the caller's tenant
    moves to the caller. The row of another tenant with that token is left alone: its user keeps it."""
    now = clock.now()
    values = {
        "user_id": user.id,
        "platform": platform,
        "app_version": app_version,
        "last_seen_at": now,
        "disabled_at": None,
        "disabled_reason": None,
    }
    device_id = db.session.execute(
        insert(Device)
        .values(tenant_id=user.tenant_id, token=token, **values)
        .on_conflict_do_update(index_elements=["tenant_id", "token"], set_=values)
        .returning(Device.id)
    ).scalar_one()
    # logout removes the device of the session that registered it
    db.session.execute(update(AuthSession).where(AuthSession.id == session_id).values(device_token=token))
    db.session.flush()
    return db.session.execute(
        select(Device).where(Device.id == device_id).execution_options(populate_existing=True)
    ).scalar_one()


def unregister(user: User, token: str) -> None:
    deleted = db.session.execute(delete(Device).where(Device.token == token, Device.user_id == user.id)).rowcount
    if not deleted:
        raise DeviceNotFound()
    db.session.flush()


@session_ended.connect
def forget_session_device(user_id: int, device_token: str | None = None) -> None:
    """On logout: the phone stops receiving this user's pushes."""
    token = device_token
    if token:
        db.session.execute(delete(Device).where(Device.token == token, Device.user_id == user_id))


@db.job
def prune_stale_devices() -> int:
    """Delete tokens not refreshed in 270 days (FCM considers such tokens stale). A scheduled job."""
    return db.session.execute(delete(Device).where(Device.last_seen_at < clock.now() - STALE_AFTER)).rowcount
