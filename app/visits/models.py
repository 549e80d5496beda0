"""Check-in visits: the BD's proof of work and the clock that keeps a lead private."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from geoalchemy2 import Geography
from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, TenantScoped, Timestamped
from geo.sql import WGS84_SRID


class Visit(TenantScoped, Timestamped, Base):
    __tablename__ = "visits"
    __table_args__ = (
        # the app retries offline check-ins with the same key: one visit per key and BD
        UniqueConstraint("tenant_id", "user_id", "idempotency_key"),
        Index("ix_visits_merchant_time", "merchant_id", "client_time"),
        Index("ix_visits_user_time", "user_id", "client_time"),
        # dashboards: the tenant's visits of a period (heatmap)
        Index("ix_visits_tenant_time", "tenant_id", "client_time"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    merchant_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("merchants.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="RESTRICT"))
    idempotency_key: Mapped[str] = mapped_column(String(120))
    request_hash: Mapped[str] = mapped_column(String(64))
    client_time: Mapped[datetime]
    location: Mapped[Any] = mapped_column(Geography("POINT", srid=WGS84_SRID, spatial_index=False))
    coord_sys: Mapped[str] = mapped_column(String(8), default="wgs84", server_default="wgs84")
    accuracy_m: Mapped[float | None] = mapped_column(Float)
    distance_m: Mapped[float | None] = mapped_column(Float)
    verified: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    flags: Mapped[list[str]] = mapped_column(ARRAY(String(32)), default=list, server_default="{}")
    offline: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    mock_location: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    purpose: Mapped[str | None] = mapped_column(String(200))
    photo_ids: Mapped[list[str]] = mapped_column(ARRAY(String(64)), default=list, server_default="{}")
    checkout_at: Mapped[datetime | None]
    duration_s: Mapped[int | None] = mapped_column(Integer)
    checkout_location: Mapped[Any | None] = mapped_column(Geography("POINT", srid=WGS84_SRID, spatial_index=False))
    result: Mapped[str | None] = mapped_column(String(32))
    notes: Mapped[str] = mapped_column(Text, default="", server_default="")
    contact_ids: Mapped[list[int]] = mapped_column(ARRAY(BigInteger), default=list, server_default="{}")
    next_visit_at: Mapped[datetime | None]
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict, server_default="{}")
    # [{"form": key, "version": n, "stage": "check_in" | "check_out", "answers": {...}}], validated on arrival
    form_answers: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list, server_default="[]")


class VisitPlan(TenantScoped, Timestamped, Base):
    """A BD's ordered stops for one day; planning the same day again replaces it."""

    __tablename__ = "visit_plans"
    __table_args__ = (UniqueConstraint("user_id", "plan_date"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    user_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="CASCADE"))
    plan_date: Mapped[date] = mapped_column(Date)
    start_lat: Mapped[float] = mapped_column(Float)
    start_lng: Mapped[float] = mapped_column(Float)
    # [{"merchant_id": 1, "leg_m": 120.5}, ...] in visiting order
    stops: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    total_m: Mapped[float] = mapped_column(Float)
