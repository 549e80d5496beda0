"""The lead pool ("sea"): claim, release, extend, assign, sign, and the history of every change.

Concurrency rules that keep the pool fair:

- Claiming a public lead is one ``INSERT ... ON CONFLICT DO UPDATE ... WHERE state = 'public'``: of many
  BDs claiming at once, exactly one statement changes the row; the others see it taken.
- A BD's own claims are serialised by locking the BD's user row first, so the private-lead cap holds even
  when one phone fires many claims at once.
- Every other change locks the lead row (``FOR UPDATE``) and re-checks its state, so it composes with the
  sweeper, which skips locked rows and re-checks ``drops_at``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.dialects.postgresql import insert

from app import clock, db
from app.audit import service as audit
from app.errors import (
    AlreadyPartner,
    AlreadyYours,
    ClaimCapReached,
    ExtensionsExhausted,
    Forbidden,
    LeadDropped,
    LeadTaken,
    NotInScope,
    NotOwner,
    ReclaimCooldown,
    UserNotFound,
)
from app.i18n import Text
from app.leads.rules import drop_clock
from app.merchants.models import Lead, LeadEvent, LeadState, Merchant, get_merchant, touch
from app.merchants.pool import COOLDOWN_ACTIONS
from app.org.models import Role, User
from app.org.scope import manages
from app.reminders.service import LEAD_DROPPING, SIGN_CONFIRMATION, remind, resolve
from app.tenants.models import Tenant


def _locked_lead(merchant_id: int) -> Lead | None:
    return db.session.execute(
        select(Lead).where(Lead.merchant_id == merchant_id).with_for_update()
    ).scalar_one_or_none()


def _lock_user(user_id: int) -> None:
    # Serialises one BD's claims (the cap). FOR NO KEY UPDATE, not FOR UPDATE: every row written that
    # references the user (a lead_events row of the sweeper, a visit) takes FOR KEY SHARE on it until its
    # transaction ends, and a claim must not queue behind a whole sweep batch for that.
    db.session.execute(select(User.id).where(User.id == user_id).with_for_update(key_share=True))


def _private_count(user_id: int) -> int:
    return db.session.scalar(
        select(func.count()).select_from(Lead).where(Lead.owner_id == user_id, Lead.state == LeadState.PRIVATE)
    )


def _record(
    lead_merchant_id: int,
    tenant_id: int,
    action: str,
    *,
    actor: User | None,
    from_owner: int | None,
    to_owner: int | None,
    reason: str | None = None,
    **details: Any,
) -> None:
    db.session.add(
        LeadEvent(
            merchant_id=lead_merchant_id,
            tenant_id=tenant_id,
            action=action,
            from_owner_id=from_owner,
            to_owner_id=to_owner,
            actor_id=actor.id if actor else None,
            reason=reason,
            details={k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in details.items()},
        )
    )


def _snapshot(lead: Lead) -> dict[str, Any]:
    """What the audit log keeps of a lead before and after a change of hands."""
    return {"state": lead.state, "owner_id": lead.owner_id, "drops_at": lead.drops_at}


def _close_reminders(merchant_id: int, reason: str, *, signing: bool = True) -> None:
    """The lead's drop warnings (and a pending signing's confirmation) are about a clock that just changed."""
    resolve((LEAD_DROPPING, SIGN_CONFIRMATION) if signing else (LEAD_DROPPING,), reason, merchant_id=merchant_id)


def _reset_clocks(lead: Lead, now: datetime, rules: dict[str, Any]) -> None:
    lead.claimed_at, lead.last_visit_at = now, None
    lead.extensions_used = lead.extended_days = lead.manager_extended_days = 0
    lead.signed_at = lead.contract_no = None
    _recompute(lead, rules)


def _recompute(lead: Lead, rules: dict[str, Any]) -> None:
    clock_ = drop_clock(lead.claimed_at, lead.last_visit_at, lead.extended_days, rules)
    lead.drops_at, lead.drop_reason = clock_.drops_at, clock_.reason
    lead.version += 1


def _ensure_live(lead: Lead | None, now: datetime) -> None:
    """A private lead past its drop time has dropped, even if the sweeper has not got to it yet."""
    if lead is not None and lead.state == LeadState.PRIVATE and lead.drops_at is not None and lead.drops_at <= now:
        raise LeadDropped("This lead has already dropped back to the public pool.")


def _in_cooldown(user_id: int, merchant_id: int, now: datetime, rules: dict[str, Any]) -> datetime | None:
    """Until when the user may not re-claim this merchant (after it dropped from them or they released it)."""
    last = db.session.scalar(
        select(func.max(LeadEvent.created_at)).where(
            LeadEvent.merchant_id == merchant_id,
            LeadEvent.from_owner_id == user_id,
            LeadEvent.action.in_(COOLDOWN_ACTIONS),
        )
    )
    until = last + timedelta(days=rules["reclaim_cooldown_days"]) if last else None
    return until if until and until > now else None


def claim(user: User, tenant: Tenant, merchant_id: int) -> Lead:
    if user.role != Role.BD:
        raise Forbidden("Only BDs claim leads; managers assign them.")
    merchant = get_merchant(merchant_id, live_only=True)
    rules, now = tenant.setting("pool"), clock.now()
    _lock_user(user.id)
    cooldown = _in_cooldown(user.id, merchant.id, now, rules)
    if cooldown:
        raise ReclaimCooldown(extra={"until": cooldown.isoformat()})
    if _private_count(user.id) >= rules["claim_cap"]:
        raise ClaimCapReached(
            f"You already hold {rules['claim_cap']} private leads.", extra={"cap": rules["claim_cap"]}
        )
    clock_ = drop_clock(now, None, 0, rules)
    fresh = {
        "state": LeadState.PRIVATE,
        "owner_id": user.id,
        "claimed_at": now,
        "last_visit_at": None,
        "extensions_used": 0,
        "extended_days": 0,
        "manager_extended_days": 0,
        "drops_at": clock_.drops_at,
        "drop_reason": clock_.reason,
        "signed_at": None,
        "contract_no": None,
    }
    statement = (
        insert(Lead)
        .values(merchant_id=merchant.id, tenant_id=tenant.id, version=1, **fresh)
        .on_conflict_do_update(
            index_elements=["merchant_id"],
            set_={**fresh, "version": Lead.version + 1},
            where=Lead.state == LeadState.PUBLIC,
        )
        .returning(Lead)
    )
    # the claimed row comes back from the INSERT itself: no SELECT after the commit
    lead = db.session.scalars(statement, execution_options={"populate_existing": True}).one_or_none()
    if lead is None:
        holder = db.session.execute(select(Lead.state, Lead.owner_id).where(Lead.merchant_id == merchant.id)).one()
        if holder.state == LeadState.PARTNER:
            raise AlreadyPartner("This merchant is already a signed partner.")
        if holder.owner_id == user.id:
            raise AlreadyYours("This lead is already in your private pool.")
        raise LeadTaken("A colleague holds this lead.")
    _record(merchant.id, tenant.id, "claim", actor=user, from_owner=None, to_owner=user.id)
    touch(merchant.id)
    db.session.flush()
    return lead


def release(user: User, merchant_id: int, reason: str) -> Lead:
    merchant = get_merchant(merchant_id, live_only=True)
    lead = _locked_lead(merchant.id)
    _ensure_live(lead, clock.now())
    if lead is not None and lead.state == LeadState.PARTNER:
        raise AlreadyPartner("Signed partners are not released to the pool.")
    if lead is None or lead.state != LeadState.PRIVATE or lead.owner_id != user.id:
        raise NotOwner("Only the lead's owner can release it.")
    previous = lead.owner_id
    before = _snapshot(lead)
    _to_public(lead)
    _record(merchant.id, lead.tenant_id, "release", actor=user, from_owner=previous, to_owner=None, reason=reason)
    _close_reminders(merchant.id, "released")
    audit.record_audit(
        audit.LEAD_RELEASE,
        actor=user,
        subject_type="merchant",
        subject_id=merchant.id,
        before=before,
        after={**_snapshot(lead), "reason": reason},
        tenant_id=lead.tenant_id,
    )
    touch(merchant.id)
    db.session.flush()
    return lead


CLOSED_REASON = "closed"


def release_closed(actor: User, merchant_id: int) -> int | None:
    """A merchant closed for good leaves the pool: its private lead is released with reason ``closed``.

    Returns the former owner's id (None when nobody held it). A partner keeps its state (the contract's
    history matters more than the pool), but the merchant leaves nearby and the map all the same.
    """
    lead = _locked_lead(merchant_id)
    if lead is None or lead.state != LeadState.PRIVATE:
        return None
    previous = lead.owner_id
    before = _snapshot(lead)
    _to_public(lead)
    _record(
        merchant_id, lead.tenant_id, "release", actor=actor, from_owner=previous, to_owner=None, reason=CLOSED_REASON
    )
    audit.record_audit(
        audit.LEAD_RELEASE,
        actor=actor,
        subject_type="merchant",
        subject_id=merchant_id,
        before=before,
        after={**_snapshot(lead), "reason": CLOSED_REASON},
        tenant_id=lead.tenant_id,
    )
    touch(merchant_id)
    return previous


def _to_public(lead: Lead) -> None:
    lead.state, lead.owner_id = LeadState.PUBLIC, None
    lead.drops_at = lead.drop_reason = None
    lead.version += 1


def extend(user: User, tenant: Tenant, merchant_id: int) -> Lead:
    """The owner uses one of their self-extensions; a manager of the owner extends without using them."""
    merchant = get_merchant(merchant_id, live_only=True)
    rules, now = tenant.setting("pool"), clock.now()
    lead = _locked_lead(merchant.id)
    _ensure_live(lead, now)
    if lead is None or lead.state != LeadState.PRIVATE:
        if lead is not None and lead.state == LeadState.PARTNER:
            raise AlreadyPartner("Partners have no drop clock to extend.")
        raise NotOwner("Only a private lead's owner (or their manager) can extend it.")
    by_manager = user.role in (Role.OPS, Role.ADMIN) or (lead.owner_id != user.id and manages(user, lead.owner_id))
    if lead.owner_id != user.id and not by_manager:
        raise NotOwner("Only a private lead's owner (or their manager) can extend it.")
    if not by_manager:
        if lead.extensions_used >= rules["max_extensions"]:
            raise ExtensionsExhausted(f"All {rules['max_extensions']} extensions are used.")
        lead.extensions_used += 1
    else:
        lead.manager_extended_days += rules["extension_days"]
    lead.extended_days += rules["extension_days"]
    before = lead.drops_at
    _recompute(lead, rules)
    _close_reminders(merchant.id, "extended", signing=False)
    _record(
        merchant.id,
        tenant.id,
        "extend",
        actor=user,
        from_owner=lead.owner_id,
        to_owner=lead.owner_id,
        by_manager=by_manager,
        days=rules["extension_days"],
        drops_at_before=before,
        drops_at=lead.drops_at,
    )
    touch(merchant.id)
    db.session.flush()
    return lead


def assign(
    manager: User, tenant: Tenant, merchant_id: int, user_id: int, force: bool = False, reason: str | None = None
) -> Lead:
    """Give a lead (public, someone's private lead, or a partner account) to a BD the manager manages."""
    if manager.role not in (Role.MANAGER, Role.OPS, Role.ADMIN):
        raise Forbidden("Only managers assign leads.")
    merchant = get_merchant(merchant_id, live_only=True)
    target = db.get(User, user_id)
    if target is None or target.role != Role.BD or not target.is_active:
        raise UserNotFound("No such active BD.")
    if manager.role == Role.MANAGER and not manages(manager, target.id):
        raise NotInScope("That BD is outside your team.")
    rules, now = tenant.setting("pool"), clock.now()
    _lock_user(target.id)
    # a lead that is due but not yet swept is assigned all the same: the manager's decision wins
    lead = _locked_lead(merchant.id)
    if lead is not None and lead.owner_id == target.id and lead.state != LeadState.PUBLIC:
        raise AlreadyYours("The lead already belongs to that BD.")
    if (
        manager.role == Role.MANAGER
        and lead is not None
        and lead.state != LeadState.PUBLIC
        and lead.owner_id is not None
        and not manages(manager, lead.owner_id)
    ):
        raise NotInScope("That lead belongs to a BD outside your team.")
    partner = lead is not None and lead.state == LeadState.PARTNER
    if not partner and not force and _private_count(target.id) >= rules["claim_cap"]:
        raise ClaimCapReached(
            f"That BD already holds {rules['claim_cap']} private leads; send force=true to assign anyway.",
            extra={"cap": rules["claim_cap"]},
        )
    if lead is None:
        lead = Lead(merchant_id=merchant.id, tenant_id=tenant.id, state=LeadState.PUBLIC, version=0)
        db.session.add(lead)
    previous = lead.owner_id if lead.state != LeadState.PUBLIC else None
    before = _snapshot(lead)
    lead.owner_id = target.id
    if partner:
        lead.version += 1
    else:
        lead.state = LeadState.PRIVATE
        _reset_clocks(lead, now, rules)
    _close_reminders(merchant.id, "transferred" if previous else "assigned")
    _record(
        merchant.id,
        tenant.id,
        "transfer" if previous else "assign",
        actor=manager,
        from_owner=previous,
        to_owner=target.id,
        reason=reason,
        forced=force,
    )
    audit.record_audit(
        audit.LEAD_TRANSFER if previous else audit.LEAD_ASSIGN,
        actor=manager,
        subject_type="merchant",
        subject_id=merchant.id,
        before=before,
        after={**_snapshot(lead), "reason": reason, "forced": force},
        tenant_id=tenant.id,
    )
    touch(merchant.id)
    db.session.flush()
    return lead


# The deal import (app.sales, above this package) is the contract record; read as a table, not imported.
_CONTRACT_ON_RECORD = text("SELECT EXISTS (SELECT 1 FROM deals WHERE merchant_id = :merchant_id AND external_id = :no)")


def _signing_verified(rule: str, merchant_id: int, contract_no: str) -> bool:
    """Whether a BD's own signing is final under the business line's rule (see ``pool.signing``)."""
    if rule == "none":
        return True
    if rule == "contract":
        return bool(db.session.scalar(_CONTRACT_ON_RECORD, {"merchant_id": merchant_id, "no": contract_no}))
    return False


def _request_signing(
    user: User, tenant: Tenant, merchant: Merchant, lead: Lead, contract_no: str, signed_at: datetime
) -> Lead:
    """The BD's contract, waiting for the manager's confirmation: the lead stays theirs, under the cap."""
    lead.signed_at, lead.contract_no = signed_at, contract_no
    lead.version += 1
    _record(
        merchant.id,
        tenant.id,
        "sign_request",
        actor=user,
        from_owner=lead.owner_id,
        to_owner=lead.owner_id,
        contract_no=contract_no,
        signed_at=signed_at,
    )
    for confirmer in _sign_confirmers(user):
        remind(
            tenant.id,
            confirmer,
            "sign_confirmation",
            Text("todo_sign_confirmation", {"merchant": merchant.name, "contract_no": contract_no}),
            merchant.id,
            f"sign:{merchant.id}:{lead.version}:{confirmer}",
            {"merchant_id": merchant.id, "bd_id": user.id, "contract_no": contract_no},
        )
    touch(merchant.id)
    db.session.flush()
    return lead


def _sign_confirmers(bd: User) -> list[int]:
    """The BD's manager, else ops."""
    if bd.manager_id is not None:
        return [bd.manager_id]
    return list(
        db.session.scalars(
            select(User.id).where(User.tenant_id == bd.tenant_id, User.role == Role.OPS, User.is_active.is_(True))
        )
    )


def sign(user: User, tenant: Tenant, merchant_id: int, contract_no: str, signed_at: datetime) -> Lead:
    merchant = get_merchant(merchant_id, live_only=True)
    lead = _locked_lead(merchant.id)
    _ensure_live(lead, clock.now())
    if lead is not None and lead.state == LeadState.PARTNER:
        raise AlreadyPartner("This merchant is already a signed partner.")
    if lead is None or lead.state != LeadState.PRIVATE:
        raise NotOwner("Only the lead's owner (or their manager) can sign it; claim it first.")
    confirms = user.role in (Role.OPS, Role.ADMIN) or (user.id != lead.owner_id and manages(user, lead.owner_id))
    if not confirms and lead.owner_id != user.id:
        raise NotOwner("Only the lead's owner (or their manager) can sign it; claim it first.")
    if not confirms and not _signing_verified(tenant.setting("pool", "signing"), merchant.id, contract_no):
        return _request_signing(user, tenant, merchant, lead, contract_no, signed_at)
    lead.state, lead.signed_at, lead.contract_no = LeadState.PARTNER, signed_at, contract_no
    lead.drops_at = lead.drop_reason = None
    lead.version += 1
    _close_reminders(merchant.id, "signed")
    _record(
        merchant.id,
        tenant.id,
        "sign",
        actor=user,
        from_owner=lead.owner_id,
        to_owner=lead.owner_id,
        contract_no=contract_no,
        signed_at=signed_at,
    )
    touch(merchant.id)
    db.session.flush()
    return lead
