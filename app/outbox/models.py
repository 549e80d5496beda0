"""Side effects written in the same transaction as the data they follow, so none is lost."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Index, Integer, String, Text, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, Timestamped


class OutboxMessage(Timestamped, Base):
    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    job: Mapped[str] = mapped_column(String(200))  # dotted path of an RQ function taking **payload
    queue: Mapped[str] = mapped_column(String(40), default="default")
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    processed_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)

    # the sweeper only ever looks at what is still pending
    __table_args__ = (Index("ix_outbox_pending", "id", postgresql_where=text("processed_at IS NULL")),)
