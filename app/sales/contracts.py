"""Life after signing: a partner's contracts (recorded, changed, ended), the hand-over of the account to an
ops account owner, and the renewal reminders before a contract ends.

Every change is in the merchant's lead history (``contract``, ``contract_change``, ``handover`` events) and
the audit log. The signing BD stays the lead's owner after a hand-over, so they keep their read access
(full phones, history); the account owner is who runs the account and gets the renewal reminders.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select, text

from app import clock, db
from app.audit import service as audit
from app.errors import (
    ContractExists,
    ContractNotFound,
    NotPartner,
    UserNotFound,
    ValidationFailed,
)
from app.i18n import Text
from app.merchants.models import Lead, LeadEvent, LeadState, Merchant, get_merchant, touch
from app.merchants.service import ensure_can_edit
from app.org.models import Role, User
from app.outbox.service import enqueue_after_commit
from app.reminders.jobs import push_reminder
from app.reminders.service import remind
from app.sales.models import Contract
from app.tenants.models import Tenant

CONTRACT_CREATE = "contract.create"
CONTRACT_CHANGE = "contract.change"
ACCOUNT_HANDOVER = "account.handover"
_FIELDS = ("number", "type", "starts_on", "ends_on", "status")


def contract_view(contract: Contract) -> dict[str, Any]:
    return {
        "id": contract.id,
        "merchant_id": contract.merchant_id,
        "number": contract.number,
        "type": contract.type,
        "starts_on": contract.starts_on,
        "ends_on": contract.ends_on,
        "status": contract.status,
        "signed_by_id": contract.signed_by_id,
    }


def _snapshot(contract: Contract) -> dict[str, Any]:
    return {name: getattr(contract, name) for name in _FIELDS}


def _history(merchant: Merchant, action: str, actor: User, reason: str | None = None, **details: Any) -> None:
    owner = db.session.scalar(select(Lead.owner_id).where(Lead.merchant_id == merchant.id))
    db.session.add(
        LeadEvent(
            merchant_id=merchant.id,
            tenant_id=merchant.tenant_id,
            action=action,
            from_owner_id=owner,
            to_owner_id=owner,
            actor_id=actor.id,
            reason=reason,
            details={k: v.isoformat() if isinstance(v, date) else v for k, v in details.items()},
        )
    )


def _check_term(starts_on: date, ends_on: date | None) -> None:
    if ends_on is not None and ends_on < starts_on:
        raise ValidationFailed(errors={"json": {"ends_on": ["On or after `starts_on`."]}})


def create(actor: User, merchant_id: int, fields: dict[str, Any]) -> Contract:
    merchant = get_merchant(merchant_id, live_only=True)
    ensure_can_edit(actor, merchant)
    _check_term(fields["starts_on"], fields.get("ends_on"))
    owner = db.session.scalar(select(Lead.owner_id).where(Lead.merchant_id == merchant.id))
    contract = Contract(
        tenant_id=merchant.tenant_id,
        merchant_id=merchant.id,
        number=fields["number"],
        type=fields["type"],
        starts_on=fields["starts_on"],
        ends_on=fields.get("ends_on"),
        status="active",
        signed_by_id=owner,
    )
    db.session.add(contract)
    db.flush_unique(ContractExists)
    _history(merchant, "contract", actor, number=contract.number, type=contract.type, ends_on=contract.ends_on)
    audit.record_audit(
        CONTRACT_CREATE, actor=actor, subject_type="merchant", subject_id=merchant.id, after=_snapshot(contract)
    )
    touch(merchant.id)
    db.session.flush()
    return contract


def change(actor: User, merchant_id: int, contract_id: int, fields: dict[str, Any]) -> Contract:
    """Change a contract's terms or end it (``status``: ended, terminated); logged with before and after."""
    merchant = get_merchant(merchant_id)
    ensure_can_edit(actor, merchant)
    contract = db.get(Contract, contract_id)
    if contract is None or contract.merchant_id != merchant.id:
        raise ContractNotFound()
    before = _snapshot(contract)
    for name in _FIELDS:
        if name in fields:
            setattr(contract, name, fields[name])
    _check_term(contract.starts_on, contract.ends_on)
    db.flush_unique(ContractExists)
    after = _snapshot(contract)
    changed = {name: {"from": before[name], "to": after[name]} for name in _FIELDS if before[name] != after[name]}
    if changed:
        _history(
            merchant,
            "contract_change",
            actor,
            fields.get("reason"),
            contract_id=contract.id,
            changes={
                k: {s: (v.isoformat() if isinstance(v, date) else v) for s, v in c.items()} for k, c in changed.items()
            },
        )
        audit.record_audit(
            CONTRACT_CHANGE, actor=actor, subject_type="merchant", subject_id=merchant.id, before=before, after=after
        )
        touch(merchant.id)
    db.session.flush()
    return contract


