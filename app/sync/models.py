"""The change log offline sync reads (written by triggers only: migration 0018)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, String, func, text
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import UserDefinedType

from app.db import Base


class Xid8(UserDefinedType):
    """PostgreSQL's 64-bit transaction id (``pg_current_xact_id()``), which SQLAlchemy has no type for."""

    cache_ok = True

    def get_col_spec(self, **_kw: object) -> str:
        return "xid8"


class SyncChange(Base):
    __tablename__ = "sync_changes"
    __table_args__ = (
        Index("ix_sync_changes_tenant_txid", "tenant_id", "txid", "id"),
        Index("ix_sync_changes_created", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    txid: Mapped[int] = mapped_column(Xid8, server_default=text("pg_current_xact_id()"))
    # no foreign keys: a tombstone outlives the row it is about
    tenant_id: Mapped[int] = mapped_column(BigInteger)
    entity: Mapped[str] = mapped_column(String(16))
    entity_id: Mapped[int] = mapped_column(BigInteger)
    user_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
