"""The stored answer of a POST sent with an ``Idempotency-Key``, kept for a retry of the same request."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, LargeBinary, SmallInteger, String, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, Timestamped


class IdempotencyKey(Timestamped, Base):
    """One key of one user: the request it was first sent with (a hash) and the answer that request got.

    Not ``TenantScoped``: every statement on this table names the tenant and the user itself, and the
    mixin's index on ``tenant_id`` alone would only slow the inserts that every keyed POST makes.
    """

    __tablename__ = "idempotency_keys"
    __table_args__ = (
        # keyed per user: two BDs' apps may well generate the same key, and neither may see the other's answer
        UniqueConstraint("tenant_id", "user_id", "key"),
        # the purge job deletes by age
        Index("ix_idempotency_keys_expires_at", "expires_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("tenants.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(120))
    # sha256 of method, path, query and body: the same key with another request is refused
    request_hash: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime]
    # the answer, written in the transaction of the request's effect (never null once committed)
    status: Mapped[int | None] = mapped_column(SmallInteger)
    headers: Mapped[list[Any] | None] = mapped_column(JSONB)
    body: Mapped[bytes | None] = mapped_column(LargeBinary)
