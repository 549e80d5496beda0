"""The tenant's list of top brands (the ``top300`` tag), kept in its settings with the keys tags match on."""

from __future__ import annotations

from app import db
from app.intake.normalize import name_key
from app.outbox.service import enqueue_after_commit
from app.tenants.models import Tenant


def top_brands(tenant: Tenant) -> list[str]:
    return list((tenant.settings or {}).get("top300_brands", []))


def set_top_brands(tenant: Tenant, brands: list[str]) -> list[str]:
    cleaned = list(dict.fromkeys(b.strip() for b in brands if b.strip()))
    # a merchant's brand column (lower-cased) or, without one, its name key: both spellings match
    keys = sorted({b.lower() for b in cleaned} | {name_key(b) for b in cleaned} - {""})
    tenant = db.session.merge(tenant)
    tenant.settings = {**(tenant.settings or {}), "top300_brands": cleaned, "top300_keys": keys}
    enqueue_after_commit("app.intake.jobs.compute_tags", queue="sweeps", tenant_id=tenant.id)
    db.session.flush()
    return cleaned
