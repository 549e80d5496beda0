"""Bulk imports (the uploaded file, its progress and its outcome) and corrections of merchants."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Enum, ForeignKey, Index, Integer, LargeBinary, String, Text, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, TenantScoped, Timestamped, enum_values


class ImportStatus(str, enum.Enum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class MerchantImport(TenantScoped, Timestamped, Base):
    """One uploaded file and its progress. The file is kept in the row until the job has read it."""

    __tablename__ = "merchant_imports"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    created_by_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="SET NULL"))
    status: Mapped[ImportStatus] = mapped_column(
        Enum(ImportStatus, name="import_status", values_callable=enum_values), default=ImportStatus.QUEUED
    )
    filename: Mapped[str] = mapped_column(String(200), default="")
    file_format: Mapped[str] = mapped_column(String(10))  # csv | geojson
    source: Mapped[str] = mapped_column(String(40))
    coord_sys: Mapped[str] = mapped_column(String(8), default="wgs84")
    mapping: Mapped[dict[str, str]] = mapped_column(JSONB, default=dict)  # our column -> the file's column
    content: Mapped[bytes | None] = mapped_column(LargeBinary)
    rows_total: Mapped[int | None] = mapped_column(Integer)
    rows_done: Mapped[int] = mapped_column(Integer, default=0)
    # {"inserted": n, "updated": n, "unchanged": n, "matched": n, "rejected": n}
    counts: Mapped[dict[str, int]] = mapped_column(JSONB, default=dict)
    rejects: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)  # [{"line", "reason"}], first 1000
    matches: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)  # [{"line", "merchant_id", ...}]
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]


class CorrectionStatus(str, enum.Enum):
    APPLIED = "applied"  # every field applied when sent
    PENDING = "pending"  # some fields wait for ops (``queued``)
    APPROVED = "approved"
    REJECTED = "rejected"


class MerchantCorrection(TenantScoped, Timestamped, Base):
    """A correction of a merchant's data sent from the street (app/intake/corrections.py).

    ``changes`` is every field sent with its new value (a position in WGS84); ``applied`` the fields that
    took effect at once, ``queued`` those waiting for ops, with ``reasons`` why they wait.
    """

    __tablename__ = "merchant_corrections"
    __table_args__ = (
        Index("ix_merchant_corrections_pending", "tenant_id", "id", postgresql_where=text("status = 'pending'")),
        Index("ix_merchant_corrections_merchant", "merchant_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    merchant_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("merchants.id", ondelete="CASCADE"))
    created_by_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="SET NULL"))
    status: Mapped[CorrectionStatus] = mapped_column(
        Enum(CorrectionStatus, name="correction_status", values_callable=enum_values)
    )
    changes: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    applied: Mapped[list[str]] = mapped_column(JSONB, default=list)
    queued: Mapped[list[str]] = mapped_column(JSONB, default=list)
    # setting (the tenant sends the field to audit), not_owner, possible_duplicate
    reasons: Mapped[list[str]] = mapped_column(JSONB, default=list)
    duplicate_candidates: Mapped[list[int]] = mapped_column(JSONB, default=list)
    note: Mapped[str] = mapped_column(Text, default="")
    photo_ids: Mapped[list[str]] = mapped_column(JSONB, default=list)
    decided_by_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime | None]
    decision_note: Mapped[str | None] = mapped_column(Text)
