"""Merchants created in the street by BDs, checked for duplicates first, and the ops audit that follows."""

from __future__ import annotations

import uuid
from typing import Any

from flask import current_app
from sqlalchemy import select, text

from app import db
from app.audit import service as audit_log
from app.auth.throttle import count_or_refuse
from app.errors import (
    InvalidPhone,
    MerchantNotFound,
    MergeIntoSelf,
    MergeTargetNotFound,
    NotPendingAudit,
    PossibleDuplicate,
    UnknownPhotos,
    ValidationFailed,
)
from app.i18n import Text
from app.intake import dedup
from app.intake.merge import merge_into
from app.intake.normalize import branch_key, is_valid_phone, name_key, phone_keys
from app.merchants.models import AuditStatus, Merchant, touch
from app.org.models import User
from app.reminders.service import remind
from app.tenants.custom_fields import validate_custom_attributes
from app.tenants.models import Tenant
from app.uploads.models import Upload
from geo import sql as geo_sql
from geo.coords import CoordSys, from_wgs84, to_wgs84

HIDDEN = (AuditStatus.REJECTED, AuditStatus.MERGED)
DUPLICATE_FLAG = "possible_duplicate"


def _lock_tenant_creations(tenant_id: int) -> None:
    # Two BDs adding the same shop at the same moment would each miss the other's row; creations in a
    # tenant are few, so they queue on one transaction-scoped lock.
    db.session.execute(
        text("SELECT pg_advisory_xact_lock(hashtext('merchant-create'), CAST(:t AS int))"),
        {"t": tenant_id % 2_000_000_000},
    )


def check_phone(raw: str | None, region: str) -> None:
    if raw and not is_valid_phone(raw, region):
        raise InvalidPhone(errors={"json": {"phone": [f"Not a valid phone number for region {region}."]}})


def known_photo_ids(photo_ids: list[uuid.UUID]) -> list[str]:
    if not photo_ids:
        return []
    found = set(db.session.scalars(select(Upload.id).where(Upload.id.in_(photo_ids))))
    missing = [str(p) for p in photo_ids if p not in found]
    if missing:
        raise UnknownPhotos(errors={"json": {"photo_ids": [f"No such uploads: {missing}"]}})
    return [str(p) for p in dict.fromkeys(photo_ids)]


def probe_for(name: str, lat: float, lng: float, keys: list[str]) -> dedup.Probe:
    return dedup.Probe(lat, lng, name_key(name), tuple(keys), branch_key(name))


def positioned(candidate: dict[str, Any], coord_sys: CoordSys) -> dict[str, Any]:
    lat, lng = from_wgs84(candidate["lat"], candidate["lng"], coord_sys)
    return {**candidate, "lat": round(lat, 7), "lng": round(lng, 7)}


def _limit_duplicate_answers(user: User) -> None:
    """Each possible-duplicate answer tells whether a name or phone is already near: a guessing budget."""
    limit = current_app.config["DUPLICATE_ANSWERS_PER_HOUR"]
    count_or_refuse(
        [(f"duplicate-answers:{user.id}", limit, 3600)],
        message="Too many possible-duplicate answers this hour; try again later or ask ops.",
    )


def create_field_merchant(user: User, tenant: Tenant, fields: dict[str, Any]) -> dict[str, Any]:
    """A BD's new merchant, ``pending_audit``. Raises ``PossibleDuplicate`` unless ``force`` is set."""
    coord_sys: CoordSys = fields["coord_sys"]
    region = tenant.setting("phone_region")
    check_phone(fields.get("phone"), region)
    custom = validate_custom_attributes(tenant.settings or {}, fields.get("attributes") or {})
    lat, lng = to_wgs84(fields["lat"], fields["lng"], coord_sys)
    photos = known_photo_ids(fields.get("photo_ids") or [])
    keys = phone_keys(fields.get("phone"), region)
    _lock_tenant_creations(tenant.id)
    probe = probe_for(fields["name"], lat, lng, keys)
    found = dedup.candidates(tenant.id, probe, phone_radius_m=dedup.CALLER_PHONE_RADIUS_M)
    if found and not fields.get("force"):
        _limit_duplicate_answers(user)
        raise PossibleDuplicate(extra={"candidates": [positioned(c, coord_sys) for c in found]})
    for_ops = dedup.candidates(tenant.id, probe)
    attributes: dict[str, Any] = {key: value for key, value in custom.items() if value is not None}
    if photos:
        attributes["photo_ids"] = photos
    if for_ops:
        attributes["duplicate_candidates"] = [c["id"] for c in for_ops]
    merchant = Merchant(
        tenant_id=tenant.id,
        name=fields["name"],
        category=fields.get("category") or "",
        address=fields.get("address") or "",
        phone=fields.get("phone") or None,
        name_key=name_key(fields["name"]),
        branch_key=branch_key(fields["name"]),
        phone_keys=keys,
        phone_normalized=keys[0] if keys else None,
        location=geo_sql.point_value(lat, lng),
        source="field",
        attributes=attributes,
        audit_status=AuditStatus.PENDING,
        audit_flags=[DUPLICATE_FLAG] if for_ops else [],
        created_by_id=user.id,
    )
    db.session.add(merchant)
    db.session.flush()
    return summary(merchant, lat, lng, coord_sys, [positioned(c, coord_sys) for c in found])


