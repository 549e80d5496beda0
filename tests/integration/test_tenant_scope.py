"""No code path reads or writes another tenant's rows once a tenant is in scope."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, update

from app import db
from app.merchants.models import Contact, Merchant
from tests.factories import ContactFactory, MerchantFactory, TenantFactory


@pytest.fixture
def two_tenants(session):
    food, hotels = TenantFactory(slug="food"), TenantFactory(slug="hotels")
    ours = [MerchantFactory(tenant=food, name=f"Food {i}") for i in range(3)]
    theirs = MerchantFactory(tenant=hotels, name="Hotel Kämp")
    ContactFactory(merchant=theirs, name="Their contact")
    session.expunge_all()  # identity-map hits must not bypass the filter in these tests
    return food, hotels, ours, theirs


def test_selects_only_see_the_scoped_tenant(session, two_tenants):
    food, _, ours, theirs = two_tenants
    db.scope_to_tenant(food.id)
    names = session.scalars(select(Merchant.name).order_by(Merchant.id)).all()
    assert names == [m.name for m in ours]
    assert session.scalar(select(func.count()).select_from(Merchant)) == 3
    assert session.get(Merchant, theirs.id) is None
    assert session.scalars(select(Contact)).all() == []


def test_joins_and_subqueries_are_filtered_too(session, two_tenants):
    food, _, _, theirs = two_tenants
    db.scope_to_tenant(food.id)
    joined = session.execute(select(Contact.name, Merchant.name).join(Merchant, Merchant.id == Contact.merchant_id))
    assert joined.all() == []
    sub = select(Merchant.id).where(Merchant.id == theirs.id).scalar_subquery()
    assert session.scalars(select(Merchant).where(Merchant.id == sub)).all() == []


def test_bulk_updates_cannot_touch_another_tenant(session, two_tenants):
    food, hotels, _, theirs = two_tenants
    db.scope_to_tenant(food.id)
    session.execute(update(Merchant).values(city="Renamed"))
    session.commit()
    db.scope_to_tenant(hotels.id)
    assert session.get(Merchant, theirs.id).city != "Renamed"


def test_new_rows_are_stamped_with_the_scoped_tenant_and_cannot_be_smuggled(session, two_tenants):
    food, hotels, ours, _ = two_tenants
    db.scope_to_tenant(food.id)
    contact = Contact(merchant_id=ours[0].id, name="New")
    session.add(contact)
    session.flush()
    assert contact.tenant_id == food.id
    session.add(Contact(merchant_id=ours[0].id, name="Smuggled", tenant_id=hotels.id))
    with pytest.raises(PermissionError):
        session.flush()
    session.rollback()


def test_api_request_is_scoped_to_the_callers_tenant(client, session, two_tenants):
    from tests.factories import UserFactory, auth_headers

    food, _, _, _ = two_tenants
    user = UserFactory(tenant=food)
    response = client.get("/api/v1/me", headers=auth_headers(user))
    assert response.json["tenant"]["slug"] == "food"


def test_db_get_rechecks_the_tenant_of_identity_map_hits(session):
    """``Session.get`` returns already-loaded objects without SQL; ``db.get`` must still refuse them."""
    food, hotels = TenantFactory(slug="food2"), TenantFactory(slug="hotels2")
    theirs = MerchantFactory(tenant=hotels)  # now in this session's identity map
    db.scope_to_tenant(food.id)
    assert session.get(Merchant, theirs.id) is theirs  # the raw API would leak it
    assert db.get(Merchant, theirs.id) is None
    db.scope_to_tenant(hotels.id)
    assert db.get(Merchant, theirs.id) is theirs
