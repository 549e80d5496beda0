"""Bulk imports: the uploaded file, its progress and its outcome."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Enum, ForeignKey, Integer, LargeBinary, String, Text
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
