"""Read-side helpers for pool state, shared by nearby, the map, and merchant detail."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from geoalchemy2 import Geography, Geometry
from sqlalchemy import and_, cast, exists, func, or_, select
from sqlalchemy.sql.elements import ColumnElement

from app import clock, db
from app.merchants.models import Lead, LeadEvent, LeadState, Merchant
from app.org.models import OrgKind, OrgUnit, Role, User
from app.tenants.models import Tenant
from app.territories.models import Territory, TerritoryMember

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


def claim_cap_of(tenant: Tenant, user: User) -> int:
    """The most private leads this user may hold: their own cap, else their rank's, else the tenant's."""
    rules = tenant.setting("pool")
    caps = rules.get("claim_caps") or {}
    own = (caps.get("users") or {}).get(str(user.id))
    if own is not None:
        return int(own)
    by_rank = (caps.get("ranks") or {}).get(user.rank) if user.rank else None
    return int(by_rank) if by_rank is not None else int(rules["claim_cap"])


def in_pool_group(tenant: Tenant, user: User, merchant: Merchant) -> bool:
    """Whether the merchant lies in one of the user's pool groups (always, when the tenant has none)."""
    mode = tenant.setting("pool", "pool_groups")
    if mode == "territory":
        area = (
            select(func.ST_Union(cast(Territory.boundary, Geometry)))
            .join(TerritoryMember, TerritoryMember.territory_id == Territory.id)
            .where(TerritoryMember.user_id == user.id)
            .scalar_subquery()
        )
        return bool(
            db.session.scalar(
                select(func.coalesce(func.ST_Covers(cast(area, Geography), Merchant.location), False)).where(
                    Merchant.id == merchant.id
                )
            )
        )
    if mode == "city":
        cities = {name.casefold() for name in user_city_names(user)}
        return bool(merchant.city) and merchant.city.casefold() in cities
    return True


def user_city_names(user: User) -> list[str]:
    """The names of the city org units above (or at) the user's unit."""
    if user.org_unit_id is None:
        return []
    path = db.session.scalar(select(OrgUnit.path).where(OrgUnit.id == user.org_unit_id)) or ""
    ancestor_ids = [int(part) for part in path.strip("/").split("/") if part]
    if not ancestor_ids:
        return []
    return list(
        db.session.scalars(select(OrgUnit.name).where(OrgUnit.id.in_(ancestor_ids), OrgUnit.kind == OrgKind.CITY))
    )


def _holds(locked_until: datetime | None) -> bool:
    return locked_until is not None and locked_until > clock.now()


def lock_view(locked_until: datetime | None, reason: str | None, now: datetime) -> dict[str, Any] | None:
    """A manager's hold on a private lead, while it lasts."""
    if locked_until is None or locked_until <= now:
        return None
    return {"until": locked_until, "reason": reason}


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
    locked_until: datetime | None = None,
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
        # a manager's hold: the drop clocks stand still until then
        "locked_until": locked_until if state == LeadState.PRIVATE.value and _holds(locked_until) else None,
    }
