"""Tenants are business lines (group-buying, hotels, food delivery...) sharing one deployment."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import BigInteger, String
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, Timestamped

DEFAULT_SETTINGS: dict[str, Any] = {
    "pool": {
        "claim_cap": 100,
        "term_days": 45,
        "no_visit_days": 15,
        "no_sign_days": 30,
        "max_extensions": 2,
        "extension_days": 15,
        "reclaim_cooldown_days": 7,
        "on_deactivate": "public",
        # how a BD's signing is verified before the lead becomes a partner (until then it stays in the BD's
        # private pool, under the cap and the clocks): "manager" (their manager or ops confirms), "contract" (a
        # deal imported for the merchant carries the contract number; without one, as "manager"), "none"
        "signing": "manager",
        # caps that override claim_cap: per BD (user id as a string key) first, then per rank (users.rank)
        "claim_caps": {"users": {}, "ranks": {}},
        # "off": one public pool; "territory": a BD claims only merchants inside their territories;
        # "city": only merchants whose city is the BD's city org unit (the seeds' city pools)
        "pool_groups": "off",
    },
    "checkin": {"radius_m": 200, "max_accuracy_m": 100, "max_speed_kmh": 120, "offline_window_hours": 24},
    "phone_region": "CN",
    # calendar days (day plans, the team's day) are the tenant's local days
    "timezone": "Asia/Shanghai",
    # limits on territories drawn by managers (validated in geo.territory)
    "territory": {"max_vertices": 2000, "max_area_km2": 2000},
    "custom_fields": [],
    # life after signing: the account owner gets a to-do and a push this many days before a contract ends
    "contracts": {"renewal_reminder_days": 30},
    # the oldest app version still served (the issue's `min_app_version`): an `X-App-Version` below it gets 426
    # APP_UPGRADE_REQUIRED with `store_url` (app.tenants.app_version); null: every version is served
    "app": {"min_version": None, "store_url": ""},
}


class Tenant(Timestamped, Base):
    __tablename__ = "tenants"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    settings: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict, server_default="{}")

    def setting(self, section: str, key: str | None = None) -> Any:
        """A setting with the product default filled in for anything the tenant has not set."""
        default = DEFAULT_SETTINGS.get(section)
        value = (self.settings or {}).get(section, default)
        if isinstance(default, dict):
            value = {**default, **(value if isinstance(value, dict) else {})}
        return value if key is None else value[key]

    @property
    def zone(self) -> ZoneInfo:
        try:
            return ZoneInfo(self.setting("timezone"))
        except (ZoneInfoNotFoundError, ValueError):
            return ZoneInfo("UTC")

    def day_bounds(self, day: date) -> tuple[datetime, datetime]:
        """The tenant's local calendar day as a [start, end) range of aware datetimes."""
        start = datetime.combine(day, time.min, tzinfo=self.zone)
        return start, start + timedelta(days=1)
