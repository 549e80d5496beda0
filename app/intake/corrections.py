"""Corrections of a merchant's data from the street: a BD saw a rename, a move, a new phone, a closed shop.

Who may correct: the lead's owner, the owner's managers, ops and admins; anyone of the business line for a
merchant in the public pool. What takes effect at once: for the lead's owner, the fields the tenant lists in
``corrections.apply_at_once``; for ops and admins, everything; for everyone else, nothing (ops audit it). A
rename, or a move further than ``corrections.move_check_m``, re-runs the duplicate check (``dedup``) against
the neighbours and goes to audit whenever it finds a candidate, whoever sent it.

A correction applied (at once or on approval) changes the merchant, records each field's before and after in
its history (``app.merchants.history``), marks the fields as set by a person (an import keeps them) and bumps
the detail version (the cache key of the detail; nearby and the map read the row itself). A merchant closed
for good leaves the pool: its private lead is released with reason ``closed`` and it disappears from nearby,
the map and the public pool.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from app import clock, db
from app.errors import (
    CorrectionNotFound,
    MerchantNotFound,
    NotAllowedForLead,
    NothingToCorrect,
    NotPendingAudit,
    ValidationFailed,
)
from app.i18n import Text
from app.intake import dedup
from app.intake.models import CorrectionStatus, MerchantCorrection
from app.intake.normalize import branch_key, name_key, phone_keys
from app.intake.service import HIDDEN, check_phone, known_photo_ids, position, probe_for, summary
from app.leads.service import release_closed
from app.merchants import history
from app.merchants.models import CLOSED_FOR_GOOD, Lead, LeadState, Merchant, get_merchant, touch
from app.org.models import Role, User
from app.org.scope import manages
from app.reminders.service import remind
from app.tenants.custom_fields import validate_custom_attributes
from app.tenants.models import CORRECTABLE_FIELDS, Tenant
from geo import sql as geo_sql
from geo.coords import CoordSys, from_wgs84, to_wgs84
from geo.distance import distance_m

SIMPLE_FIELDS = ("name", "address", "phone", "category", "brand", "closed")
REASON_SETTING, REASON_NOT_OWNER, REASON_DUPLICATE = "setting", "not_owner", "possible_duplicate"


def _owner_id(merchant_id: int) -> int | None:
    return db.session.scalar(
        select(Lead.owner_id).where(Lead.merchant_id == merchant_id, Lead.state != LeadState.PUBLIC)
    )


def _at_once_fields(caller: User, tenant: Tenant, owner_id: int | None) -> tuple[set[str], str | None]:
    """The fields the caller's correction applies at once, and why the others wait (or 403)."""
    if caller.role in (Role.OPS, Role.ADMIN):
        return set(CORRECTABLE_FIELDS), None
    if owner_id is not None and owner_id == caller.id:
        return set(tenant.setting("corrections", "apply_at_once")), REASON_SETTING
    if owner_id is None or (caller.role == Role.MANAGER and manages(caller, owner_id)):
        return set(), REASON_NOT_OWNER
    raise NotAllowedForLead(
        "Only the lead's owner, their managers and ops can correct this merchant (anyone can while it is public)."
    )


def _requested(tenant: Tenant, fields: dict[str, Any]) -> dict[str, Any]:
    """The fields sent, in stored form: a position in WGS84, custom attributes validated."""
    requested: dict[str, Any] = {key: fields[key] for key in SIMPLE_FIELDS if key in fields}
    if "phone" in requested:
        requested["phone"] = requested["phone"] or None
        check_phone(requested["phone"], tenant.setting("phone_region"))
    if "brand" in requested:
        requested["brand"] = requested["brand"] or None
    if "lat" in fields:
        lat, lng = to_wgs84(fields["lat"], fields["lng"], fields["coord_sys"])
        requested["position"] = {"lat": lat, "lng": lng}
    if fields.get("attributes"):
        requested["attributes"] = validate_custom_attributes(tenant.settings or {}, fields["attributes"], partial=True)
    return requested


