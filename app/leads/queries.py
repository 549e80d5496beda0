"""Lead read models: a lead as the app shows it, my pool, the team's pool, and the history."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import BigInteger, DateTime, func, literal, or_, select, tuple_
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import ColumnElement

from app import clock, db, pagination
from app.errors import NotInScope, TeamNotFound
from app.merchants import pool
from app.merchants.models import Lead, LeadEvent, LeadState, Merchant
from app.org.models import OrgUnit, Role, User
from app.org.scope import managed_user_ids, manages, manages_unit
from app.pagination import decode_cursor, encode_cursor, fingerprint
from app.tenants.models import Tenant
from app.territories import service as territory_scope


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
        "lock": pool.lock_view(lead.locked_until, lead.lock_reason, clock.now()) if private else None,
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
    return {"items": items, "total": len(items), "cap": pool.claim_cap_of(tenant, user)}


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


# --- the team's lead pool (managers: their subtree; ops and admins: the business line) ---------------

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
TEAM_SORTS = ("drops_at", "claimed_at", "last_visit_at")


@dataclass(frozen=True)
class TeamLeadFilters:
    owner_id: int | None = None
    team_id: int | None = None
    drops_within_days: int | None = None
    reason: str | None = None
    tag: str | None = None
    territory_id: int | None = None
    locked: bool | None = None


def _sort_key(sort: str) -> ColumnElement[datetime]:
    if sort == "last_visit_at":
        # null until the first verified visit: those sort as the oldest
        return func.coalesce(Lead.last_visit_at, literal(EPOCH, DateTime(timezone=True)))
    # a private lead always has both (the bare column keeps the (owner, drops_at) index usable)
    return {"drops_at": Lead.drops_at, "claimed_at": Lead.claimed_at}[sort]


def _team_conditions(viewer: User, filters: TeamLeadFilters, now: datetime) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [Lead.state == LeadState.PRIVATE, Lead.owner_id.is_not(None)]
    if viewer.role == Role.MANAGER:
        # resolved first, then sent as one array: the planner then scans each owner's leads by index instead of
        # guessing the subtree's size from a LIKE on org paths
        team = list(db.session.scalars(managed_user_ids(viewer)))
        conditions.append(Lead.owner_id == func.any(literal(team, ARRAY(BigInteger))))
    if filters.owner_id is not None:
        if viewer.role == Role.MANAGER and not manages(viewer, filters.owner_id):
            raise NotInScope("That BD is outside your team.")
        conditions.append(Lead.owner_id == filters.owner_id)
    if filters.team_id is not None:
        team = db.get(OrgUnit, filters.team_id)
        if team is None:
            raise TeamNotFound()
        if viewer.role == Role.MANAGER and not manages_unit(viewer, team):
            raise NotInScope("That team is outside your subtree.")
        in_team = select(OrgUnit.id).where(OrgUnit.path.startswith(team.path))
        conditions.append(Lead.owner_id.in_(select(User.id).where(User.org_unit_id.in_(in_team))))
    if filters.drops_within_days is not None:
        conditions.append(Lead.drops_at <= now + timedelta(days=filters.drops_within_days))
    if filters.reason is not None:
        conditions.append(Lead.drop_reason == filters.reason)
    if filters.tag is not None:
        conditions.append(Merchant.tags.contains([filters.tag]))
    if filters.territory_id is not None:
        territory = territory_scope.get_visible(viewer, filters.territory_id)
        conditions.append(func.ST_Covers(territory.boundary, Merchant.location))
    if filters.locked is True:
        conditions.append(Lead.locked_until > now)
    elif filters.locked is False:
        conditions.append(or_(Lead.locked_until.is_(None), Lead.locked_until <= now))
    return conditions


def team_leads(
    viewer: User,
    tenant: Tenant,
    filters: TeamLeadFilters,
    sort: str = "drops_at",
    order: str = "asc",
    limit: int = 50,
    cursor: str | None = None,
) -> dict[str, Any]:
    """The private leads of the viewer's subtree with their clocks, keyset-paged on (sort key, merchant id)."""
    now = clock.now()
    conditions = _team_conditions(viewer, filters, now)
    query_key = fingerprint({"team_leads": viewer.id, "filters": asdict(filters), "sort": sort, "order": order})
    key = _sort_key(sort)
    base = select(Lead.merchant_id).join(Merchant, Merchant.id == Lead.merchant_id).where(*conditions)
    total = db.session.scalar(select(func.count()).select_from(base.subquery()))
    page_conditions = list(conditions)
    if cursor:
        after_key, after_id = decode_cursor(cursor, query_key, (datetime, int))
        after = tuple_(key, Lead.merchant_id)
        bound = tuple_(literal(after_key, DateTime(timezone=True)), literal(after_id))
        page_conditions.append(after > bound if order == "asc" else after < bound)
    team = aliased(OrgUnit)
    direction = (lambda c: c.asc()) if order == "asc" else (lambda c: c.desc())
    rows = db.session.execute(
        select(
            Lead,
            Merchant.name,
            Merchant.category,
            Merchant.address,
            Merchant.city,
            Merchant.tags,
            User,
            team,
            key.label("sort_key"),
        )
        .join(Merchant, Merchant.id == Lead.merchant_id)
        .join(User, User.id == Lead.owner_id)
        .outerjoin(team, team.id == User.org_unit_id)
        .where(*page_conditions)
        .order_by(direction(key), direction(Lead.merchant_id))
        .limit(limit + 1)
    ).all()
    page = rows[:limit]
    max_extensions = tenant.setting("pool", "max_extensions")
    items = [
        {
            "merchant": {
                "id": row.Lead.merchant_id,
                "name": row.name,
                "category": row.category,
                "address": row.address,
                "city": row.city,
            },
            "tags": row.tags,
            "owner": _person(row.User),
            "team": {"id": row[7].id, "name": row[7].name} if row[7] is not None else None,
            "claimed_at": row.Lead.claimed_at,
            "drops_at": row.Lead.drops_at,
            "drop_reason": row.Lead.drop_reason,
            "last_verified_visit_at": row.Lead.last_visit_at,
            "extensions_used": row.Lead.extensions_used,
            "extensions_left": max(0, max_extensions - row.Lead.extensions_used),
            "lock": pool.lock_view(row.Lead.locked_until, row.Lead.lock_reason, now),
            "sign_pending": row.Lead.contract_no is not None,
        }
        for row in page
    ]
    next_cursor = None
    if len(rows) > limit:
        last = page[-1]
        next_cursor = encode_cursor([last.sort_key.isoformat(), last.Lead.merchant_id], query_key)
    return {"items": items, "total": total, "next_cursor": next_cursor}