def handover(actor: User, tenant: Tenant, merchant_id: int, user_id: int, reason: str | None) -> dict[str, Any]:
    """Hand a signed partner over to an ops account owner; the signing BD keeps the lead (read access)."""
    merchant = get_merchant(merchant_id, live_only=True)
    ensure_can_edit(actor, merchant)
    lead = db.session.execute(
        select(Lead).where(Lead.merchant_id == merchant.id).with_for_update()
    ).scalar_one_or_none()
    if lead is None or lead.state != LeadState.PARTNER:
        raise NotPartner()
    target = db.get(User, user_id)
    if target is None or target.role != Role.OPS or not target.is_active:
        raise UserNotFound("No such active ops user.")
    before = {"account_owner_id": lead.account_owner_id}
    lead.account_owner_id = target.id
    lead.version += 1
    _history(merchant, "handover", actor, reason, account_owner_id=target.id)
    audit.record_audit(
        ACCOUNT_HANDOVER,
        actor=actor,
        subject_type="merchant",
        subject_id=merchant.id,
        before=before,
        after={"account_owner_id": target.id, "reason": reason},
    )
    remind(
        tenant.id,
        target.id,
        "account_handover",
        Text("todo_account_handover", {"merchant": merchant.name}),
        merchant.id,
        f"handover:{merchant.id}:{lead.version}",
        {"merchant_id": merchant.id, "from_user_id": lead.owner_id},
    )
    touch(merchant.id)
    db.session.flush()
    return {"merchant_id": merchant.id, "owner_id": lead.owner_id, "account_owner_id": target.id}


# --- renewal reminders ---------------------------------------------------------------------------

RENEWAL_SQL = text(
    """
    INSERT INTO reminders (tenant_id, user_id, kind, title, message, merchant_id, due_at, dedupe_key, payload,
                           created_at)
    SELECT c.tenant_id, coalesce(l.account_owner_id, l.owner_id), 'contract_renewal',
           'Contract ends on ' || to_char(c.ends_on, 'YYYY-MM-DD') || ': ' || m.name || ' (' || c.number || ')',
           -- app.i18n: todo_contract_renewal, in each reader's language
           jsonb_build_object('key', 'todo_contract_renewal', 'args', jsonb_build_object(
               'merchant', m.name, 'number', c.number, 'ends_on', to_char(c.ends_on, 'YYYY-MM-DD'))),
           c.merchant_id, :now,
           'contract-renewal:' || c.id || ':' || to_char(c.ends_on, 'YYYYMMDD'),
           jsonb_build_object('contract_id', c.id, 'number', c.number, 'ends_on', c.ends_on), :now
    FROM contracts c
    JOIN tenants t ON t.id = c.tenant_id
    JOIN merchants m ON m.id = c.merchant_id
    JOIN leads l ON l.merchant_id = c.merchant_id
    WHERE c.status = 'active' AND c.ends_on >= CAST(:today AS date)
      AND c.ends_on <= CAST(:today AS date)
            + coalesce((t.settings -> 'contracts' ->> 'renewal_reminder_days')::int, :default_days)
      AND coalesce(l.account_owner_id, l.owner_id) IS NOT NULL
    ON CONFLICT (tenant_id, dedupe_key) DO NOTHING
    RETURNING id
    """
)


@db.job
def remind_contract_renewals(today: date | None = None) -> int:
    """A to-do and a push for the account owner (else the signing BD) N days before a contract ends; once per
    contract and end date (a renewal that moves the end date reminds again before the new one)."""
    now = clock.now()
    today = today or now.date()
    rows = db.session.execute(RENEWAL_SQL, {"now": now, "today": today, "default_days": 30}).all()
    for (reminder_id,) in rows:
        enqueue_after_commit(push_reminder, queue="push", reminder_id=reminder_id)
    return len(rows)