def _differences(current: dict[str, Any], requested: dict[str, Any]) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    for field, value in requested.items():
        if field == "attributes":
            differing = {k: v for k, v in value.items() if current.get(history.ATTRIBUTE_PREFIX + k) != v}
            if differing:
                changes["attributes"] = differing
        elif field == "position":
            old = current["position"]
            if distance_m(old["lat"], old["lng"], value["lat"], value["lng"]) >= 0.5:
                changes["position"] = value
        elif current.get(field) != value:
            changes[field] = value
    return changes


def _duplicates(merchant: Merchant, current: dict[str, Any], changes: dict[str, Any], tenant: Tenant) -> list[int]:
    """Possible duplicates of the merchant as corrected, when the correction renames it or moves it far."""
    position = changes.get("position", current["position"])
    moved = distance_m(current["position"]["lat"], current["position"]["lng"], position["lat"], position["lng"])
    if "name" not in changes and moved <= tenant.setting("corrections", "move_check_m"):
        return []
    keys = phone_keys(changes["phone"], tenant.setting("phone_region")) if "phone" in changes else merchant.phone_keys
    probe = probe_for(changes.get("name", merchant.name), position["lat"], position["lng"], list(keys or []))
    return [c["id"] for c in dedup.candidates(tenant.id, probe, exclude_id=merchant.id)]


def submit(caller: User, tenant: Tenant, merchant_id: int, fields: dict[str, Any]) -> dict[str, Any]:
    """A correction: applied at once where the rules allow, the rest queued for ops."""
    merchant = get_merchant(merchant_id)
    closed_for_good = merchant.closed == CLOSED_FOR_GOOD and caller.role not in (Role.OPS, Role.ADMIN)
    if merchant.audit_status in HIDDEN or closed_for_good:  # only ops reopen a merchant closed for good
        raise MerchantNotFound()
    _lock(merchant)
    at_once, wait_reason = _at_once_fields(caller, tenant, _owner_id(merchant.id))
    requested = _requested(tenant, fields)
    photos = known_photo_ids(fields.get("photo_ids") or [])
    current = history.snapshot(merchant.id, (requested.get("attributes") or {}).keys())
    changes = _differences(current, requested)
    if not changes:
        raise NothingToCorrect()
    candidates = _duplicates(merchant, current, changes, tenant)
    risky = {"name", "position"} & changes.keys() if candidates else set()
    applied = [field for field in changes if field in at_once and field not in risky]
    queued = [field for field in changes if field not in applied]
    reasons = []
    if any(field not in risky for field in queued) and wait_reason:
        reasons.append(wait_reason)
    if risky:
        reasons.append(REASON_DUPLICATE)
    correction = MerchantCorrection(
        tenant_id=merchant.tenant_id,
        merchant_id=merchant.id,
        created_by_id=caller.id,
        status=CorrectionStatus.PENDING if queued else CorrectionStatus.APPLIED,
        changes=changes,
        applied=applied,
        queued=queued,
        reasons=reasons,
        duplicate_candidates=candidates,
        note=fields.get("note") or "",
        photo_ids=photos,
    )
    db.session.add(correction)
    db.session.flush()
    if applied:
        _apply(caller, merchant, correction, {field: changes[field] for field in applied})
    return view(correction, merchant, fields["coord_sys"])


def _lock(merchant: Merchant) -> None:
    """Corrections and audits of one merchant queue up: each compares against what the previous one left."""
    db.session.execute(select(Merchant.id).where(Merchant.id == merchant.id).with_for_update())
    db.session.refresh(merchant)


