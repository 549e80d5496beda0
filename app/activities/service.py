"""Logging a call or a message with a merchant.

Contact, not proof of presence: an activity never touches the lead's no-visit clock, the merchant's last
visit, visit tasks or day plans. The app logs calls offline too and retries with the same optional
``Idempotency-Key``; the key is claimed by the INSERT (``ON CONFLICT DO NOTHING`` on a unique index), as
check-ins do.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert

from app import clock, db
from app.activities.models import Activity
from app.errors import IdempotencyInProgress, IdempotencyKeyReused, UnknownContact, ValidationFailed
from app.merchants.models import Contact, get_merchant, touch
from app.org.models import User

FUTURE_TOLERANCE = timedelta(minutes=5)  # phone clocks drift
# results after which the contact has been reached (a missed call is not contact)
REACHED = {"connected", "sent", "replied", "follow_up", "not_interested"}


def _fingerprint(body: dict[str, Any]) -> str:
    canonical = {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in body.items()}
    return hashlib.sha256(orjson.dumps(canonical, option=orjson.OPT_SORT_KEYS)).hexdigest()


def log_activity(user: User, key: str | None, body: dict[str, Any]) -> tuple[int, bool]:
    """Record a call or message; returns its id and whether it replays an earlier request with the same key."""
    fingerprint = _fingerprint(body)
    if key is not None:
        replayed = _replay(user, key, fingerprint)
        if replayed is not None:
            return replayed, True
    merchant = get_merchant(body["merchant_id"])
    contact = None
    if body.get("contact_id") is not None:
        contact = db.session.scalar(
            select(Contact).where(Contact.id == body["contact_id"], Contact.merchant_id == merchant.id)
        )
        if contact is None:
            raise UnknownContact(errors={"json": {"contact_id": ["Not a contact of this merchant."]}})
    now = clock.now()
    occurred_at = body.get("occurred_at") or now
    if occurred_at > now + FUTURE_TOLERANCE:
        raise ValidationFailed(errors={"json": {"occurred_at": ["Cannot be in the future."]}})
    activity_id = db.session.execute(
        insert(Activity)
        .values(
            tenant_id=user.tenant_id,
            merchant_id=merchant.id,
            user_id=user.id,
            contact_id=contact.id if contact else None,
            kind=body["kind"],
            direction=body["direction"],
            occurred_at=occurred_at,
            duration_s=body.get("duration_s"),
            result=body["result"],
            notes=body.get("notes") or "",
            idempotency_key=key,
            request_hash=fingerprint if key else None,
        )
        .on_conflict_do_nothing(index_elements=["tenant_id", "user_id", "idempotency_key"])
        .returning(Activity.id)
    ).scalar_one_or_none()
    if activity_id is None:
        # a concurrent retry with this key committed first
        replayed = _replay(user, key or "", fingerprint)
        if replayed is None:  # pragma: no cover - the winner's row is committed by now
            raise IdempotencyInProgress("Retry the request.")
        return replayed, True
    if contact is not None and body["result"] in REACHED:
        if contact.last_contacted_at is None or contact.last_contacted_at < occurred_at:
            contact.last_contacted_at = occurred_at
    touch(merchant.id)  # the detail page lists recent activities
    db.session.flush()
    return activity_id, False


def _replay(user: User, key: str, fingerprint: str) -> int | None:
    row = db.session.execute(
        select(Activity.id, Activity.request_hash).where(Activity.user_id == user.id, Activity.idempotency_key == key)
    ).one_or_none()
    if row is None:
        return None
    if row.request_hash != fingerprint:
        raise IdempotencyKeyReused("This Idempotency-Key was already used for a different activity.")
    return row.id
