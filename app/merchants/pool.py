"""Read-side helpers for pool state, shared by nearby, the map, and merchant detail."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.sql.elements import ColumnElement

from app import db
from app.merchants.models import Lead, LeadEvent, LeadState
from app.org.models import Role, User

leads = Lead.__table__
events = LeadEvent.__table__

# Releasing and re-claiming would reset a lead's clocks, so a voluntary release starts the cool-down too.
COOLDOWN_ACTIONS = ("drop", "release")


def is_public(state_column: ColumnElement[Any] = leads.c.state) -> ColumnElement[bool]:
    """No lead row at all, or a row in the public state."""
    return or_(state_column.is_(None), state_column == LeadState.PUBLIC.value)


def sea_filter(sea: str, user_id: int) -> ColumnElement[bool] | None:
    """The ``sea`` query filter: all | public | mine | others | partner."""
    return {
        "all": None,
        "public": is_public(),
        "mine": and_(leads.c.state == LeadState.PRIVATE.value, leads.c.owner_id == user_id),
        "others": and_(leads.c.state == LeadState.PRIVATE.value, leads.c.owner_id != user_id),
        "partner": leads.c.state == LeadState.PARTNER.value,
    }[sea]


def in_cooldown(merchant_id: ColumnElement[int], user_id: int, since: datetime) -> ColumnElement[bool]:
    """The caller's lead on this merchant dropped recently, so they may not re-claim it yet."""
    return exists().where(
        events.c.merchant_id == merchant_id,
        events.c.from_owner_id == user_id,
        # spelled out rather than IN: no expanding parameter, so callers' statements can be cached
        or_(*(events.c.action == action for action in COOLDOWN_ACTIONS)),
        events.c.created_at > since,
    )


def private_lead_count(user_id: int) -> int:
    return db.session.scalar(
        select(func.count())
        .select_from(leads)
        .where(leads.c.owner_id == user_id, leads.c.state == LeadState.PRIVATE.value)
    )


def can_claim_more(user: User, claim_cap: int) -> bool:
    return user.role == Role.BD and private_lead_count(user.id) < claim_cap


def cooldown_since(now: datetime, rules: dict[str, Any]) -> datetime:
    return now - timedelta(days=rules["reclaim_cooldown_days"])


def sea_view(
    state: str | None,
    owner_id: int | None,
    owner_name: str | None,
    drops_at: datetime | None,
    user_id: int,
) -> dict[str, Any]:
    """The ``sea`` object of nearby items and merchant detail."""
    state = state or LeadState.PUBLIC.value
    owned = state != LeadState.PUBLIC.value and owner_id is not None
    return {
        "state": state,
        "owner": {"id": owner_id, "name": owner_name} if owned else None,
        "mine": owned and owner_id == user_id,
        "drops_at": drops_at if state == LeadState.PRIVATE.value else None,
        "expires_at": drops_at if state == LeadState.PRIVATE.value else None,
    }
