"""Reading call logs: one activity, the scoped list, and per-BD counts for the team views."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select

from app import db
from app.activities.models import Activity
from app.errors import NotInScope
from app.merchants.models import Contact, Merchant
from app.org.models import User
from app.org.scope import visible_user_ids
from app.pagination import decode_cursor, encode_cursor, fingerprint


def _statement() -> Any:
    return (
        select(Activity, Merchant.name.label("merchant_name"), User.display_name, User.username, Contact.name)
        .join(Merchant, Merchant.id == Activity.merchant_id)
        .join(User, User.id == Activity.user_id)
        .outerjoin(Contact, Contact.id == Activity.contact_id)
    )


def _item(row: Any) -> dict[str, Any]:
    activity: Activity = row.Activity
    return {
        "id": activity.id,
        "merchant": {"id": activity.merchant_id, "name": row.merchant_name},
        "user": {"id": activity.user_id, "name": row.display_name or row.username},
        "contact": {"id": activity.contact_id, "name": row.name} if activity.contact_id else None,
        "kind": activity.kind,
        "direction": activity.direction,
        "occurred_at": activity.occurred_at,
        "duration_s": activity.duration_s,
        "result": activity.result,
        "notes": activity.notes,
        "created_at": activity.created_at,
    }


def activity_item(activity_id: int) -> dict[str, Any]:
    return _item(db.session.execute(_statement().where(Activity.id == activity_id)).one())


def list_activities(
    viewer: User,
    *,
    merchant_id: int | None,
    user_id: int | None,
    kind: str | None,
    limit: int,
    cursor: str | None,
) -> dict[str, Any]:
    """Newest first, keyset-paged; whose activities as for visits (own, your people's, everyone's for ops)."""
    visible = visible_user_ids(viewer)
    if user_id is not None and db.session.scalar(visible.where(User.id == user_id).limit(1)) is None:
        raise NotInScope("You may not see this user's activities.")
    query_key = fingerprint({"merchant_id": merchant_id, "user_id": user_id, "kind": kind, "activities": 1})
    conditions = [Activity.user_id.in_(visible)]
    if merchant_id is not None:
        conditions.append(Activity.merchant_id == merchant_id)
    if user_id is not None:
        conditions.append(Activity.user_id == user_id)
    if kind is not None:
        conditions.append(Activity.kind == kind)
    if cursor:
        after, after_id = decode_cursor(cursor, query_key, (datetime, int))
        conditions.append(
            or_(Activity.occurred_at < after, and_(Activity.occurred_at == after, Activity.id < after_id))
        )
    rows = db.session.execute(
        _statement().where(*conditions).order_by(Activity.occurred_at.desc(), Activity.id.desc()).limit(limit + 1)
    ).all()
    page = rows[:limit]
    next_cursor = None
    if len(rows) > limit:
        last = page[-1].Activity
        next_cursor = encode_cursor([last.occurred_at.isoformat(), last.id], query_key)
    return {"items": [_item(row) for row in page], "next_cursor": next_cursor}


def counts_by_user(user_ids: list[int], start: datetime, end: datetime) -> dict[int, dict[str, int]]:
    """Per user: calls and messages in [start, end)."""
    counts: dict[int, dict[str, int]] = {}
    rows = db.session.execute(
        select(Activity.user_id, Activity.kind, func.count())
        .where(Activity.user_id.in_(user_ids), Activity.occurred_at >= start, Activity.occurred_at < end)
        .group_by(Activity.user_id, Activity.kind)
    )
    for user_id, kind, count in rows:
        counts.setdefault(user_id, {"calls": 0, "messages": 0})["calls" if kind == "call" else "messages"] += count
    return counts
