"""HQ strategy campaigns: a saved merchant filter with a task template, and the merchants its launches reached."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Integer, String
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, TenantScoped, Timestamped


class Campaign(TenantScoped, Timestamped, Base):
    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    creator_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="RESTRICT"))
    name: Mapped[str] = mapped_column(String(200))
    # CampaignFilterSchema: tags, min_price_gap, category, city, territory_id, pool_state, unvisited_days, attributes
    filter: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict, server_default="{}")
    # CampaignTemplateSchema: kind, title, body, priority, due_days, feedback_form
    template: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict, server_default="{}")
    launches: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_launched_at: Mapped[datetime | None]


class CampaignMerchant(TenantScoped, Timestamped, Base):
    """A merchant a launch reached, with its task: a re-launch skips these and targets only new matches."""

    __tablename__ = "campaign_merchants"

    campaign_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True
    )
    merchant_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("merchants.id", ondelete="CASCADE"), primary_key=True
    )
    task_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("tasks.id", ondelete="SET NULL"), index=True)
    launch: Mapped[int] = mapped_column(Integer)