def summary(
    merchant: Merchant, lat: float, lng: float, coord_sys: CoordSys, candidates: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    out_lat, out_lng = from_wgs84(lat, lng, coord_sys)
    return {
        "id": merchant.id,
        "name": merchant.name,
        "category": merchant.category,
        "address": merchant.address,
        "phone": merchant.phone,
        "lat": round(out_lat, 7),
        "lng": round(out_lng, 7),
        "coord_sys": coord_sys.value,
        "audit_status": merchant.audit_status.value,
        "audit_flags": list(merchant.audit_flags or []),
        "merged_into_id": merchant.merged_into_id,
        "self_onboarded": merchant.self_onboarded,
        "duplicate_candidates": candidates or [],
    }


def position(merchant_id: int) -> tuple[float, float]:  # WGS84 lat, lng
    row = db.session.execute(
        text("SELECT ST_Y(location::geometry), ST_X(location::geometry) FROM merchants WHERE id = :id"),
        {"id": merchant_id},
    ).one()
    return row[0], row[1]


def audit(
    user: User, merchant_id: int, action: str, into_id: int | None, coord_sys: CoordSys, note: str | None = None
) -> dict[str, Any]:
    """Ops decide on a pending merchant: approve, reject, or merge it into an existing one."""
    # Both rows of a merge locked at once, in id order: two merges crossing each other wait, not deadlock.
    ids = sorted({merchant_id, into_id} if action == "merge" and into_id else {merchant_id})
    db.session.execute(select(Merchant.id).where(Merchant.id.in_(ids)).order_by(Merchant.id).with_for_update())
    merchant = db.get(Merchant, merchant_id)
    if merchant is not None:
        db.session.refresh(merchant)
    if merchant is None or merchant.audit_status in HIDDEN:
        raise MerchantNotFound()
    if action in ("approve", "reject") and merchant.audit_status != AuditStatus.PENDING:
        raise NotPendingAudit(
            f"This merchant is {merchant.audit_status.value}, not pending audit.",
            extra={"audit_status": merchant.audit_status.value},
        )
    if action == "merge":
        if into_id is None:
            raise ValidationFailed(
                "Say which merchant to merge into.", errors={"json": {"into_id": ["Required when action is merge."]}}
            )
        if into_id == merchant.id:
            raise MergeIntoSelf(errors={"json": {"into_id": ["Must be another merchant."]}})
        survivor = db.get(Merchant, into_id)
        if survivor is not None:
            db.session.refresh(survivor)
        if survivor is None or survivor.audit_status in HIDDEN:
            raise MergeTargetNotFound()
        moved = merge_into(merchant.id, survivor.id, merchant.tenant_id, user)
        audit_log.record_audit(
            audit_log.MERCHANT_MERGE,
            actor=user,
            subject_type="merchant",
            subject_id=merchant.id,
            before={"id": merchant.id, "name": merchant.name, "audit_status": "pending"},
            after={"merged_into": survivor.id, "moved": moved, "note": note},
            tenant_id=merchant.tenant_id,
        )
        result = survivor
    else:
        merchant.audit_status = AuditStatus.APPROVED if action == "approve" else AuditStatus.REJECTED
        if action == "approve":
            merchant.audit_flags = []  # what made it pending (a possible duplicate, a closed store) is settled
        touch(merchant.id)
        result = merchant
    _tell_creator(merchant, action, into_id, note)
    db.session.flush()
    db.session.refresh(result)
    db.session.refresh(merchant)
    lat, lng = position(result.id)
    return {
        **summary(result, lat, lng, coord_sys),
        "action": action,
        "audited_id": merchant.id,
        "correction_id": None,
        "correction": None,
    }


def _tell_creator(merchant: Merchant, action: str, into_id: int | None, note: str | None) -> None:
    if merchant.created_by_id is None:
        return
    remind(
        merchant.tenant_id,
        merchant.created_by_id,
        "audit_result",
        Text(f"todo_audit_{action}", {"merchant": merchant.name}),
        into_id or merchant.id,
        f"audit:{merchant.id}:{action}",
        {"merchant_id": merchant.id, "action": action, "into_id": into_id, "note": note},
    )
