"""Regression tests of the attack pass (security issue): each failed on the code before its fix."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image
from sqlalchemy import select

from app import db
from app.audit.models import AuditEntry
from app.merchants.models import Lead, LeadState, Merchant
from app.uploads.models import Upload
from tests.factories import ContactFactory, MerchantFactory, auth_headers, image_bytes, make_org


def reveals(merchant_id: int) -> list[AuditEntry]:
    db.session.expire_all()
    return db.session.scalars(
        select(AuditEntry).where(AuditEntry.action == "merchant.phones_revealed", AuditEntry.subject_id == merchant_id)
    ).all()


def test_an_empty_contact_edit_does_not_unmask_a_public_merchants_phones(client, session):
    org = make_org()
    shop = MerchantFactory(tenant=org["tenant"])
    contact = ContactFactory(merchant=shop, phones=["+8613812345678"])
    url = f"/api/v1/merchants/{shop.id}/contacts/{contact.id}"
    response = client.patch(url, json={}, headers=auth_headers(org["manager"]))
    assert response.status_code == 200, response.json
    assert "****" in response.json["phones"][0]
    detail = client.get(f"/api/v1/merchants/{shop.id}", headers=auth_headers(org["manager"])).json
    assert [c["phones"] for c in detail["contacts"]] == [response.json["phones"]]
    assert reveals(shop.id) == []


def test_a_contact_write_that_shows_phones_in_full_is_audited(client, session):
    org = make_org()
    shop = MerchantFactory(tenant=org["tenant"])
    session.add(Lead(merchant_id=shop.id, tenant_id=org["tenant"].id, state=LeadState.PRIVATE, owner_id=org["bd1"].id))
    session.commit()
    response = client.post(
        f"/api/v1/merchants/{shop.id}/contacts",
        json={"name": "Boss", "phones": ["+8613812345678"]},
        headers=auth_headers(org["bd1"]),
    )
    assert response.status_code == 201, response.json
    assert response.json["phones"] == ["+8613812345678"]
    (entry,) = reveals(shop.id)
    assert entry.actor_id == org["bd1"].id and entry.after["contact_ids"] == [response.json["id"]]


def test_phone_visibility_is_one_rule_for_reads_and_writes(client, session):
    """Ops see every phone; a colleague BD never does, on the detail as on a write's answer."""
    org = make_org()
    shop = MerchantFactory(tenant=org["tenant"])
    ContactFactory(merchant=shop, phones=["+8613812345678"])
    session.add(Lead(merchant_id=shop.id, tenant_id=org["tenant"].id, state=LeadState.PRIVATE, owner_id=org["bd1"].id))
    session.commit()
    for user, masked in ((org["ops"], False), (org["bd2"], True)):
        detail = client.get(f"/api/v1/merchants/{shop.id}", headers=auth_headers(user)).json
        assert ("****" in detail["contacts"][0]["phones"][0]) is masked


def test_self_onboarding_never_changes_an_existing_merchant(client, session):
    """An anonymous form naming a real account only leaves an unverified contact that the owner accepts."""
    org = make_org()
    org["tenant"].settings = {"phone_region": "CN"}
    shop = MerchantFactory(tenant=org["tenant"], name="老王面馆", name_key="老王面馆", lat=30.2459, lng=120.1811)
    session.add(Lead(merchant_id=shop.id, tenant_id=org["tenant"].id, state=LeadState.PARTNER, owner_id=org["bd1"].id))
    session.commit()
    form = {
        "tenant": org["tenant"].slug,
        "business_name": "老王面馆",
        "contact_name": "Attacker",
        "phone": "13900001111",
        "address": "somewhere",
        "lat": 30.2459,
        "lng": 120.1811,
    }
    assert client.post("/api/v1/public/onboarding", json=form).status_code == 202
    detail = client.get(f"/api/v1/merchants/{shop.id}", headers=auth_headers(org["bd1"])).json
    (planted,) = detail["contacts"]
    assert planted["verified"] is False
    db.session.expire_all()
    assert session.get(Merchant, shop.id).self_onboarded is False
    url = f"/api/v1/merchants/{shop.id}/contacts/{planted['id']}/verify"
    assert client.post(url, headers=auth_headers(org["bd2"])).status_code == 403
    accepted = client.post(url, headers=auth_headers(org["bd1"]))
    assert accepted.status_code == 200 and accepted.json["verified"] is True


def _upload(client, user, data):
    return client.post(
        "/api/v1/uploads",
        data={"file": (io.BytesIO(data), "photo.jpg")},
        headers=auth_headers(user),
        content_type="multipart/form-data",
    )


def _stored(app, response) -> bytes:
    digest = response.json["sha256"]
    folder = Path(app.config["UPLOAD_DIR"]) / digest[:2]
    (path,) = folder.glob(f"{digest}.*")
    return path.read_bytes()


def test_a_jpeg_html_polyglot_is_stored_as_a_plain_image(client, app, session):
    org = make_org()
    polyglot = image_bytes("JPEG") + b"<html><script>alert(document.cookie)</script></html>"
    response = _upload(client, org["bd1"], polyglot)
    assert response.status_code == 201, response.json
    stored = _stored(app, response)
    assert b"<script" not in stored and stored.startswith(b"\xff\xd8\xff")
    assert response.json["content_type"] == "image/jpeg"


def test_exif_is_stripped_and_orientation_applied(client, app, session):
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees
    exif[0x010F] = "PhoneMaker"
    response = _upload(client, make_org()["bd1"], image_bytes("JPEG", size=(64, 48), exif=exif.tobytes()))
    with Image.open(io.BytesIO(_stored(app, response))) as stored:
        assert stored.size == (48, 64) and not stored.getexif()


def test_a_decompression_bomb_is_refused_and_nothing_is_stored(client, app, session):
    bomb = image_bytes("PNG", size=(12_000, 12_000))
    assert len(bomb) < 5 * 1024 * 1024
    response = _upload(client, make_org()["bd1"], bomb)
    assert response.status_code in (413, 415), response.json
    assert db.session.scalar(select(Upload.id).limit(1)) is None
