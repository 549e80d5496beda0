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
    LeadLocked,
    LeadTaken,
    NotInPoolGroup,
    NotInScope,
    NotOwner,
    NotPrivateLead,
    ReclaimCooldown,
    UserNotFound,
    ValidationFailed,
)
from app.i18n import Text
from app.leads.rules import drop_clock
from app.merchants.models import Lead, LeadEvent, LeadState, Merchant, get_merchant, touch
from app.merchants.pool import COOLDOWN_ACTIONS, claim_cap_of, in_pool_group
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
    # a lock outlives a change of hands: the new owner's clocks start when it ends
    lead.paused_seconds = int((lead.locked_until - now).total_seconds()) if is_locked(lead, now) else 0
    _recompute(lead, rules)


def _recompute(lead: Lead, rules: dict[str, Any]) -> None:
    clock_ = drop_clock(lead.claimed_at, lead.last_visit_at, lead.extended_days, rules, lead.paused_seconds or 0)
    lead.drops_at, lead.drop_reason = clock_.drops_at, clock_.reason
    lead.version += 1


def is_locked(lead: Lead | None, now: datetime) -> bool:
    return lead is not None and lead.locked_until is not None and lead.locked_until > now


def _clear_lock(lead: Lead) -> None:
    lead.locked_until = lead.lock_reason = lead.locked_by_id = None
    lead.paused_seconds = 0


def _ensure_live(lead: Lead | None, now: datetime) -> None:
    """A private lead past its drop time has dropped, even if the sweeper has not got to it yet (a locked one
    has not: the sweeper skips it)."""
    if (
        lead is not None
        and lead.state == LeadState.PRIVATE
        and lead.drops_at is not None
        and lead.drops_at <= now
        and not is_locked(lead, now)
    ):
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
    if not in_pool_group(tenant, user, merchant):
        raise NotInPoolGroup()
    _lock_user(user.id)
    cooldown = _in_cooldown(user.id, merchant.id, now, rules)
    if cooldown:
        raise ReclaimCooldown(extra={"until": cooldown.isoformat()})
    cap = claim_cap_of(tenant, user)
    if _private_count(user.id) >= cap:
        raise ClaimCapReached(f"You already hold {cap} private leads.", extra={"cap": cap})
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
        "locked_until": None,
        "lock_reason": None,
        "locked_by_id": None,
        "paused_seconds": 0,
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
    _refuse_if_locked(lead)
    return _release(user, lead, reason)


def _refuse_if_locked(lead: Lead) -> None:
    if is_locked(lead, clock.now()):
        raise LeadLocked(extra={"locked_until": lead.locked_until.isoformat()})


