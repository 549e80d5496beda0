"""Which language a user reads: their own choice, else their business line's ``locale`` setting."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select

from app import db, i18n
from app.org.models import User
from app.tenants.models import Tenant


def user_locale(user: User) -> str:
    if user.locale:
        return i18n.supported(user.locale)
    tenant = db.get(Tenant, user.tenant_id)
    return i18n.supported(tenant.setting("locale") if tenant else None)


def locales_of(user_ids: Iterable[int]) -> dict[int, str]:
    """Each user's language, in one query."""
    rows = db.session.execute(
        select(User.id, User.locale, Tenant.settings)
        .join(Tenant, Tenant.id == User.tenant_id)
        .where(User.id.in_(list(user_ids)))
    ).all()
    return {
        user_id: i18n.supported(own or (settings or {}).get("locale") or i18n.DEFAULT_LOCALE)
        for user_id, own, settings in rows
    }
