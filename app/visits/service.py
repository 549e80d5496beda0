"""Check-in and check-out: the BD's proof of work, verified against the merchant's position.

A check-in is stored whatever its verification says (nothing the BD sends is lost); only verified visits
by the lead's owner move the lead's no-visit clock. The app retries offline check-ins with the same
``Idempotency-Key``, which the check-in requires: like every POST, a retry gets the stored answer and
concurrent retries wait for the first (app/idempotency). The visit keeps its key too, under a unique index:
a phone offline for longer than the key's lifetime still replays its visit instead of making another.
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
    InvalidFormAnswers,
    UnknownContact,
    UnknownForm,
    UnknownPhotos,
    ValidationFailed,
    VisitNotFound,
)
from app.i18n import Text
from app.leads.rules import drop_clock
from app.merchants.models import AuditStatus, Contact, Lead, LeadState, Merchant, get_merchant, touch
from app.org.models import User
from app.reminders.service import LEAD_DROPPING, PLANNED_VISIT, remind, resolve
from app.signals import form_submitted, visit_verified
from app.tenants import visit_forms
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
    "form_answers",
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


def _check_photos(user: User, photo_ids: list[str]) -> list[Upload]:
    if not photo_ids:
        return []
    uploads = db.session.scalars(select(Upload).where(Upload.id.in_(photo_ids), Upload.user_id == user.id)).all()
    known = {str(upload.id) for upload in uploads}
    unknown = [p for p in photo_ids if p not in known]
    if unknown:
        raise UnknownPhotos(
            "Unknown photo ids.", errors={"json": {"photo_ids": [f"Not uploaded by you: {', '.join(unknown)}"]}}
        )
    return list(uploads)


def photo_flags(uploads: list[Upload], merchant: Merchant, client_time: datetime, rules: dict[str, Any]) -> list[str]:
    """``photo_far``: a photo's EXIF position is more than ``photo_max_distance_m`` from the merchant;
    ``photo_stale``: it was taken more than ``photo_max_age_hours`` before the check-in. A photo whose EXIF
    says nothing (stripped by the phone or a messenger) adds neither: absence is not evidence."""
    merchant_lat, merchant_lng = _position(merchant.location)
    flags = []
    if any(
        upload.taken_lat is not None
        and distance_m(upload.taken_lat, upload.taken_lng, merchant_lat, merchant_lng) > rules["photo_max_distance_m"]
        for upload in uploads
    ):
        flags.append("photo_far")
    oldest_allowed = client_time - timedelta(hours=rules["photo_max_age_hours"])
    if any(upload.taken_at is not None and upload.taken_at < oldest_allowed for upload in uploads):
        flags.append("photo_stale")
    return flags


def check_in(user: User, tenant: Tenant, key: str, body: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """Record a check-in. Returns the response body and whether it is a replay of an earlier request."""
    fingerprint = request_fingerprint(body)
    merchant = get_merchant(body["merchant_id"])
    answers, form_photos = _form_answers(tenant, "check_in", body.get("form_answers") or [])
    photos = _check_photos(user, [*(body.get("photo_ids") or []), *form_photos])
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
    # The photos' flags are evidence for the manager, not the check-in's own verification (which the position
    # decides): an old storefront photo does not make the BD's presence less certain, it asks for a look.
    verified = not flags
    flags += photo_flags(photos, merchant, body["client_time"], rules)
    # The lead's clock first (its row lock also orders concurrent retries of one key): the response, stored
    # with the visit for replays, is then complete before the INSERT, and a conflict rolls it all back.
    lead = _advance_clocks(user, tenant, merchant, verified=verified, at=body["client_time"])
    response = {
        "merchant_id": merchant.id,
        "verified": verified,
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
            "verified": verified,
            "flags": flags,
            "offline": response["offline"],
            "mock_location": body["mock_location"],
            "purpose": body.get("purpose"),
            "photo_ids": body.get("photo_ids") or [],
            "details": {"response": orjson.loads(orjson.dumps(response))},
            "form_answers": answers,
        },
    ).scalar_one_or_none()
    if visit_id is None:
        # A retry after the key's stored answer expired (app/idempotency keeps it for a few days): the visit
        # exists. What this one changed is what the first changed (the same visit time): at most one more
        # detail_version bump.
        replay = _replay(user, key, fingerprint)
        if replay is None:  # pragma: no cover - the winner's row is committed by now
            raise IdempotencyInProgress(message="Retry the check-in.")
        return replay, True
    if not flags:
        _close_what_the_visit_did(tenant, user, merchant, visit_id, body["client_time"])
    _announce_answers(tenant, user, merchant.id, visit_id, answers, body["client_time"])
    db.session.flush()
    return {"id": visit_id, **response}, False


def _form_answers(tenant: Tenant, stage: str, entries: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[str]]:
    """Validate each entry against the form version it names; the answers to store and their photo ids.

    422 per field: ``errors.json.form_answers.<index>.answers.<field key>``.
    """
    stored: list[dict[str, Any]] = []
    photos: list[str] = []
    errors: dict[str, Any] = {}
    for index, entry in enumerate(entries):
        form = visit_forms.form_version(tenant, entry["form"], entry["version"])
        if form is None:
            raise UnknownForm(
                errors={
                    "json": {
                        "form_answers": {
                            str(index): {"version": [f"No version {entry['version']} of form {entry['form']!r}."]}
                        }
                    }
                }
            )
        cleaned, field_errors = visit_forms.validate_answers(form, entry["answers"])
        if field_errors:
            errors[str(index)] = {"answers": field_errors}
            continue
        photos += visit_forms.photo_ids(form, cleaned)
        stored.append({"form": form["key"], "version": form["version"], "stage": stage, "answers": cleaned})
    keys = [entry["form"] for entry in entries]
    problems = []
    if len(set(keys)) != len(keys):
        problems.append("Answer each form once.")
    missing = [key for key in visit_forms.required_at(tenant, stage) if key not in keys]
    if missing:
        problems.append(f"Required at every {stage.replace('_', '-')}: {', '.join(missing)}.")
    if problems:
        errors["_schema"] = problems
    if errors:
        raise InvalidFormAnswers(errors={"json": {"form_answers": errors}})
    return stored, photos


def _announce_answers(
    tenant: Tenant, user: User, merchant_id: int, visit_id: int, answers: list[dict[str, Any]], at: datetime
) -> None:
    """Forms whose answers mean more than a record of the visit (competitor facts) are acted on above."""
    for entry in answers:
        form_submitted.send(
            None,
            tenant_id=tenant.id,
            user_id=user.id,
            merchant_id=merchant_id,
            visit_id=visit_id,
            at=at,
            form=entry["form"],
            version=entry["version"],
            answers=entry["answers"],
        )


def _close_what_the_visit_did(tenant: Tenant, user: User, merchant: Merchant, visit_id: int, at: datetime) -> None:
    """A verified visit is what the BD's planned-visit reminders and visit tasks for this merchant asked for."""
    resolve((PLANNED_VISIT,), f"visit:{visit_id}", merchant_id=merchant.id, user_id=user.id)
    # the tasks package (beside this one) completes the BD's open visit tasks for the merchant
    visit_verified.send(None, tenant_id=tenant.id, user_id=user.id, merchant_id=merchant.id, visit_id=visit_id, at=at)


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
            # the drop it warned of has moved: the reminder job warns again before the new drop time
            resolve((LEAD_DROPPING,), "visited", merchant_id=merchant.id)
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
    answers, form_photos = _form_answers(tenant, "check_out", body.get("form_answers") or [])
    _check_photos(user, form_photos)
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
    if answers:
        visit.form_answers = [*visit.form_answers, *answers]
        _announce_answers(tenant, user, merchant.id, visit.id, answers, checkout_at)
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
            Text("todo_planned_visit", {"merchant": merchant.name}),
            merchant.id,
            f"visit:{visit.id}:next",
            {"visit_id": visit.id},
            due_at=visit.next_visit_at,
            push=False,
        )
    touch(merchant.id)
    db.session.flush()
    return visit
