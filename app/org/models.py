"""The org tree (city > team > sub-team) and its users."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import BigInteger, Boolean, Enum, ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import Base, TenantScoped, Timestamped, enum_values


class Role(str, enum.Enum):
    BD = "bd"
    MANAGER = "manager"
    OPS = "ops"
    ADMIN = "admin"


class OrgKind(str, enum.Enum):
    CITY = "city"
    TEAM = "team"
    SUBTEAM = "subteam"


class OrgUnit(TenantScoped, Timestamped, Base):
    """A node of the org tree. ``path`` ("/1/4/9/") makes "everything in my subtree" one indexed prefix match."""

    __tablename__ = "org_units"
    __table_args__ = (
        UniqueConstraint("tenant_id", "parent_id", "name"),
        Index("ix_org_units_path", "path", postgresql_ops={"path": "text_pattern_ops"}),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    parent_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("org_units.id", ondelete="RESTRICT"))
    kind: Mapped[OrgKind] = mapped_column(Enum(OrgKind, name="org_kind", values_callable=enum_values))
    name: Mapped[str] = mapped_column(String(200))
    path: Mapped[str] = mapped_column(String(500), default="/")
    manager_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("users.id", ondelete="SET NULL", use_alter=True)
    )


class User(TenantScoped, Timestamped, Base):
    __tablename__ = "users"
    __table_args__ = (
        UniqueConstraint("tenant_id", "username"),
        # login looks users up by name before it knows the tenant
        Index("ix_users_username", "username"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    username: Mapped[str] = mapped_column(String(80))
    display_name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(Enum(Role, name="user_role", values_callable=enum_values))
    org_unit_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("org_units.id", ondelete="SET NULL"), index=True
    )
    manager_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="SET NULL"))
    phone: Mapped[str | None] = mapped_column(String(40))
    # zh-CN or en (app.i18n.SUPPORTED_LOCALES); null: the business line's `locale` setting
    locale: Mapped[str | None] = mapped_column(String(10))
    # a free label (junior, senior...) that tenant settings may give its own claim cap (pool.claim_caps.ranks)
    rank: Mapped[str | None] = mapped_column(String(40))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))
    deactivated_at: Mapped[datetime | None]

    org_unit: Mapped[OrgUnit | None] = relationship(foreign_keys=[org_unit_id], lazy="raise")

    @property
    def name(self) -> str:
        return self.display_name or self.username