def _release(user: User, lead: Lead, reason: str) -> Lead:
    merchant_id = lead.merchant_id
    previous = lead.owner_id
    before = _snapshot(lead)
    _to_public(lead)
    _record(merchant_id, lead.tenant_id, "release", actor=user, from_owner=previous, to_owner=None, reason=reason)
    _close_reminders(merchant_id, "released")
    audit.record_audit(
        audit.LEAD_RELEASE,
        actor=user,
        subject_type="merchant",
        subject_id=merchant_id,
        before=before,
        after={**_snapshot(lead), "reason": reason},
        tenant_id=lead.tenant_id,
    )
    touch(merchant_id)
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
    _clear_lock(lead)
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
    cap = claim_cap_of(tenant, target)
    if not partner and not force and _private_count(target.id) >= cap:
        raise ClaimCapReached(
            f"That BD already holds {cap} private leads; send force=true to assign anyway.", extra={"cap": cap}
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


# The contract record belongs to app.sales (above this package); written as a table, like the deals are read.
_RECORD_CONTRACT = text(
    """
    INSERT INTO contracts (tenant_id, merchant_id, number, type, starts_on, ends_on, status, signed_by_id)
    VALUES (:tenant_id, :merchant_id, :number, :type, :starts_on, :ends_on, 'active', :signed_by_id)
    ON CONFLICT (tenant_id, number) DO NOTHING
    """
)


def _record_contract(tenant: Tenant, merchant_id: int, owner_id: int | None, contract_no: str, terms: dict) -> None:
    """A final signing that names the contract's terms records the contract (the number is its key)."""
    if not terms.get("contract_type") or not terms.get("starts_on"):
        return
    db.session.execute(
        _RECORD_CONTRACT,
        {
            "tenant_id": tenant.id,
            "merchant_id": merchant_id,
            "number": contract_no,
            "type": terms["contract_type"],
            "starts_on": terms["starts_on"],
            "ends_on": terms.get("ends_on"),
            "signed_by_id": owner_id,
        },
    )


def sign(
    user: User,
    tenant: Tenant,
    merchant_id: int,
    contract_no: str,
    signed_at: datetime,
    terms: dict[str, Any] | None = None,
) -> Lead:
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
    _clear_lock(lead)
    _record_contract(tenant, merchant.id, lead.owner_id, contract_no, terms or {})
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


# --- a manager's hand on the team's private leads (app.leads.team runs these in bulk)


def team_lead(actor: User, merchant_id: int) -> Lead:
    """A private lead of a BD the actor manages (ops and admins: any), locked for the change."""
    if actor.role not in (Role.MANAGER, Role.OPS, Role.ADMIN):
        raise Forbidden("Only managers act on their team's leads.")
    merchant = get_merchant(merchant_id, live_only=True)
    lead = _locked_lead(merchant.id)
    if lead is None or lead.state != LeadState.PRIVATE or lead.owner_id is None:
        if lead is not None and lead.state == LeadState.PARTNER:
            raise AlreadyPartner("This merchant is already a signed partner.")
        raise NotPrivateLead()
    if actor.role == Role.MANAGER and not manages(actor, lead.owner_id):
        raise NotInScope("That lead belongs to a BD outside your team.")
    _ensure_live(lead, clock.now())
    return lead


def release_for_team(actor: User, merchant_id: int, reason: str) -> Lead:
    """A manager gives a team member's private lead back to the public pool (a locked one: unlock first)."""
    lead = team_lead(actor, merchant_id)
    _refuse_if_locked(lead)
    return _release(actor, lead, reason)


MAX_LOCK_DAYS = 366


def lock(actor: User, tenant: Tenant, merchant_id: int, until: datetime, reason: str) -> Lead:
    """Hold a private lead: its drop clocks stand still until ``until`` (a later lock moves the end)."""
    now = clock.now()
    if until <= now or until > now + timedelta(days=MAX_LOCK_DAYS):
        raise ValidationFailed(
            "A lock ends in the future, within a year.",
            errors={"json": {"until": [f"After now and at most {MAX_LOCK_DAYS} days ahead."]}},
        )
    lead = team_lead(actor, merchant_id)
    before = {**_snapshot(lead), "locked_until": lead.locked_until}
    # the clocks stand still from now (or from the current lock's end) until the new end
    pause_from = lead.locked_until if is_locked(lead, now) else now
    lead.paused_seconds = (lead.paused_seconds or 0) + int((until - pause_from).total_seconds())
    lead.locked_until, lead.lock_reason, lead.locked_by_id = until, reason, actor.id
    _recompute(lead, tenant.setting("pool"))
    _record(
        lead.merchant_id,
        tenant.id,
        "lock",
        actor=actor,
        from_owner=lead.owner_id,
        to_owner=lead.owner_id,
        reason=reason,
        locked_until=until,
        drops_at=lead.drops_at,
    )
    audit.record_audit(
        audit.LEAD_LOCK,
        actor=actor,
        subject_type="merchant",
        subject_id=lead.merchant_id,
        before=before,
        after={**_snapshot(lead), "locked_until": until, "reason": reason},
        tenant_id=tenant.id,
    )
    touch(lead.merchant_id)
    db.session.flush()
    return lead


def unlock(actor: User, tenant: Tenant, merchant_id: int, reason: str | None = None) -> Lead:
    """End a lock early: the clocks run again, counting only the time they actually stood still."""
    now = clock.now()
    lead = team_lead(actor, merchant_id)
    if not is_locked(lead, now):
        raise NotPrivateLead("This lead is not locked.")
    before = {**_snapshot(lead), "locked_until": lead.locked_until}
    lead.paused_seconds = max(0, (lead.paused_seconds or 0) - int((lead.locked_until - now).total_seconds()))
    lead.locked_until = lead.lock_reason = lead.locked_by_id = None
    _recompute(lead, tenant.setting("pool"))
    _record(
        lead.merchant_id,
        tenant.id,
        "unlock",
        actor=actor,
        from_owner=lead.owner_id,
        to_owner=lead.owner_id,
        reason=reason,
        drops_at=lead.drops_at,
    )
    audit.record_audit(
        audit.LEAD_UNLOCK,
        actor=actor,
        subject_type="merchant",
        subject_id=lead.merchant_id,
        before=before,
        after={**_snapshot(lead), "reason": reason},
        tenant_id=tenant.id,
    )
    touch(lead.merchant_id)
    db.session.flush()
    return lead
