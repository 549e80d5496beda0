"""Monthly targets for the KPIs, per BD or per team (org unit)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import BigInteger, Date, ForeignKey, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, TenantScoped, Timestamped


class KpiTarget(TenantScoped, Timestamped, Base):
    """A target for one metric of one BD (``user_id``) or one team (``team_id``) in one month."""

    __tablename__ = "kpi_targets"
    __table_args__ = (UniqueConstraint("tenant_id", "month", "subject_type", "subject_id", "metric"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    month: Mapped[date] = mapped_column(Date)  # the first day of the month
    subject_type: Mapped[str] = mapped_column(String(8))  # "bd" | "team"
    subject_id: Mapped[int] = mapped_column(BigInteger)  # users.id or org_units.id (either may go; rows stay)
    metric: Mapped[str] = mapped_column(String(40))
    value: Mapped[Decimal] = mapped_column(Numeric(16, 2))
    set_by_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="SET NULL"))
