"""Key persons at a merchant: created and edited by the lead's owner, their managers, ops and admins.

A contact in a write's answer follows the rule every read follows (``privacy.can_see_phones``): a manager
may edit a public-pool merchant's contacts, but sees their phones masked like in the detail.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, text

from app import db
from app.errors import ContactNotFound, NotAllowedForLead
from app.merchants import history, privacy
from app.merchants.models import Contact, ContactRole, Lead, LeadState, Merchant, get_merchant, touch
from app.org.models import Role, User
from app.org.scope import manages
from app.tenants.custom_fields import field_schema, validate_custom_attributes


def ensure_can_edit(caller: User, merchant: Merchant) -> None:
    if caller.role in (Role.OPS, Role.ADMIN):
        return
    owner_id = db.session.scalar(
        select(Lead.owner_id).where(Lead.merchant_id == merchant.id, Lead.state != LeadState.PUBLIC)
    )
    if owner_id == caller.id:
        return
    if caller.role == Role.MANAGER and (owner_id is None or manages(caller, owner_id)):
        return
    raise NotAllowedForLead()


def _get_contact(merchant: Merchant, contact_id: int) -> Contact:
    contact = db.get(Contact, contact_id)
    if contact is None or contact.merchant_id != merchant.id:
        raise ContactNotFound()
    return contact


_PHONE_VIEWER = text(
    """
    SELECT l.owner_id, o.manager_id AS owner_manager_id, ou.path AS owner_path,
           (SELECT path FROM org_units WHERE id = :caller_unit) AS caller_path
    FROM (SELECT 1) one
    LEFT JOIN leads l ON l.merchant_id = :merchant_id AND l.state <> 'public'
    LEFT JOIN users o ON o.id = l.owner_id
    LEFT JOIN org_units ou ON ou.id = o.org_unit_id
    """
)


def contact_view(caller: User, merchant: Merchant, contact: Contact) -> dict[str, Any]:
    """A contact as the caller may see it; phones shown in full are recorded as a reveal."""
    row = db.session.execute(_PHONE_VIEWER, {"merchant_id": merchant.id, "caller_unit": caller.org_unit_id}).one()
    show = privacy.can_see_phones(caller, row.caller_path, row)
    if show:
        privacy.record_reveal(
            caller,
            merchant.tenant_id,
            merchant.id,
            contact_ids=[contact.id] if contact.phones else [],
            merchant_phone=False,
        )
    return {
        "id": contact.id,
        "name": contact.name,
        "title": contact.title,
        "role": contact.role,
        "phones": list(contact.phones) if show else [privacy.mask_phone(p) for p in contact.phones],
        "is_key_person": contact.is_key_person,
        "verified": contact.verified,
        "notes": contact.notes,
        "last_contacted_at": contact.last_contacted_at,
    }


def create_contact(caller: User, merchant_id: int, fields: dict[str, Any]) -> dict[str, Any]:
    merchant = get_merchant(merchant_id)
    ensure_can_edit(caller, merchant)
    contact = Contact(
        merchant_id=merchant.id, tenant_id=merchant.tenant_id, **{**fields, "role": ContactRole(fields["role"])}
    )
    db.session.add(contact)
    touch(merchant.id)
    db.session.flush()
    return contact_view(caller, merchant, contact)


def update_contact(caller: User, merchant_id: int, contact_id: int, fields: dict[str, Any]) -> dict[str, Any]:
    merchant = get_merchant(merchant_id)
    ensure_can_edit(caller, merchant)
    contact = _get_contact(merchant, contact_id)
    for key, value in fields.items():
        setattr(contact, key, ContactRole(value) if key == "role" else value)
    touch(merchant.id)
    db.session.flush()
    return contact_view(caller, merchant, contact)


def verify_contact(caller: User, merchant_id: int, contact_id: int) -> dict[str, Any]:
    """Accept a self-onboarded contact (rejecting one is deleting it)."""
    merchant = get_merchant(merchant_id)
    ensure_can_edit(caller, merchant)
    contact = _get_contact(merchant, contact_id)
    if not contact.verified:
        contact.verified = True
        merchant.self_onboarded = True
        touch(merchant.id)
        db.session.flush()
    return contact_view(caller, merchant, contact)


def delete_contact(caller: User, merchant_id: int, contact_id: int) -> None:
    merchant = get_merchant(merchant_id)
    ensure_can_edit(caller, merchant)
    db.session.delete(_get_contact(merchant, contact_id))
    touch(merchant.id)
    db.session.flush()


def update_attributes(
    caller: User, tenant_settings: dict[str, Any], merchant_id: int, changes: dict[str, Any]
) -> dict[str, Any]:
    """Set or clear custom-field values (validated against the business line's schema); returns them all.

    Only the keys of the current schema are returned: values of removed fields stay stored (a field that
    comes back finds them again) but are no longer shown as custom fields.
    """
    merchant = get_merchant(merchant_id)
    ensure_can_edit(caller, merchant)
    cleaned = validate_custom_attributes(tenant_settings, changes, partial=True)
    before = history.snapshot(merchant.id, cleaned)
    attributes = dict(merchant.attributes or {})
    for key, value in cleaned.items():
        if value is None:
            attributes.pop(key, None)
        else:
            attributes[key] = value
    merchant.attributes = attributes
    changed = history.record_changes(
        merchant.tenant_id, merchant.id, before, history.snapshot(merchant.id, cleaned), "edit", caller.id
    )
    history.mark_corrected(merchant, changed)
    touch(merchant.id)
    db.session.flush()
    schema = field_schema(tenant_settings)
    return {"id": merchant.id, "attributes": {k: v for k, v in attributes.items() if k in schema}}


def changes_viewer(caller: User, merchant: Merchant) -> bool:
    """Who may read a merchant's change history: anyone of the business line while the merchant is public, else
    those who may edit it. Returns whether phone numbers in it are shown in full (the detail's rule)."""
    row = db.session.execute(_PHONE_VIEWER, {"merchant_id": merchant.id, "caller_unit": caller.org_unit_id}).one()
    if row.owner_id is not None:
        ensure_can_edit(caller, merchant)
    return privacy.can_see_phones(caller, row.caller_path, row)
