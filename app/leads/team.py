"""A manager's bulk actions on the team's private leads: reassign, release, extend, lock, unlock.

Each lead is changed in a SAVEPOINT of the request's unit of work, through the same service functions as the
one-lead endpoints (so the same rules, history and audit entries apply): a lead that a rule refuses rolls back
alone and is reported with its error code, the others commit together. The BDs involved get one to-do and one
push each for the whole batch, not one per lead.
"""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from typing import Any

from sqlalchemy import select

from app import db
from app.audit import service as audit
from app.errors import AppError, Forbidden, NotInScope, UnknownMerchants
from app.i18n import Text
from app.leads import service
from app.merchants.models import Lead, Merchant
from app.org.models import Role, User
from app.org.scope import managed_user_ids, manages
from app.reminders.service import remind
from app.tenants.models import Tenant

MAX_BULK_LEADS = 1000
ACTIONS = ("reassign", "release", "extend", "lock", "unlock")
# what the push tells each BD, per action and side


def _apply(actor: User, tenant: Tenant, action: str, merchant_id: int, body: dict[str, Any]) -> Lead:
    if action == "reassign":
        service.team_lead(actor, merchant_id)  # scope: only leads of the actor's team move
        return service.assign(actor, tenant, merchant_id, body["user_id"], body["force"], body.get("reason"))
    if action == "release":
        return service.release_for_team(actor, merchant_id, body["reason"])
    if action == "extend":
        lead = service.team_lead(actor, merchant_id)
        before = {"drops_at": lead.drops_at}
        lead = service.extend(actor, tenant, merchant_id)
        audit.record_audit(
            audit.LEAD_EXTEND,
            actor=actor,
            subject_type="merchant",
            subject_id=merchant_id,
            before=before,
            after={"drops_at": lead.drops_at, "reason": body.get("reason")},
            tenant_id=tenant.id,
        )
        return lead
    if action == "lock":
        return service.lock(actor, tenant, merchant_id, body["until"], body["reason"])
    return service.unlock(actor, tenant, merchant_id, body.get("reason"))


def _check_scope(actor: User, tenant: Tenant, action: str, merchant_ids: list[int], body: dict[str, Any]) -> None:
    """Ids are resolved through the caller's scope before anything changes: an id of no merchant of the business
    line is 422, a lead (or a target BD) outside a manager's subtree is 403, for the whole request."""
    rows = dict(
        db.session.execute(
            select(Merchant.id, Lead.owner_id)
            .outerjoin(Lead, Lead.merchant_id == Merchant.id)
            .where(Merchant.id.in_(merchant_ids))
        ).all()
    )
    missing = [merchant_id for merchant_id in merchant_ids if merchant_id not in rows]
    if missing:
        raise UnknownMerchants(errors={"json": {"merchant_ids": [f"No such merchants: {missing[:50]}"]}})
    if actor.role != Role.MANAGER:
        return
    owners = {owner for owner in rows.values() if owner is not None}
    managed = set(db.session.scalars(managed_user_ids(actor).where(User.id.in_(owners)))) if owners else set()
    outside = [merchant_id for merchant_id, owner in rows.items() if owner is not None and owner not in managed]
    if outside:
        raise NotInScope(
            "Some leads belong to BDs outside your team.",
            errors={"json": {"merchant_ids": [f"Outside your team: {outside[:50]}"]}},
        )
    if action == "reassign" and not manages(actor, body["user_id"]):
        raise NotInScope("That BD is outside your team.", errors={"json": {"user_id": ["Outside your team."]}})


def bulk(actor: User, tenant: Tenant, body: dict[str, Any]) -> dict[str, Any]:
    """Run one action on up to ``MAX_BULK_LEADS`` leads; each lead's result is ``done`` or its error code."""
    if actor.role not in (Role.MANAGER, Role.OPS, Role.ADMIN):
        raise Forbidden("Only managers act on their team's leads.")
    action = body["action"]
    merchant_ids = list(dict.fromkeys(body["merchant_ids"]))  # a repeated id is done once
    _check_scope(actor, tenant, action, merchant_ids, body)
    owners_before = dict(
        db.session.execute(select(Lead.merchant_id, Lead.owner_id).where(Lead.merchant_id.in_(merchant_ids))).all()
    )
    batch = uuid.uuid4().hex[:16]
    results: list[dict[str, Any]] = []
    notify: dict[tuple[int, str], list[int]] = defaultdict(list)
    for merchant_id in merchant_ids:
        try:
            with db.savepoint():
                lead = _apply(actor, tenant, action, merchant_id, body)
        except AppError as error:
            results.append(
                {
                    "merchant_id": merchant_id,
                    "result": "error",
                    "error_code": error.error_code,
                    "owner_id": None,
                    "drops_at": None,
                }
            )
            continue
        results.append(
            {
                "merchant_id": merchant_id,
                "result": "done",
                "error_code": None,
                "owner_id": lead.owner_id,
                "drops_at": lead.drops_at,
            }
        )
        previous = owners_before.get(merchant_id)
        # the BD who held the lead hears of every change to it (of a reassignment: that it moved away)
        if previous is not None and (action != "reassign" or previous != lead.owner_id):
            notify[(previous, "from")].append(merchant_id)
        if action == "reassign" and lead.owner_id != previous:
            notify[(lead.owner_id, "to")].append(merchant_id)
    notified = _notify(tenant, action, batch, notify)
    counts = Counter(result["result"] for result in results)
    audit.record_audit(
        audit.LEAD_BULK,
        actor=actor,
        subject_type="leads",
        subject_id=None,
        after={"action": action, "batch": batch, "done": counts["done"], "failed": counts["error"]},
        tenant_id=tenant.id,
    )
    db.session.flush()
    return {
        "action": action,
        "done": counts["done"],
        "failed": counts["error"],
        "results": results,
        "notified_user_ids": notified,
    }


def _notify(tenant: Tenant, action: str, batch: str, notify: dict[tuple[int, str], list[int]]) -> list[int]:
    """One to-do (and its push) per BD for the whole batch."""
    per_user: dict[int, list[tuple[str, list[int]]]] = defaultdict(list)
    for (user_id, side), merchant_ids in notify.items():
        per_user[user_id].append((side, merchant_ids))
    for user_id, sides in per_user.items():
        counts = {side: len(ids) for side, ids in sides}
        if len(counts) > 1:  # a reassignment both gave this BD leads and took some away
            text = Text("todo_team_leads_reassign_both", {"received": counts["to"], "lost": counts["from"]})
        else:
            [(side, n)] = counts.items()
            text = Text(f"todo_team_leads_{action}_{side}", {"n": n})
        remind(
            tenant.id,
            user_id,
            "team_leads",
            text,
            None,
            f"team-leads:{batch}:{user_id}",
            {"action": action, **{f"{side}_merchant_ids": ids[:100] for side, ids in sides}},
        )
    return sorted(per_user)
