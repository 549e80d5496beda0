"""Public self-onboarding: strict input, rate limits per IP and per phone, create-or-link, the to-do."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app import db
from app.intake.normalize import name_key, phone_keys
from app.merchants.models import Contact, Merchant
from app.org.models import Role
from app.reminders.models import Reminder
from tests.factories import MerchantFactory, TenantFactory, UserFactory

LAT, LNG = 30.2459, 120.1811
URL = "/api/v1/public/onboarding"


@pytest.fixture
def line(session):
    tenant = TenantFactory(slug="food")
    ops = [UserFactory(tenant=tenant, role=Role.OPS) for _ in range(2)]
    UserFactory(tenant=tenant, role=Role.OPS, is_active=False)
    return {"tenant": tenant, "ops": ops}


def body(**overrides):
    return {
        "tenant": "food",
        "business_name": "老王面馆",
        "contact_name": "王建国",
        "phone": "138 1234 5678",
        "address": "清泰街 318 号",
        "lat": LAT,
        "lng": LNG,
        "category": "餐饮服务;中餐厅",
        **overrides,
    }


def submit(client, ip="203.0.113.5", **overrides):
    return client.post(URL, json=body(**overrides), environ_base={"REMOTE_ADDR": ip})


def todos(tenant):
    db.session.expire_all()
    return db.session.scalars(select(Reminder).where(Reminder.tenant_id == tenant.id).order_by(Reminder.id)).all()


def test_creates_a_self_onboarded_merchant_and_a_todo_for_ops(client, line, session):
    response = submit(client)
    assert response.status_code == 202, response.json
    assert response.json["status"] == "received"
    merchant = session.scalar(select(Merchant).where(Merchant.tenant_id == line["tenant"].id))
    assert merchant.self_onboarded and merchant.audit_status.value == "pending_audit"
    assert merchant.source == "self_onboarding" and merchant.phone_keys == ["+8613812345678"]
    contact = session.scalar(select(Contact).where(Contact.merchant_id == merchant.id))
    assert contact.name == "王建国" and contact.is_key_person
    reminders = todos(line["tenant"])
    assert sorted(r.user_id for r in reminders) == sorted(u.id for u in line["ops"])  # active ops only
    assert {r.kind for r in reminders} == {"self_onboarding"} and reminders[0].merchant_id == merchant.id
    assert reminders[0].payload["contact_name"] == "王建国"


def test_links_an_existing_merchant_and_answers_the_same(client, line, session):
    existing = MerchantFactory(
        tenant=line["tenant"], name="老王麵館", name_key=name_key("老王麵館"), lat=LAT + 0.0002, lng=LNG, phone=None
    )
    new_response = submit(client, business_name="另一家店", phone="139 0000 1111", lat=LAT + 0.01)
    linked_response = submit(client)
    assert linked_response.status_code == new_response.status_code == 202
    assert linked_response.json == new_response.json  # nothing tells the caller a record existed
    db.session.expire_all()
    # the existing merchant is not changed: the sender's contact waits, unverified, for someone to accept it
    assert not session.get(Merchant, existing.id).self_onboarded
    (pending,) = session.scalars(select(Contact).where(Contact.merchant_id == existing.id)).all()
    assert pending.verified is False
    assert session.scalar(select(Merchant.id).where(Merchant.name == "老王面馆")) is None
    assert [r.merchant_id for r in todos(line["tenant"]) if r.payload["business_name"] == "老王面馆"] == [
        existing.id,
        existing.id,
    ]


def test_without_position_links_by_phone_or_leaves_a_todo(client, line, session):
    existing = MerchantFactory(
        tenant=line["tenant"], name="某某店", phone="0571-87806201", phone_keys=phone_keys("0571-87806201")
    )
    assert submit(client, lat=None, lng=None, phone="+86 571 8780 6201").status_code == 202
    assert submit(client, lat=None, lng=None, phone="13700001111", business_name="新店").status_code == 202
    reminders = todos(line["tenant"])
    assert {r.payload["business_name"]: r.merchant_id for r in reminders} == {"老王面馆": existing.id, "新店": None}
    assert session.scalar(select(Merchant.id).where(Merchant.name == "新店")) is None


def test_an_unknown_business_line_is_answered_like_a_known_one(client, line):
    known = submit(client)
    unknown = submit(client, tenant="no-such-line", phone="139 0000 2222")
    assert unknown.status_code == known.status_code == 202 and unknown.json == known.json


@pytest.mark.parametrize(
    ("overrides", "status", "code"),
    [
        ({"phone": "12345"}, 422, "INVALID_PHONE"),
        ({"phone": "400-882-3823"}, 422, "INVALID_PHONE"),
        ({"business_name": "x"}, 422, "VALIDATION_ERROR"),
        ({"business_name": "<script>alert(1)</script>"}, 422, "VALIDATION_ERROR"),
        ({"contact_name": "a\x00b"}, 422, "VALIDATION_ERROR"),
        ({"lng": None}, 422, "VALIDATION_ERROR"),
        ({"lat": 95}, 422, "VALIDATION_ERROR"),
        ({"owner_id": 1}, 422, "VALIDATION_ERROR"),
        ({"address": ""}, 422, "VALIDATION_ERROR"),
    ],
)
def test_strict_validation(client, line, overrides, status, code):
    response = submit(client, **overrides)
    assert (response.status_code, response.json["error_code"]) == (status, code), response.json
    assert todos(line["tenant"]) == []


def test_rate_limited_per_ip_and_per_phone(client, line, app):
    for i in range(3):
        assert submit(client, ip="198.51.100.1", business_name=f"店{i}号", lat=LAT + i * 0.01).status_code == 202
    refused = submit(client, ip="198.51.100.2", phone="+86 138-1234-5678")  # same phone, other format and IP
    assert refused.status_code == 429 and refused.json["error_code"] == "RATE_LIMITED"
    assert int(refused.headers["Retry-After"]) > 3600
    app.config["ONBOARDING_PER_IP_HOUR"] = 2
    try:
        assert submit(client, ip="198.51.100.3", phone="13900000001").status_code == 202
        assert submit(client, ip="198.51.100.3", business_name="x").status_code == 422  # invalid ones count too
        limited = submit(client, ip="198.51.100.3", phone="13900000002")
        assert limited.status_code == 429 and 0 < limited.json["retry_after"] <= 3600
        assert submit(client, ip="198.51.100.4", phone="13900000003").status_code == 202
    finally:
        app.config["ONBOARDING_PER_IP_HOUR"] = 10


def test_the_to_do_goes_to_the_manager_of_the_territory_that_covers_the_shop(client, line, session):
    from app.org.models import OrgKind
    from app.territories.models import Territory
    from tests.factories import OrgUnitFactory

    team = OrgUnitFactory(tenant=line["tenant"], kind=OrgKind.TEAM)
    manager = UserFactory(tenant=line["tenant"], role=Role.MANAGER, org_unit_id=team.id)
    far_team = OrgUnitFactory(tenant=line["tenant"], kind=OrgKind.TEAM)
    far_manager = UserFactory(tenant=line["tenant"], role=Role.MANAGER, org_unit_id=far_team.id)
    d = 0.01
    for unit, (lat, lng) in ((team, (LAT, LNG)), (far_team, (LAT + 1, LNG + 1))):
        session.add(
            Territory(
                tenant_id=line["tenant"].id,
                team_id=unit.id,
                name=f"around {unit.id}",
                area_m2=1.0,
                vertices=4,
                boundary=f"SRID=4326;MULTIPOLYGON((({lng - d} {lat - d},{lng + d} {lat - d},"
                f"{lng + d} {lat + d},{lng - d} {lat + d},{lng - d} {lat - d})))",
            )
        )
    session.commit()
    assert submit(client).status_code == 202
    assert [r.user_id for r in todos(line["tenant"])] == [manager.id]
    assert far_manager.id not in [r.user_id for r in todos(line["tenant"])]
    elsewhere = submit(
        client, ip="203.0.113.9", business_name="海边小卖部", phone="139 0000 1111", lat=LAT - 1, lng=LNG - 1
    )
    assert elsewhere.status_code == 202
    assert sorted(r.user_id for r in todos(line["tenant"])[1:]) == sorted(u.id for u in line["ops"])  # no territory
