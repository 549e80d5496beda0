"""Merchants who sign themselves up, through a public form: no account, so strict input, rate limits, and
an answer that says nothing about what we already know.

A submission links to the merchant it matches (the same store phone, or the same name nearby), or else
creates one in the public pool, ``pending_audit`` and marked ``self_onboarded``. Without a position and
without a match, no merchant is created: the to-do carries the submission for ops to place. Either way a
to-do goes to whoever covers the place: ``onboarding_assignee``.
"""

from __future__ import annotations

from typing import Any

from flask import current_app
from sqlalchemy import select, text

from app import clock, db
from app.auth import throttle
from app.errors import InvalidPhone
from app.i18n import Text
from app.intake import dedup
from app.intake.normalize import branch_key, name_key, phone_keys
from app.intake.service import check_phone
from app.merchants.models import AuditStatus, Contact, ContactRole, Merchant, touch
from app.org.models import Role, User
from app.reminders.service import remind
from app.tenants.models import DEFAULT_SETTINGS, Tenant
from geo import sql as geo_sql
from geo.coords import CoordSys, to_wgs84

RECEIVED = {"status": "received", "message": "Thank you. Our team will contact you within two working days."}
HOUR, DAY = 3600, 86400


def limit_ip(ip: str | None) -> None:
    """Every request from an address counts, valid or not: probing the form costs the same."""
    throttle.count_or_refuse(
        [(f"onboarding:ip:{ip or 'unknown'}", current_app.config["ONBOARDING_PER_IP_HOUR"], HOUR)],
        message="Too many submissions from your network; try again later.",
    )


def _limit_phone(tenant_id: int, key: str) -> None:
    throttle.count_or_refuse(
        [(f"onboarding:phone:{tenant_id}:{key}", current_app.config["ONBOARDING_PER_PHONE_DAY"], DAY)],
        message="This phone number has been submitted too often today.",
    )


def onboarding_assignee(tenant_id: int, point: tuple[float, float] | None) -> list[int]:
    """Who gets the to-do for a self-onboarded merchant at ``point`` (WGS84 lat, lng; None if unknown).

    The managers of the teams whose territories cover the point (the unit's manager, else the active
    managers in that unit); for points no territory covers, or without a point, the tenant's ops queue:
    every active ops user (admins if none).
    """
    if point is not None:
        managers = list(
            db.session.scalars(
                text(
                    """
            SELECT DISTINCT u.id FROM territories t
            JOIN org_units o ON o.id = t.team_id
            JOIN users u ON u.tenant_id = t.tenant_id AND u.is_active AND u.role = 'manager'
                        AND (u.id = o.manager_id OR (o.manager_id IS NULL AND u.org_unit_id = o.id))
            WHERE t.tenant_id = :tenant_id
              AND ST_Covers(t.boundary, ST_SetSRID(ST_MakePoint(:lng, :lat), 4326)::geography)
            ORDER BY u.id
            """
                ),
                {"tenant_id": tenant_id, "lat": point[0], "lng": point[1]},
            )
        )
        if managers:
            return managers
    for roles in ((Role.OPS,), (Role.ADMIN,)):
        users = list(
            db.session.scalars(
                select(User.id)
                .where(User.tenant_id == tenant_id, User.role.in_(roles), User.is_active.is_(True))
                .order_by(User.id)
            )
        )
        if users:
            return users
    return []


def _tenant(slug: str) -> Tenant | None:
    return db.session.scalar(select(Tenant).where(Tenant.slug == slug))


def _match(tenant_id: int, fields: dict[str, Any], keys: list[str], point: tuple[float, float] | None) -> int | None:
    if point is not None:
        found = dedup.candidates(
            tenant_id,
            dedup.Probe(
                point[0], point[1], name_key(fields["business_name"]), tuple(keys), branch_key(fields["business_name"])
            ),
            limit=1,
        )
        return found[0]["id"] if found else None
    if not keys:
        return None
    return db.session.execute(
        text(
            "SELECT id FROM merchants WHERE tenant_id = :t AND phone_keys && CAST(:k AS varchar(20)[]) "
            "AND audit_status NOT IN ('rejected', 'merged') ORDER BY id LIMIT 1"
        ),
        {"t": tenant_id, "k": keys},
    ).scalar()


def submit(fields: dict[str, Any]) -> dict[str, str]:
    tenant = _tenant(fields["tenant"])
    region = tenant.setting("phone_region") if tenant else DEFAULT_SETTINGS["phone_region"]
    check_phone(fields["phone"], region)
    keys = phone_keys(fields["phone"], region)
    if not keys:
        hint = "Hotlines (400/800) cannot be verified; give a direct number."
        raise InvalidPhone("Give the store's own phone number.", errors={"json": {"phone": [hint]}})
    if tenant is None:
        # answered like a submission to a real business line: the form must not tell which slugs exist
        return RECEIVED
    db.scope_to_tenant(tenant.id)
    _limit_phone(tenant.id, keys[0])
    point = None
    if fields.get("lat") is not None:
        point = to_wgs84(fields["lat"], fields["lng"], fields.get("coord_sys") or CoordSys.WGS84)
    merchant_id = _match(tenant.id, fields, keys, point)
    if merchant_id is not None:
        _link(merchant_id, fields, keys)
    elif point is not None:
        merchant_id = _create(tenant, fields, keys, point)
    submission = {k: fields.get(k) for k in ("business_name", "contact_name", "phone", "address", "category")}
    submission.update(
        {"lat": point[0] if point else None, "lng": point[1] if point else None, "linked": merchant_id is not None}
    )
    today = clock.now().astimezone(tenant.zone).date().isoformat()
    for user_id in onboarding_assignee(tenant.id, point):
        remind(
            tenant.id,
            user_id,
            "self_onboarding",
            Text("todo_self_onboarding", {"business": fields["business_name"]}),
            merchant_id,
            f"onboarding:{keys[0]}:{today}:{user_id}",
            submission,
        )
    db.session.flush()
    return RECEIVED


def _contact(merchant_id: int, tenant_id: int, fields: dict[str, Any], keys: list[str]) -> None:
    known = db.session.scalars(select(Contact.phones).where(Contact.merchant_id == merchant_id)).all()
    if any(set(phone_keys(";".join(phones))) & set(keys) for phones in known):
        return
    db.session.add(
        Contact(
            merchant_id=merchant_id,
            tenant_id=tenant_id,
            name=fields["contact_name"],
            role=ContactRole.DECISION_MAKER,
            phones=[fields["phone"]],
            is_key_person=True,
            notes="Self-onboarded",
            verified=False,
        )
    )


def _link(merchant_id: int, fields: dict[str, Any], keys: list[str]) -> None:
    """A request on an existing merchant: the sender's contact, unverified until accepted; nothing else."""
    merchant = db.get(Merchant, merchant_id)
    _contact(merchant.id, merchant.tenant_id, fields, keys)
    touch(merchant.id)


def _create(tenant: Tenant, fields: dict[str, Any], keys: list[str], point: tuple[float, float]) -> int:
    name = fields["business_name"]
    merchant = Merchant(
        tenant_id=tenant.id,
        name=name,
        name_key=name_key(name),
        branch_key=branch_key(name),
        category=fields.get("category") or "",
        address=fields["address"],
        phone=fields["phone"],
        phone_keys=keys,
        phone_normalized=keys[0],
        location=geo_sql.point_value(point[0], point[1]),
        source="self_onboarding",
        audit_status=AuditStatus.PENDING,
        self_onboarded=True,
    )
    db.session.add(merchant)
    db.session.flush()
    _contact(merchant.id, tenant.id, fields, keys)
    return merchant.id
