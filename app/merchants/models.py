"""Merchants (POIs), their key persons, their pool state (the lead) and the ids other sources know them by.

The lead row is the merchant's state in the pool (1:1, keyed by the merchant): the pool's rules and actions
live in ``app.leads``, but every read of a merchant (nearby, detail, dashboards) needs its state, so the
record sits here with the merchant. ``touch`` and ``get_merchant`` are the two helpers every writer of a
merchant needs.
"""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal
from typing import Any

from geoalchemy2 import Geography
from sqlalchemy import (
    BigInteger,
    Boolean,
    Enum,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app import db
from app.db import Base, TenantScoped, Timestamped, enum_values
from app.errors import MerchantNotFound
from geo.sql import WGS84_SRID


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
        Index(
            "ix_merchants_attributes",
            "attributes",
            postgresql_using="gin",
            postgresql_ops={"attributes": "jsonb_path_ops"},
        ),
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
    # percent of our price by which the cheapest competitor undercuts us (negative: we are cheaper), NULL when
    # unknown; kept by the tags pass (app/intake/tags.py), tagged ``price_disadvantage`` above the tenant threshold
    price_gap: Mapped[Decimal | None] = mapped_column(Numeric(7, 2))
    location: Mapped[Any] = mapped_column(Geography("POINT", srid=WGS84_SRID, spatial_index=False))
    source: Mapped[str] = mapped_column(String(40), default="manual", server_default="manual")
    source_id: Mapped[str | None] = mapped_column(String(120))
    attributes: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict, server_default="{}")
    audit_status: Mapped[AuditStatus] = mapped_column(
        Enum(AuditStatus, name="audit_status", values_callable=enum_values),
        default=AuditStatus.APPROVED,
        server_default=AuditStatus.APPROVED.value,
    )
    audit_flags: Mapped[list[str]] = mapped_column(ARRAY(String(64)), default=list, server_default="{}")
    merged_into_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("merchants.id", ondelete="SET NULL"))
    self_onboarded: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    created_by_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="SET NULL"))
    # latest verified visit by anyone: street-sweep mode filters on it, so it is kept on the row
    last_visit_at: Mapped[datetime | None]
    # "temporarily" or "permanently" (a correction, app/intake/corrections.py); a merchant closed for good is out
    # of the pool and of nearby and the map
    closed: Mapped[str | None] = mapped_column(String(20))
    # provenance per field: the fields whose current value a person set (a correction or an edit), with when;
    # an import never overwrites them (app/intake/importer.py)
    corrected_fields: Mapped[dict[str, str]] = mapped_column(JSONB, default=dict, server_default="{}")
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
        Enum(ContactRole, name="contact_role", values_callable=enum_values), default=ContactRole.OTHER
    )
    phones: Mapped[list[str]] = mapped_column(ARRAY(String(40)), default=list, server_default="{}")
    is_key_person: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    # a contact sent by an anonymous self-onboarding form: shown as unverified until someone who may edit the
    # merchant's contacts accepts it (a stranger must not plant "call this number" on a real account)
    verified: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))
    notes: Mapped[str] = mapped_column(Text, default="", server_default="")
    last_contacted_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())


class LeadState(str, enum.Enum):
    PUBLIC = "public"
    PRIVATE = "private"
    PARTNER = "partner"


class DropReason(str, enum.Enum):
    """Why a private lead goes (or went) back to the public pool on its own."""

    TERM_END = "term_end"
    NO_VISIT = "no_visit"
    NO_SIGNING = "no_signing"


