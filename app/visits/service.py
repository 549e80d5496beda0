"""Check-in and check-out: the BD's proof of work, verified against the merchant's position.

A check-in is stored whatever its verification says (nothing the BD sends is lost); only verified visits
by the lead's owner move the lead's no-visit clock. The app retries offline check-ins with the same
``Idempotency-Key``: the key is claimed by the INSERT itself (``ON CONFLICT DO NOTHING`` on a unique
index), so concurrent retries serialise in the database and exactly one visit exists per key.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from geoalchemy2.shape import to_shape
from sqlalchemy import bindparam, select
from sqlalchemy.dialects.postgresql import insert

from app import clock, db
from app.errors import (
    AlreadyCheckedOut,
    IdempotencyInProgress,
    IdempotencyKeyReused,
    UnknownContact,
    UnknownPhotos,
    ValidationFailed,
    VisitNotFound,
)
from app.leads.rules import drop_clock
from app.merchants.models import AuditStatus, Contact, Lead, LeadState, Merchant, get_merchant, touch
from app.org.models import User
from app.reminders.service import remind
from app.tenants.models import Tenant
from app.uploads.models import Upload
from app.visits.models import Visit
from geo import sql as geo_sql
from geo.coords import CoordSys, to_wgs84
from geo.distance import distance_m

FUTURE_TOLERANCE = timedelta(minutes=5)  # phone clocks drift; a few minutes ahead is not tampering
OFFLINE_AFTER = timedelta(minutes=2)  # sent this long after the BD tapped "check in": it waited offline
SPEED_MIN_DISTANCE_M = 250.0  # GPS jitter between two quick check-ins is not travel


# The check-in's statements, built once with bind parameters (as the caller lookup is): building them on
# every request is pure Python overhead on the hottest write. The ORM ones still get the tenant filter (db.py).
_VISIT_COLUMNS = (
    "tenant_id",
    "merchant_id",
    "user_id",
    "idempotency_key",
    "request_hash",
    "client_time",
    "location",
    "coord_sys",
    "accuracy_m",
    "distance_m",
    "verified",
    "flags",
    "offline",
    "mock_location",
    "purpose",
    "photo_ids",
    "details",
)
_INSERT_VISIT = (
    insert(Visit)
    .values({name: bindparam(name, type_=Visit.__table__.c[name].type) for name in _VISIT_COLUMNS})
    .on_conflict_do_nothing(index_elements=["tenant_id", "user_id", "idempotency_key"])
    .returning(Visit.id)
)
_REPLAY = select(Visit.id, Visit.request_hash, Visit.details).where(
    Visit.user_id == bindparam("user_id"), Visit.idempotency_key == bindparam("key")
)
_PREVIOUS_VISIT = (
    select(Visit.location, Visit.client_time)
    .where(Visit.user_id == bindparam("user_id"), Visit.client_time <= bindparam("client_time"))
    .order_by(Visit.client_time.desc(), Visit.id.desc())
    .limit(1)
)
_LOCK_LEAD = select(Lead).where(Lead.merchant_id == bindparam("merchant_id")).with_for_update()


def request_fingerprint(body: dict[str, Any]) -> str:
    canonical = {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in body.items()}
    return hashlib.sha256(orjson.dumps(canonical, option=orjson.OPT_SORT_KEYS)).hexdigest()


def _position(geography: Any) -> tuple[float, float]:
    shape = to_shape(geography)
    return shape.y, shape.x


def verify(
    *,
    user_id: int,
    merchant: Merchant,
    lat: float,
    lng: float,
    accuracy_m: float,
    client_time: datetime,
    mock_location: bool,
    rules: dict[str, Any],
    now: datetime,
) -> tuple[list[str], float]:
    """The verification flags of a check-in (empty: verified) and its distance to the merchant."""
    merchant_lat, merchant_lng = _position(merchant.location)
    distance = distance_m(lat, lng, merchant_lat, merchant_lng)
    flags = []
    if distance - accuracy_m > rules["radius_m"]:
        flags.append("too_far")
    if accuracy_m > rules["max_accuracy_m"]:
        flags.append("low_accuracy")
    if mock_location:
        flags.append("mock_location")
    if _implied_speed_kmh(user_id, lat, lng, client_time) > rules["max_speed_kmh"]:
        flags.append("impossible_speed")
    if client_time > now + FUTURE_TOLERANCE or now - client_time > timedelta(hours=rules["offline_window_hours"]):
        flags.append("clock_skew")
    return flags, distance


def _implied_speed_kmh(user_id: int, lat: float, lng: float, client_time: datetime) -> float:
    previous = db.session.execute(_PREVIOUS_VISIT, {"user_id": user_id, "client_time": client_time}).one_or_none()
    if previous is None:
        return 0.0
    travelled = distance_m(*_position(previous.location), lat, lng)
    if travelled < SPEED_MIN_DISTANCE_M:
        return 0.0
    hours = max((client_time - previous.client_time).total_seconds(), 1.0) / 3600
    return travelled / 1000 / hours


def _check_photos(user: User, photo_ids: list[str]) -> None:
    if not photo_ids:
        return
    known = {
        str(u) for u in db.session.scalars(select(Upload.id).where(Upload.id.in_(photo_ids), Upload.user_id == user.id))
    }
    unknown = [p for p in photo_ids if p not in known]
    if unknown:
        raise UnknownPhotos(
            "Unknown photo ids.", errors={"json": {"photo_ids": [f"Not uploaded by you: {', '.join(unknown)}"]}}
        )


def check_in(user: User, tenant: Tenant, key: str, body: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """Record a check-in. Returns the response body and whether it is a replay of an earlier request."""
    fingerprint = request_fingerprint(body)
    replay = _replay(user, key, fingerprint)
    if replay is not None:
        return replay, True
    merchant = get_merchant(body["merchant_id"])
    _check_photos(user, body.get("photo_ids") or [])
    now = clock.now()
    rules = tenant.setting("checkin")
    lat, lng = to_wgs84(body["lat"], body["lng"], body["coord_sys"])
    flags, distance = verify(
        user_id=user.id,
        merchant=merchant,
        lat=lat,
        lng=lng,
        accuracy_m=body["accuracy_m"],
        client_time=body["client_time"],
        mock_location=body["mock_location"],
        rules=rules,
        now=now,
    )
    # The lead's clock first (its row lock also orders concurrent retries of one key): the response, stored
    # with the visit for replays, is then complete before the INSERT, and a conflict rolls it all back.
    lead = _advance_clocks(user, tenant, merchant, verified=not flags, at=body["client_time"])
    response = {
        "merchant_id": merchant.id,
        "verified": not flags,
        "flags": flags,
        "distance_m": round(distance, 1),
        "offline": now - body["client_time"] > OFFLINE_AFTER,
        "client_time": body["client_time"].astimezone(UTC),
        "lead": lead,
    }
    # one UPDATE of the merchant with the visit time _advance_clocks may have set (what detail.touch does)
    merchant.detail_version = Merchant.detail_version + 1
    visit_id = db.session.execute(
        _INSERT_VISIT,
        {
            "tenant_id": tenant.id,
            "merchant_id": merchant.id,
            "user_id": user.id,
            "idempotency_key": key,
            "request_hash": fingerprint,
            "client_time": body["client_time"],
            "location": geo_sql.point_value(lat, lng),
            "coord_sys": CoordSys(body["coord_sys"]).value,
            "accuracy_m": body["accuracy_m"],
            "distance_m": round(distance, 2),
            "verified": not flags,
            "flags": flags,
            "offline": response["offline"],
            "mock_location": body["mock_location"],
            "purpose": body.get("purpose"),
            "photo_ids": body.get("photo_ids") or [],
            "details": {"response": orjson.loads(orjson.dumps(response))},
        },
    ).scalar_one_or_none()
    if visit_id is None:
        # A concurrent retry with this key committed first. What this one changed is what the winner changed
        # (the lead row lock made it wait and re-read): at most one more detail_version bump.
        replay = _replay(user, key, fingerprint)
        if replay is None:  # pragma: no cover - the winner's row is committed by now
            raise IdempotencyInProgress("Retry the check-in.")
        return replay, True
    db.session.flush()
    return {"id": visit_id, **response}, False


def _replay(user: User, key: str, fingerprint: str) -> dict[str, Any] | None:
    visit = db.session.execute(_REPLAY, {"user_id": user.id, "key": key}).one_or_none()
    if visit is None:
        return None
    if visit.request_hash != fingerprint:
        raise IdempotencyKeyReused("This Idempotency-Key was already used for a different check-in.")
    return {"id": visit.id, **visit.details["response"]}


def _advance_clocks(
    user: User, tenant: Tenant, merchant: Merchant, *, verified: bool, at: datetime
) -> dict[str, Any] | None:
    """A verified visit is the merchant's latest visit, and the owner's resets the lead's no-visit clock."""
    # Lead row first, merchant row second, as claims, releases and the sweeper do: changing the merchant
    # before this SELECT would flush its UPDATE first, and two check-ins on one merchant would deadlock.
    lead = db.session.execute(_LOCK_LEAD, {"merchant_id": merchant.id}).scalar_one_or_none()
    if verified and (merchant.last_visit_at is None or merchant.last_visit_at < at):
        merchant.last_visit_at = at
    if lead is None or lead.state == LeadState.PUBLIC:
        return None
    if verified and lead.state == LeadState.PRIVATE and lead.owner_id == user.id:
        if lead.last_visit_at is None or lead.last_visit_at < at:
            lead.last_visit_at = at
            clock_ = drop_clock(
                lead.claimed_at, lead.last_visit_at, lead.extended_days, tenant.setting("pool"), lead.paused_seconds
            )
            lead.drops_at, lead.drop_reason = clock_.drops_at, clock_.reason
            lead.version += 1
    mine = lead.owner_id == user.id
    owner = user if mine else db.get(User, lead.owner_id) if lead.owner_id else None
    return {
        "state": lead.state.value,
        "mine": mine,
        # whose lead the BD is standing in (so as not to pitch a colleague's shop twice)
        "owner": {"id": owner.id, "name": owner.name} if owner else None,
        "drops_at": lead.drops_at if mine and lead.state == LeadState.PRIVATE else None,
        "drop_reason": lead.drop_reason if mine and lead.state == LeadState.PRIVATE else None,
    }