def _apply(actor: User, merchant: Merchant, correction: MerchantCorrection, changes: dict[str, Any]) -> None:
    attribute_keys = (changes.get("attributes") or {}).keys()
    before = history.snapshot(merchant.id, attribute_keys)
    for field in ("address", "category", "closed"):
        if field in changes:
            setattr(merchant, field, changes[field])
    if "brand" in changes:
        merchant.brand = changes["brand"]
    if "name" in changes:
        merchant.name = changes["name"]
        merchant.name_key, merchant.branch_key = name_key(changes["name"]), branch_key(changes["name"])
    if "phone" in changes:
        keys = phone_keys(changes["phone"], _region(merchant))
        merchant.phone, merchant.phone_keys = changes["phone"], keys
        merchant.phone_normalized = keys[0] if keys else None
    if "position" in changes:
        merchant.location = geo_sql.point_value(changes["position"]["lat"], changes["position"]["lng"])
    if "attributes" in changes:
        attributes = dict(merchant.attributes or {})
        for key, value in changes["attributes"].items():
            if value is None:
                attributes.pop(key, None)
            else:
                attributes[key] = value
        merchant.attributes = attributes
    after = history.snapshot(merchant.id, attribute_keys)
    changed = history.record_changes(
        merchant.tenant_id, merchant.id, before, after, "correction", actor.id, {"correction_id": correction.id}
    )
    history.mark_corrected(merchant, changed)
    if changes.get("closed") == CLOSED_FOR_GOOD:
        release_closed(actor, merchant.id)
    touch(merchant.id)
    db.session.flush()


def _region(merchant: Merchant) -> str:
    tenant = db.session.get(Tenant, merchant.tenant_id)
    return tenant.setting("phone_region") if tenant is not None else "CN"


def audit(
    user: User, merchant_id: int, correction_id: int, action: str, coord_sys: CoordSys, note: str | None
) -> dict[str, Any]:
    """Ops approve (apply the queued fields) or reject a pending correction; the BD who sent it is told."""
    if action not in ("approve", "reject"):
        raise ValidationFailed(
            "A correction is approved or rejected.", errors={"json": {"action": ["Must be approve or reject."]}}
        )
    merchant = get_merchant(merchant_id)
    if merchant.audit_status in HIDDEN:
        raise MerchantNotFound()
    _lock(merchant)
    correction = db.session.execute(
        select(MerchantCorrection).where(MerchantCorrection.id == correction_id).with_for_update()
    ).scalar_one_or_none()
    if correction is None or correction.merchant_id not in (merchant_id, merchant.id):
        raise CorrectionNotFound()
    if correction.status != CorrectionStatus.PENDING:
        raise NotPendingAudit(
            f"This correction is {correction.status.value}, not pending audit.",
            extra={"audit_status": correction.status.value},
        )
    correction.status = CorrectionStatus.APPROVED if action == "approve" else CorrectionStatus.REJECTED
    correction.decided_by_id, correction.decided_at, correction.decision_note = user.id, clock.now(), note
    if action == "approve":
        _apply(user, merchant, correction, {field: correction.changes[field] for field in correction.queued})
    if correction.created_by_id is not None:
        remind(
            merchant.tenant_id,
            correction.created_by_id,
            "correction_result",
            Text(f"todo_correction_{action}", {"merchant": merchant.name}),
            merchant.id,
            f"correction:{correction.id}:{action}",
            {
                "merchant_id": merchant.id,
                "correction_id": correction.id,
                "action": action,
                "fields": list(correction.queued),
                "note": note,
            },
        )
    db.session.flush()
    db.session.refresh(merchant)
    lat, lng = position(merchant.id)
    return {
        **summary(merchant, lat, lng, coord_sys),
        "action": action,
        "audited_id": merchant.id,
        "correction_id": correction.id,
        "correction": view(correction, merchant, coord_sys),
    }


def positioned_changes(changes: dict[str, Any], coord_sys: CoordSys) -> dict[str, Any]:
    if "position" not in changes:
        return dict(changes)
    lat, lng = from_wgs84(changes["position"]["lat"], changes["position"]["lng"], coord_sys)
    return {**changes, "position": {"lat": round(lat, 7), "lng": round(lng, 7)}}


def view(correction: MerchantCorrection, merchant: Merchant, coord_sys: CoordSys) -> dict[str, Any]:
    return {
        "id": correction.id,
        "merchant_id": merchant.id,
        "status": correction.status.value,
        "changes": positioned_changes(correction.changes, coord_sys),
        "applied": list(correction.applied),
        "queued": list(correction.queued),
        "reasons": list(correction.reasons),
        "duplicate_candidates": list(correction.duplicate_candidates),
        "note": correction.note,
        "photo_ids": list(correction.photo_ids),
        "coord_sys": coord_sys.value,
    }
