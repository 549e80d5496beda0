"""Territories drawn on the map and the BDs assigned to them."""

from __future__ import annotations

from typing import Any

from geoalchemy2 import Geography
from sqlalchemy import BigInteger, Float, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, TenantScoped, Timestamped
from geo.sql import WGS84_SRID


class Territory(TenantScoped, Timestamped, Base):
    __tablename__ = "territories"
    __table_args__ = (
        UniqueConstraint("tenant_id", "team_id", "name"),
        # "which territories cover this merchant" and overlap checks between a team's territories
        Index("ix_territories_boundary", "boundary", postgresql_using="gist"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    team_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("org_units.id", ondelete="RESTRICT"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    # geography, like merchant locations: ST_Covers(boundary, merchants.location) uses the merchants' GiST index
    boundary: Mapped[Any] = mapped_column(Geography("MULTIPOLYGON", srid=WGS84_SRID, spatial_index=False))
    area_m2: Mapped[float] = mapped_column(Float)
    vertices: Mapped[int] = mapped_column(Integer)
    created_by_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="SET NULL"))


class TerritoryMember(TenantScoped, Timestamped, Base):
    """A BD assigned to work a territory."""

    __tablename__ = "territory_members"
    __table_args__ = (Index("ix_territory_members_user", "user_id", "territory_id"),)

    territory_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("territories.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
