"""Recording and reading the audit log.

``record_audit`` adds the entry to the caller's session and never commits: the entry is written in the
same transaction as the change it describes, so there is no audited change without its entry, and no
entry for a change that rolled back.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from sqlalchemy import and_, or_, select

from app import clock, db
from app.audit.models import AuditEntry
from app.errors import Forbidden
from app.org.models import Role, User
from app.pagination import decode_cursor, encode_cursor, fingerprint
from app.web import request_id

# Actions recorded by this codebase; other modules may add their own (``<subject>.<verb>``).
LEAD_ASSIGN = "lead.assign"
LEAD_TRANSFER = "lead.transfer"
LEAD_RELEASE = "lead.release"
LEAD_LOCK = "lead.lock"
LEAD_UNLOCK = "lead.unlock"
LEAD_EXTEND = "lead.extend"
LEAD_BULK = "lead.bulk"
PHONES_REVEALED = "merchant.phones_revealed"
MERCHANT_MERGE = "merchant.merge"
SETTINGS_CHANGE = "tenant.settings_change"
USER_DEACTIVATE = "user.deactivate"


def _plain(value: Any) -> Any:
    """JSON-ready copy of a before/after snapshot (datetimes, enums and decimals included)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_plain(v) for v in value]
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Decimal):
        return float(value)
    return value


def record_audit(
    action: str,
    *,
    actor: User | None,
    subject_type: str,
    subject_id: int | None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    tenant_id: int | None = None,
) -> AuditEntry:
    """Add an audit entry to the current transaction (the caller commits).

    ``actor`` is None for the system (jobs, sweeps). The tenant defaults to the actor's, then to the
    session's tenant scope.
    """
    tenant = tenant_id or (actor.tenant_id if actor is not None else None) or db.current_tenant_id()
    if tenant is None:
        raise ValueError("an audit entry needs a tenant")
    entry = AuditEntry(
        tenant_id=tenant,
        created_at=clock.now(),
        actor_id=actor.id if actor else None,
        actor_name=(actor.display_name or actor.username) if actor else None,
        action=action,
        subject_type=subject_type,
        subject_id=subject_id,
        before=_plain(before),
        after=_plain(after),
        request_id=request_id.current(),
    )
    db.session.add(entry)
    return entry


@dataclass(frozen=True)
class AuditFilters:
    action: str | None = None
    actor_id: int | None = None
    subject_type: str | None = None
    subject_id: int | None = None
    since: datetime | None = None
    until: datetime | None = None


def list_entries(caller: User, filters: AuditFilters, limit: int, cursor: str | None) -> dict[str, Any]:
    """The caller's tenant's entries, newest first, keyset-paged (admins only)."""
    if caller.role != Role.ADMIN:
        raise Forbidden("Only admins read the audit log.")
    params = {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in filters.__dict__.items()}
    query_key = fingerprint({"audit": params})
    statement = select(AuditEntry).where(AuditEntry.tenant_id == caller.tenant_id)
    for column, value in (
        (AuditEntry.action, filters.action),
        (AuditEntry.actor_id, filters.actor_id),
        (AuditEntry.subject_type, filters.subject_type),
        (AuditEntry.subject_id, filters.subject_id),
    ):
        if value is not None:
            statement = statement.where(column == value)
    if filters.since is not None:
        statement = statement.where(AuditEntry.created_at >= filters.since)
    if filters.until is not None:
        statement = statement.where(AuditEntry.created_at < filters.until)
    if cursor:
        created, entry_id = decode_cursor(cursor, query_key, (datetime, int))
        statement = statement.where(
            or_(AuditEntry.created_at < created, and_(AuditEntry.created_at == created, AuditEntry.id < entry_id))
        )
    rows = db.session.scalars(
        statement.order_by(AuditEntry.created_at.desc(), AuditEntry.id.desc()).limit(limit + 1)
    ).all()
    page = rows[:limit]
    next_cursor = (
        encode_cursor([page[-1].created_at.isoformat(), page[-1].id], query_key) if len(rows) > limit else None
    )
    return {"items": [_view(entry) for entry in page], "next_cursor": next_cursor}


def _view(entry: AuditEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "created_at": entry.created_at,
        "actor": {"id": entry.actor_id, "name": entry.actor_name} if entry.actor_name is not None else None,
        "action": entry.action,
        "subject_type": entry.subject_type,
        "subject_id": entry.subject_id,
        "before": entry.before,
        "after": entry.after,
        "request_id": entry.request_id,
    }
