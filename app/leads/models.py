"""Lead ownership: the public pool ("sea"), private leads and partners, with full history.

A merchant without a ``leads`` row is in the public pool.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Enum, ForeignKey, Index, Integer, String, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, TenantScoped, Timestamped
from app.org.models import _values


class LeadState(str, enum.Enum):
    PUBLIC = "public"
    PRIVATE = "private"
    PARTNER = "partner"


class Lead(TenantScoped, Base):
    __tablename__ = "leads"
    __table_args__ = (
        Index("ix_leads_owner", "owner_id", "state"),
        # the sweeper scans only leads that can drop
        Index("ix_leads_drops_at", "drops_at", postgresql_where=text("state = 'private'")),
        # "my private pool, soonest drop first"
        Index("ix_leads_tenant_state_drops", "tenant_id", "owner_id", "drops_at",
              postgresql_where=text("state = 'private'")),
    )

    merchant_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("merchants.id", ondelete="CASCADE"), primary_key=True)
    state: Mapped[LeadState] = mapped_column(
        Enum(LeadState, name="lead_state", values_callable=_values), default=LeadState.PUBLIC
    )
    owner_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="SET NULL"))
    claimed_at: Mapped[datetime | None]
    last_visit_at: Mapped[datetime | None]  # the owner's last verified visit
    extensions_used: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    extended_days: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # all extensions, in days
    manager_extended_days: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    drops_at: Mapped[datetime | None]
    drop_reason: Mapped[str | None] = mapped_column(String(20))
    signed_at: Mapped[datetime | None]
    contract_no: Mapped[str | None] = mapped_column(String(80))
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")


class LeadEvent(TenantScoped, Timestamped, Base):
    """One ownership change: claim, release, drop, extend, assign, transfer, sign."""

    __tablename__ = "lead_events"
    __table_args__ = (
        Index("ix_lead_events_merchant", "merchant_id", "id"),
        Index("ix_lead_events_cooldown", "merchant_id", "from_owner_id", "action", "created_at"),
        # dashboards: the tenant's claims and signings of a day or period
        Index("ix_lead_events_tenant_time", "tenant_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    merchant_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("merchants.id", ondelete="CASCADE"))
    action: Mapped[str] = mapped_column(String(20))
    from_owner_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="SET NULL"))
    to_owner_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="SET NULL"))
    actor_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="SET NULL"))
    reason: Mapped[str | None] = mapped_column(String(300))
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict, server_default="{}")
