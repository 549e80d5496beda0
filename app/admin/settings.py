"""Tenant settings: read with defaults filled in, changed section by section by admins."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm.attributes import flag_modified

from app import db
from app.audit import service as audit_log
from app.errors import Forbidden
from app.org.models import Role, User
from app.tenants import visit_forms
from app.tenants.models import DEFAULT_SETTINGS, Tenant


def effective_settings(tenant: Tenant) -> dict[str, Any]:
    sections = {section: tenant.setting(section) for section in DEFAULT_SETTINGS}
    return {"slug": tenant.slug, "name": tenant.name, **sections}


def update_settings(admin: User, tenant: Tenant, changes: dict[str, Any]) -> dict[str, Any]:
    """Merge ``changes`` into the tenant's settings: sections are merged key by key, lists replaced.

    Stored merchants are never rewritten (see :mod:`app.tenants.custom_fields` for what a schema change
    means for existing values).
    """
    if admin.role != Role.ADMIN:
        raise Forbidden("Only admins change tenant settings.")
    if "visit_forms" in changes:
        # answers are checked against the version the app showed: every changed form is a new version
        changes = {**changes, "visit_forms": visit_forms.publish(tenant, changes["visit_forms"])}
    settings = dict(tenant.settings or {})
    before = {section: settings.get(section) for section in changes}
    for section, value in changes.items():
        current = settings.get(section)
        settings[section] = {**current, **value} if isinstance(value, dict) and isinstance(current, dict) else value
    tenant.settings = settings
    flag_modified(tenant, "settings")
    audit_log.record_audit(
        audit_log.SETTINGS_CHANGE,
        actor=admin,
        subject_type="tenant",
        subject_id=tenant.id,
        before=before,
        after={section: settings[section] for section in changes},
        tenant_id=tenant.id,
    )
    db.session.flush()
    return effective_settings(tenant)