class Lead(TenantScoped, Base):
    __tablename__ = "leads"
    __table_args__ = (
        Index("ix_leads_owner", "owner_id", "state"),
        # the sweeper scans only leads that can drop
        Index("ix_leads_drops_at", "drops_at", postgresql_where=text("state = 'private'")),
        # "my private pool, soonest drop first"
        Index(
            "ix_leads_tenant_state_drops",
            "tenant_id",
            "owner_id",
            "drops_at",
            postgresql_where=text("state = 'private'"),
        ),
    )

    merchant_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("merchants.id", ondelete="CASCADE"), primary_key=True
    )
    state: Mapped[LeadState] = mapped_column(
        Enum(LeadState, name="lead_state", values_callable=enum_values), default=LeadState.PUBLIC
    )
    owner_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="SET NULL"))
    claimed_at: Mapped[datetime | None]
    last_visit_at: Mapped[datetime | None]  # the owner's last verified visit
    extensions_used: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    extended_days: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # all extensions, in days
    manager_extended_days: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    drops_at: Mapped[datetime | None]
    drop_reason: Mapped[str | None] = mapped_column(String(20))
    signed_at: Mapped[datetime | None]
    contract_no: Mapped[str | None] = mapped_column(String(80))
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    # a manager's hold (a key account under negotiation): the drop clocks stand still until ``locked_until``
    locked_until: Mapped[datetime | None]
    lock_reason: Mapped[str | None] = mapped_column(String(300))
    locked_by_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="SET NULL"))
    # a signed partner handed over to an ops account owner (the signing BD stays the owner, with read access)
    account_owner_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="SET NULL"))
    # how long locks held the clocks, added to every clock like extension days (app.leads.rules)
    paused_seconds: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class LeadEvent(TenantScoped, Timestamped, Base):
    """One ownership change: claim, release, drop, extend, assign, transfer, sign."""

    __tablename__ = "lead_events"
    __table_args__ = (
        Index("ix_lead_events_merchant", "merchant_id", "id"),
        Index("ix_lead_events_cooldown", "merchant_id", "from_owner_id", "action", "created_at"),
        # dashboards: the tenant's claims and signings of a day or period
        Index("ix_lead_events_tenant_time", "tenant_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    merchant_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("merchants.id", ondelete="CASCADE"))
    action: Mapped[str] = mapped_column(String(20))
    from_owner_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="SET NULL"))
    to_owner_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="SET NULL"))
    actor_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="SET NULL"))
    reason: Mapped[str | None] = mapped_column(String(300))
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict, server_default="{}")


class MerchantSourceId(TenantScoped, Timestamped, Base):
    """A source's id for a merchant that was not created from that row: an import row matched to an existing
    merchant, or the ids of a merchant merged into another. Re-importing the row updates the merchant it
    points at instead of creating a duplicate."""

    __tablename__ = "merchant_source_ids"
    __table_args__ = (UniqueConstraint("tenant_id", "source", "source_id"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    source: Mapped[str] = mapped_column(String(40))
    source_id: Mapped[str] = mapped_column(String(120))
    merchant_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("merchants.id", ondelete="CASCADE"), index=True)


class MerchantChange(TenantScoped, Timestamped, Base):
    """One field of a merchant changed: by whom, how (``source``) and from what to what (JSON values; a position
    is ``{"lat", "lng"}`` in WGS84). Written by ``app.merchants.history.record_changes``."""

    __tablename__ = "merchant_changes"
    __table_args__ = (Index("ix_merchant_changes_merchant", "merchant_id", "id"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    merchant_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("merchants.id", ondelete="CASCADE"))
    field: Mapped[str] = mapped_column(String(80))
    before: Mapped[Any] = mapped_column(JSONB, nullable=True)
    after: Mapped[Any] = mapped_column(JSONB, nullable=True)
    # correction | import | merge | edit
    source: Mapped[str] = mapped_column(String(20))
    actor_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="SET NULL"))
    # the correction, the import's source name, the merged merchant: what the change came with
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict, server_default="{}")


def touch(*merchant_ids: int) -> None:
    """Mark merchants' detail payloads as changed, inside the caller's transaction."""
    if merchant_ids:
        db.session.execute(
            update(Merchant)
            .where(Merchant.id.in_(merchant_ids))
            .values(detail_version=Merchant.detail_version + 1)
            .execution_options(synchronize_session=False)
        )


HIDDEN = (AuditStatus.REJECTED, AuditStatus.MERGED)
CLOSED_FOR_GOOD = "permanently"


def get_merchant(merchant_id: int, *, live_only: bool = False) -> Merchant:
    """A merchant of the caller's tenant (the session is tenant-scoped), or 404.

    A merged duplicate's id is an alias of the merchant it was merged into (an offline check-in queued
    before the merge lands on the survivor). ``live_only`` also refuses a merchant that ops rejected or that
    closed for good (lead actions); a check-in or a contact at such a shop is still recorded.
    """
    merchant = db.get(Merchant, merchant_id)
    if merchant is not None and merchant.merged_into_id is not None:
        merchant = db.get(Merchant, merchant.merged_into_id)
    if merchant is None or (live_only and (merchant.audit_status in HIDDEN or merchant.closed == CLOSED_FOR_GOOD)):
        raise MerchantNotFound()
    return merchant
