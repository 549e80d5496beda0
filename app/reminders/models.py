"""A reminder: a to-do the system puts in a user's to-do center (beside the tasks managers assign)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, TenantScoped, Timestamped


class Reminder(TenantScoped, Timestamped, Base):
    """A system to-do (lead about to drop, planned next visit, audit result); ``dedupe_key`` makes it once-only."""

    __tablename__ = "reminders"
    __table_args__ = (
        UniqueConstraint("tenant_id", "dedupe_key"),
        Index("ix_reminders_user_open", "user_id", "done_at", "due_at"),
        # closing a merchant's open reminders (a visit, a lead changing hands, the sweeper)
        Index("ix_reminders_merchant_open", "merchant_id", postgresql_where=text("done_at IS NULL")),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    user_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(40))
    # the English text, kept for rows older than ``message`` and for logs
    title: Mapped[str] = mapped_column(String(200))
    # ``app.i18n.Text`` as JSON (key and arguments): each reader sees the to-do in their own language
    message: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    merchant_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("merchants.id", ondelete="CASCADE"))
    due_at: Mapped[datetime]
    done_at: Mapped[datetime | None]
    dedupe_key: Mapped[str] = mapped_column(String(200))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
