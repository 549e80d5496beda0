"""A call or a message between a BD and a merchant: contact for the dashboards, never a visit."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, TenantScoped, Timestamped


class ActivityKind(str, enum.Enum):
    CALL = "call"
    MESSAGE = "message"


# What came of it. Calls can go unanswered; a message is sent (or answered) or not.
RESULTS = ("connected", "no_answer", "busy", "wrong_number", "sent", "replied", "follow_up", "not_interested")
DIRECTIONS = ("outgoing", "incoming")


class Activity(TenantScoped, Timestamped, Base):
    __tablename__ = "activities"
    __table_args__ = (
        # the app retries offline logs with the same key: one activity per key and BD
        UniqueConstraint("tenant_id", "user_id", "idempotency_key"),
        Index("ix_activities_merchant_time", "merchant_id", "occurred_at"),
        Index("ix_activities_user_time", "user_id", "occurred_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    merchant_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("merchants.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="RESTRICT"))
    contact_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("contacts.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(16))
    direction: Mapped[str] = mapped_column(String(16), default="outgoing", server_default="outgoing")
    occurred_at: Mapped[datetime]
    duration_s: Mapped[int | None] = mapped_column(Integer)
    result: Mapped[str] = mapped_column(String(32))
    notes: Mapped[str] = mapped_column(Text, default="", server_default="")
    idempotency_key: Mapped[str | None] = mapped_column(String(120))
    request_hash: Mapped[str | None] = mapped_column(String(64))