def check_out(user: User, tenant: Tenant, visit_id: int, body: dict[str, Any]) -> Visit:
    visit = db.get(Visit, visit_id)
    if visit is None or visit.user_id != user.id:
        # another BD's visit answers like no visit: ids must not tell which visits exist
        raise VisitNotFound()
    if visit.checkout_at is not None:
        raise AlreadyCheckedOut()
    merchant = db.get(Merchant, visit.merchant_id)
    contact_ids = list(dict.fromkeys(body.get("contact_ids") or []))
    contacts = (
        db.session.scalars(select(Contact).where(Contact.id.in_(contact_ids), Contact.merchant_id == merchant.id)).all()
        if contact_ids
        else []
    )
    if len(contacts) != len(contact_ids):
        unknown = sorted(set(contact_ids) - {c.id for c in contacts})
        raise UnknownContact(errors={"json": {"contact_ids": [f"Not contacts of this merchant: {unknown}"]}})
    now = clock.now()
    checkout_at = body.get("client_time") or now
    if checkout_at < visit.client_time:
        raise ValidationFailed(errors={"json": {"client_time": ["Check-out cannot be before the check-in."]}})
    if checkout_at > now + FUTURE_TOLERANCE:
        raise ValidationFailed(errors={"json": {"client_time": ["Check-out cannot be in the future."]}})
    if body.get("lat") is not None:
        lat, lng = to_wgs84(body["lat"], body["lng"], body["coord_sys"])
        visit.checkout_location = geo_sql.point_value(lat, lng)
    visit.checkout_at = checkout_at
    visit.duration_s = int((checkout_at - visit.client_time).total_seconds())
    visit.result = body["result"]
    visit.notes = body.get("notes") or ""
    visit.contact_ids = contact_ids
    visit.next_visit_at = body.get("next_visit_at")
    for contact in contacts:
        contact.last_contacted_at = checkout_at
    if body["result"] == "store_closed" and "store_closed" not in merchant.audit_flags:
        merchant.audit_flags = [*merchant.audit_flags, "store_closed"]
        if merchant.audit_status == AuditStatus.APPROVED:
            merchant.audit_status = AuditStatus.PENDING
    if visit.next_visit_at is not None:
        # a planned visit shows in the to-do center on its day; the phone schedules its own alarm
        remind(
            tenant.id,
            user.id,
            "planned_visit",
            f"Visit {merchant.name}",
            merchant.id,
            f"visit:{visit.id}:next",
            {"visit_id": visit.id},
            due_at=visit.next_visit_at,
            push=False,
        )
    touch(merchant.id)
    db.session.flush()
    return visit
