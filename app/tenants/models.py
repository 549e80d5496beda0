"""Tenants are business lines (group-buying, hotels, food delivery...) sharing one deployment."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import BigInteger, Integer, String, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, TenantScoped, Timestamped

# what a merchant correction may change (``attributes``: the business line's custom fields)
CORRECTABLE_FIELDS = ("name", "address", "phone", "category", "position", "closed", "brand", "attributes")

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
    "checkin": {
        "radius_m": 200,
        "max_accuracy_m": 100,
        "max_speed_kmh": 120,
        "offline_window_hours": 24,
        # a visit photo whose EXIF puts it farther from the merchant, or earlier before the check-in, is flagged
        # photo_far / photo_stale for the manager (app.visits.service.photo_flags)
        "photo_max_distance_m": 500,
        "photo_max_age_hours": 12,
    },
    "phone_region": "CN",
    # calendar days (day plans, the team's day) are the tenant's local days
    "timezone": "Asia/Shanghai",
    # limits on territories drawn by managers (validated in geo.territory)
    "territory": {"max_vertices": 2000, "max_area_km2": 2000},
    "custom_fields": [],
    # the language of pushes and system to-dos for users who chose none (app.i18n.SUPPORTED_LOCALES)
    "locale": "en",
    # merchant corrections from the street (app/intake/corrections.py): the fields a lead owner's correction
    # applies at once (the others wait for ops in the audit queue), and the move beyond which a correction of
    # the position re-runs the duplicate check (a rename always does)
    "corrections": {
        "apply_at_once": ["address", "phone", "category", "brand", "attributes"],
        "move_check_m": 50,
    },
    # HQ strategy: a merchant whose cheapest competitor undercuts our cheapest active deal by more than this
    # percent of our price is tagged ``price_disadvantage`` (app/intake/tags.py)
    "pricing": {"disadvantage_gap_pct": 10},
    # life after signing: the account owner gets a to-do and a push this many days before a contract ends
    "contracts": {"renewal_reminder_days": 30},
    # the oldest app version still served (the issue's `min_app_version`): an `X-App-Version` below it gets 426
    # APP_UPGRADE_REQUIRED with `store_url` (app.tenants.app_version); null: every version is served
    "app": {"min_version": None, "store_url": ""},
    # the business line's visit forms (app.tenants.visit_forms); each change publishes a new version
    "visit_forms": [],
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


class VisitFormVersion(TenantScoped, Timestamped, Base):
    """Every published version of a tenant's visit form: answers are validated against the version the app had."""

    __tablename__ = "visit_form_versions"
    __table_args__ = (UniqueConstraint("tenant_id", "form_key", "version"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    form_key: Mapped[str] = mapped_column(String(40))
    version: Mapped[int] = mapped_column(Integer)
    definition: Mapped[dict[str, Any]] = mapped_column(JSONB)
