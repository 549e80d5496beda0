"""Our business with a merchant (deals, monthly sales) and what competitors do with it."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, TenantScoped, Timestamped


class Deal(TenantScoped, Timestamped, Base):
    """A product we sell at the merchant (a group-buying voucher, a room package...)."""

    __tablename__ = "deals"
    __table_args__ = (
        UniqueConstraint("tenant_id", "external_id"),
        Index("ix_deals_merchant_status", "merchant_id", "status"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    merchant_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("merchants.id", ondelete="CASCADE"), index=True)
    external_id: Mapped[str | None] = mapped_column(String(120))
    title: Mapped[str] = mapped_column(String(300))
    price: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    status: Mapped[str] = mapped_column(String(20), default="active")
    started_at: Mapped[date | None] = mapped_column(Date)
    ended_at: Mapped[date | None] = mapped_column(Date)


class SalesMonth(TenantScoped, Base):
    __tablename__ = "sales_monthly"
    __table_args__ = (UniqueConstraint("merchant_id", "month"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    merchant_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("merchants.id", ondelete="CASCADE"))
    month: Mapped[date] = mapped_column(Date)  # first day of the month
    orders: Mapped[int] = mapped_column(Integer, default=0)
    gmv: Mapped[Decimal] = mapped_column(Numeric(14, 2), default=0)


class CompetitorRecord(TenantScoped, Base):
    """The latest snapshot of one competitor platform's presence at a merchant."""

    __tablename__ = "competitor_records"
    __table_args__ = (UniqueConstraint("merchant_id", "platform"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    merchant_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("merchants.id", ondelete="CASCADE"))
    platform: Mapped[str] = mapped_column(String(60))
    online: Mapped[bool] = mapped_column(Boolean, default=True)
    # [{"title": str, "price": number, "monthly_sales": int}]
    deals: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list, server_default="[]")
    captured_at: Mapped[datetime] = mapped_column(server_default=func.now())


class CompetitorObservation(TenantScoped, Timestamped, Base):
    """One BD's observation of a competitor at a merchant (the competitor-observation visit form).

    Kept row by row (the snapshot in ``CompetitorRecord`` keeps only the latest per platform) so that
    headquarters can compute price gaps over sets of merchants and periods.
    """

    __tablename__ = "competitor_observations"
    __table_args__ = (
        Index("ix_competitor_observations_merchant_time", "merchant_id", "observed_at"),
        Index("ix_competitor_observations_tenant_time", "tenant_id", "observed_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    merchant_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("merchants.id", ondelete="CASCADE"))
    user_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="SET NULL"))
    visit_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("visits.id", ondelete="SET NULL"))
    platform: Mapped[str] = mapped_column(String(60))
    online: Mapped[bool] = mapped_column(Boolean)
    offer: Mapped[str | None] = mapped_column(Text)
    their_price: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    our_price: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    # our price minus theirs: positive when the competitor is cheaper
    price_gap: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    observed_at: Mapped[datetime]


CONTRACT_TYPES = ("group_buy", "pay_at_store", "prepaid", "other")
CONTRACT_STATUSES = ("active", "ended", "terminated")


class Contract(TenantScoped, Timestamped, Base):
    """The contract a signing records: its number, type and term. Ended ones stay, for the sales history."""

    __tablename__ = "contracts"
    __table_args__ = (
        UniqueConstraint("tenant_id", "number"),
        Index("ix_contracts_renewal", "ends_on", postgresql_where=text("status = 'active'")),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    merchant_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("merchants.id", ondelete="CASCADE"), index=True)
    number: Mapped[str] = mapped_column(String(80))
    type: Mapped[str] = mapped_column(String(20))
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(12), default="active", server_default="active")
    signed_by_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="SET NULL"))
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())
