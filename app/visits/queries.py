"""Reading visits: the scoped list, and a manager's view of the team's day."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime
from typing import Any

from geoalchemy2.shape import to_shape
from sqlalchemy import and_, or_, select

from app import db
from app.activities.queries import counts_by_user
from app.errors import Forbidden, NotInScope
from app.merchants.models import Merchant
from app.org.models import Role, User
from app.org.scope import managed_user_ids, visible_user_ids
from app.pagination import decode_cursor, encode_cursor, fingerprint
from app.tenants.models import Tenant
from app.uploads.urls import photo_links
from app.visits.models import Visit


def list_visits(
    viewer: User,
    *,
    user_id: int | None,
    merchant_id: int | None,
    since: datetime | None,
    until: datetime | None,
    limit: int,
    cursor: str | None,
) -> dict[str, Any]:
    """Newest first, keyset-paged. BDs see their own visits; managers their people's; ops and admins all."""
    visible = visible_user_ids(viewer)
    if user_id is not None and db.session.scalar(visible.where(User.id == user_id).limit(1)) is None:
        raise NotInScope("You may not see this user's visits.")
    params = {
        "user_id": user_id,
        "merchant_id": merchant_id,
        "from": since.isoformat() if since else None,
        "to": until.isoformat() if until else None,
    }
    query_key = fingerprint(params)
    conditions = [Visit.user_id.in_(visible)]
    if user_id is not None:
        conditions.append(Visit.user_id == user_id)
    if merchant_id is not None:
        conditions.append(Visit.merchant_id == merchant_id)
    if since is not None:
        conditions.append(Visit.client_time >= since)
    if until is not None:
        conditions.append(Visit.client_time < until)
    if cursor:
        after, after_id = decode_cursor(cursor, query_key, (datetime, int))
        conditions.append(or_(Visit.client_time < after, and_(Visit.client_time == after, Visit.id < after_id)))
    rows = db.session.execute(
        select(Visit, Merchant.name, User.display_name, User.username)
        .join(Merchant, Merchant.id == Visit.merchant_id)
        .join(User, User.id == Visit.user_id)
        .where(*conditions)
        .order_by(Visit.client_time.desc(), Visit.id.desc())
        .limit(limit + 1)
    ).all()
    page = rows[:limit]
    next_cursor = None
    if len(rows) > limit:
        last = page[-1].Visit
        next_cursor = encode_cursor([last.client_time.isoformat(), last.id], query_key)
    return {"items": [_visit_item(row) for row in page], "next_cursor": next_cursor}


def _visit_item(row: Any) -> dict[str, Any]:
    visit: Visit = row.Visit
    position = to_shape(visit.location)
    return {
        "id": visit.id,
        "merchant": {"id": visit.merchant_id, "name": row.name},
        "user": {"id": visit.user_id, "name": row.display_name or row.username},
        "client_time": visit.client_time,
        "received_at": visit.created_at,
        "lat": position.y,
        "lng": position.x,
        "accuracy_m": visit.accuracy_m,
        "distance_m": visit.distance_m,
        "verified": visit.verified,
        "flags": visit.flags,
        "offline": visit.offline,
        "purpose": visit.purpose,
        "photo_ids": visit.photo_ids,
        # every visit listed is one the viewer may see (visible_user_ids): they get its photos' URLs
        "photos": photo_links(visit.photo_ids),
        "checkout_at": visit.checkout_at,
        "duration_s": visit.duration_s,
        "result": visit.result,
        "notes": visit.notes,
        "contact_ids": visit.contact_ids,
        "next_visit_at": visit.next_visit_at,
        "form_answers": visit.form_answers,
    }


def team_day(viewer: User, tenant: Tenant, day: date) -> dict[str, Any]:
    """Per BD a manager manages (every BD for ops and admins): the day's visits and track."""
    if viewer.role == Role.BD:
        raise Forbidden("The team view is for managers.")
    people = select(User).where(User.role == Role.BD, User.is_active.is_(True))
    if viewer.role == Role.MANAGER:
        people = people.where(User.id.in_(managed_user_ids(viewer)))
    bds = db.session.scalars(people.order_by(User.display_name, User.id)).all()
    start, end = tenant.day_bounds(day)
    rows = db.session.execute(
        select(Visit, Merchant.name)
        .join(Merchant, Merchant.id == Visit.merchant_id)
        .where(Visit.user_id.in_([bd.id for bd in bds]), Visit.client_time >= start, Visit.client_time < end)
        .order_by(Visit.user_id, Visit.client_time, Visit.id)
    ).all()
    by_user: dict[int, list[tuple[Visit, str]]] = {}
    for visit, merchant_name in rows:
        by_user.setdefault(visit.user_id, []).append((visit, merchant_name))
    contacts = counts_by_user([bd.id for bd in bds], start, end)
    return {
        "date": day.isoformat(),
        "timezone": tenant.setting("timezone"),
        "members": [
            {**_member_day(bd, by_user.get(bd.id, [])), **contacts.get(bd.id, {"calls": 0, "messages": 0})}
            for bd in bds
        ],
    }


def _member_day(bd: User, day_visits: list[tuple[Visit, str]]) -> dict[str, Any]:
    visits = [visit for visit, _ in day_visits]
    flags = Counter(flag for visit in visits for flag in visit.flags)
    coordinates = [[round(p.x, 7), round(p.y, 7)] for p in (to_shape(v.location) for v in visits)]
    track = None
    if len(coordinates) == 1:
        track = {"type": "Point", "coordinates": coordinates[0]}
    elif coordinates:
        track = {"type": "LineString", "coordinates": coordinates}
    return {
        "user": {"id": bd.id, "name": bd.name},
        "form_answers": [
            {"visit_id": v.id, "merchant_id": v.merchant_id, **entry} for v in visits for entry in v.form_answers
        ],
        "total": len(visits),
        "verified": sum(1 for v in visits if v.verified),
        "flags": dict(flags),
        # the viewer manages this BD (or is ops/admin): they may see the visits, photos included
        "visits": [
            {
                "id": visit.id,
                "merchant": {"id": visit.merchant_id, "name": merchant_name},
                "client_time": visit.client_time,
                "verified": visit.verified,
                "flags": visit.flags,
                "distance_m": visit.distance_m,
                "result": visit.result,
                "photos": photo_links(visit.photo_ids),
            }
            for visit, merchant_name in day_visits
        ],
        "first_check_in": visits[0].client_time if visits else None,
        "last_check_in": visits[-1].client_time if visits else None,
        "track": track,
    }


def visit_item(visit_id: int) -> dict[str, Any]:
    row = db.session.execute(
        select(Visit, Merchant.name, User.display_name, User.username)
        .join(Merchant, Merchant.id == Visit.merchant_id)
        .join(User, User.id == Visit.user_id)
        .where(Visit.id == visit_id)
    ).one()
    return _visit_item(row)


def user_visits(user_id: int, *, since: datetime | None = None, ids: list[int] | None = None) -> list[dict[str, Any]]:
    """One BD's visits as the list shows them, newest first: since a time, or those of ``ids`` (offline sync)."""
    conditions = [Visit.user_id == user_id]
    if since is not None:
        conditions.append(Visit.client_time >= since)
    if ids is not None:
        conditions.append(Visit.id.in_(ids))
    rows = db.session.execute(
        select(Visit, Merchant.name, User.display_name, User.username)
        .join(Merchant, Merchant.id == Visit.merchant_id)
        .join(User, User.id == Visit.user_id)
        .where(*conditions)
        .order_by(Visit.client_time.desc(), Visit.id.desc())
    ).all()
    return [_visit_item(row) for row in rows]
