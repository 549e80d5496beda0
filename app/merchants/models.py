"""Merchants (POIs) and their key persons."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from geoalchemy2 import Geography
from sqlalchemy import BigInteger, Boolean, Enum, ForeignKey, Index, Integer, String, Text, func, text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, TenantScoped, Timestamped
from app.org.models import _values


class AuditStatus(str, enum.Enum):
    APPROVED = "approved"
    PENDING = "pending_audit"
    REJECTED = "rejected"
    MERGED = "merged"


class Merchant(TenantScoped, Timestamped, Base):
    __tablename__ = "merchants"
    # Storage: fillfactor 85 (migration 0011), so detail_version bumps are HOT updates, not 9 index inserts.
    __table_args__ = (
        # tenant first: a KNN scan never walks another business line's merchants (btree_gist)
        Index("ix_merchants_tenant_location", "tenant_id", "location", postgresql_using="gist"),
        Index("ix_merchants_name_trgm", "name", postgresql_using="gin", postgresql_ops={"name": "gin_trgm_ops"}),
        Index("ix_merchants_tags", "tags", postgresql_using="gin"),
        Index("ix_merchants_category", "tenant_id", "category", postgresql_ops={"category": "text_pattern_ops"}),
        Index("ix_merchants_brand", "tenant_id", "brand"),
        Index("ix_merchants_phone", "tenant_id", "phone_normalized"),
        # custom-field filters (`attr.<key>=value` in nearby) are JSONB containment
        # dashboards: the few rejected/merged merchants, so the public pool is a difference of counts
        Index("ix_merchants_hidden", "tenant_id", postgresql_where=text("audit_status IN ('rejected', 'merged')")),
        # dashboards: merchants a BD created on a day
        Index("ix_merchants_created_by", "created_by_id", "created_at"),
        Index("ix_merchants_attributes", "attributes", postgresql_using="gin",
              postgresql_ops={"attributes": "jsonb_path_ops"}),
        # duplicate detection: any shared store phone (app/intake/dedup.py)
        Index("ix_merchants_phone_keys", "phone_keys", postgresql_using="gin"),
        # re-importing a source's file updates rows instead of duplicating them
        Index(
            "uq_merchants_source",
            "tenant_id",
            "source",
            "source_id",
            unique=True,
            postgresql_where=text("source_id IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    category: Mapped[str] = mapped_column(String(300), default="", server_default="")
    address: Mapped[str] = mapped_column(String(500), default="", server_default="")
    city: Mapped[str] = mapped_column(String(100), default="", server_default="")
    phone: Mapped[str | None] = mapped_column(String(100))
    phone_normalized: Mapped[str | None] = mapped_column(String(40))  # the first of phone_keys
    # what duplicate detection compares (app/intake/normalize.py): the name without script, bracket, branch
    # and spacing differences, the branch the brackets name, and every store phone in E.164
    name_key: Mapped[str] = mapped_column(String(300), default="", server_default="")
    branch_key: Mapped[str] = mapped_column(String(100), default="", server_default="")
    phone_keys: Mapped[list[str]] = mapped_column(ARRAY(String(20)), default=list, server_default="{}")
    brand: Mapped[str | None] = mapped_column(String(200))
    tags: Mapped[list[str]] = mapped_column(ARRAY(String(64)), default=list, server_default="{}")
    location: Mapped[Any] = mapped_column(Geography("POINT", srid=4326, spatial_index=False))
    source: Mapped[str] = mapped_column(String(40), default="manual", server_default="manual")
    source_id: Mapped[str | None] = mapped_column(String(120))
    attributes: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict, server_default="{}")
    audit_status: Mapped[AuditStatus] = mapped_column(
        Enum(AuditStatus, name="audit_status", values_callable=_values),
        default=AuditStatus.APPROVED,
        server_default=AuditStatus.APPROVED.value,
    )
    audit_flags: Mapped[list[str]] = mapped_column(ARRAY(String(64)), default=list, server_default="{}")
    merged_into_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("merchants.id", ondelete="SET NULL"))
    self_onboarded: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    created_by_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="SET NULL"))
    # latest verified visit by anyone: street-sweep mode filters on it, so it is kept on the row
    last_visit_at: Mapped[datetime | None]
    # bumped by every write that changes the detail payload; the detail cache is keyed by it
    detail_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())


class ContactRole(str, enum.Enum):
    DECISION_MAKER = "decision_maker"
    APPROVER = "approver"
    EVALUATOR = "evaluator"
    USER = "user"
    OTHER = "other"


class Contact(TenantScoped, Timestamped, Base):
    """A key person at a merchant."""

    __tablename__ = "contacts"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    merchant_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("merchants.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    title: Mapped[str] = mapped_column(String(200), default="", server_default="")
    role: Mapped[ContactRole] = mapped_column(
        Enum(ContactRole, name="contact_role", values_callable=_values), default=ContactRole.OTHER
    )
    phones: Mapped[list[str]] = mapped_column(ARRAY(String(40)), default=list, server_default="{}")
    is_key_person: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    notes: Mapped[str] = mapped_column(Text, default="", server_default="")
    last_contacted_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())
