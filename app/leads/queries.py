"""Lead read models: a lead as the app shows it, my pool, and the history."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import aliased

from app import db, pagination
from app.merchants.models import Lead, LeadEvent, LeadState, Merchant
from app.org.models import User
from app.tenants.models import Tenant


def _person(user: User | None) -> dict[str, Any] | None:
    return {"id": user.id, "name": user.name} if user else None


def lead_view(lead: Lead, tenant: Tenant) -> dict[str, Any]:
    owner = db.get(User, lead.owner_id) if lead.owner_id else None
    private = lead.state == LeadState.PRIVATE
    return {
        "merchant_id": lead.merchant_id,
        "state": lead.state.value,
        "owner": _person(owner) if lead.state != LeadState.PUBLIC else None,
        "claimed_at": lead.claimed_at if lead.state != LeadState.PUBLIC else None,
        "last_visit_at": lead.last_visit_at if private else None,
        "drops_at": lead.drops_at if private else None,
        "drop_reason": lead.drop_reason if private else None,
        "extensions_used": lead.extensions_used if private else 0,
        "extensions_left": max(0, tenant.setting("pool", "max_extensions") - lead.extensions_used) if private else 0,
        "signed_at": lead.signed_at,
        "contract_no": lead.contract_no,
        "sign_pending": lead.state == LeadState.PRIVATE and lead.contract_no is not None,
    }


def my_leads(user: User, tenant: Tenant) -> dict[str, Any]:
    rows = db.session.execute(
        select(Lead, Merchant.name, Merchant.category, Merchant.address)
        .join(Merchant, Merchant.id == Lead.merchant_id)
        .where(Lead.owner_id == user.id, Lead.state == LeadState.PRIVATE)
        .order_by(Lead.drops_at, Lead.merchant_id)
    ).all()
    items = []
    for row in rows:
        view = lead_view(row.Lead, tenant)
        view["owner"] = _person(user)
        view["merchant"] = {
            "id": row.Lead.merchant_id,
            "name": row.name,
            "category": row.category,
            "address": row.address,
        }
        items.append(view)
    return {"items": items, "total": len(items), "cap": tenant.setting("pool", "claim_cap")}


def history(merchant_id: int, limit: int = 100, cursor: str | None = None) -> dict[str, Any]:
    actor, from_owner, to_owner = aliased(User), aliased(User), aliased(User)
    statement = (
        select(LeadEvent, actor, from_owner, to_owner)
        .outerjoin(actor, actor.id == LeadEvent.actor_id)
        .outerjoin(from_owner, from_owner.id == LeadEvent.from_owner_id)
        .outerjoin(to_owner, to_owner.id == LeadEvent.to_owner_id)
        .where(LeadEvent.merchant_id == merchant_id)
    )
    rows, next_cursor = pagination.keyset_page(
        statement,
        (LeadEvent.created_at, LeadEvent.id),
        (datetime, int),
        lambda row: [row[0].created_at, row[0].id],
        limit=limit,
        cursor=cursor,
        params={"history": merchant_id},
    )
    return {
        "next_cursor": next_cursor,
        "total": pagination.count(select(LeadEvent.id).where(LeadEvent.merchant_id == merchant_id)),
        "items": [
            {
                "id": event.id,
                "action": event.action,
                "at": event.created_at,
                "actor": _person(a),
                "from_owner": _person(f),
                "to_owner": _person(t),
                "reason": event.reason,
                "details": event.details,
            }
            for event, a, f, t in rows
        ],
    }
