"""Life after signing: contracts recorded at signing, changed and ended (logged), the hand-over to an ops
account owner, renewal reminders, and ended deals in the detail's sales history."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from app import clock, db
from app.audit.models import AuditEntry
from app.merchants.models import Lead, LeadEvent
from app.reminders.models import Reminder
from app.sales.contracts import remind_contract_renewals
from app.sales.models import Contract, Deal
from tests.factories import MerchantFactory, auth_headers, make_org


@pytest.fixture
def partner(client, session):
    """bd1 claimed the shop and their manager signed it with the contract's terms."""
    org = make_org()
    shop = MerchantFactory(tenant=org["tenant"], name="Tea house")
    assert client.post(f"/api/v1/leads/{shop.id}/claim", headers=auth_headers(org["bd1"])).status_code == 200
    signed = client.post(
        f"/api/v1/leads/{shop.id}/sign",
        headers=auth_headers(org["manager"]),
        json={
            "contract_no": "HZ-1",
            "signed_at": clock.now().isoformat(),
            "contract_type": "group_buy",
            "starts_on": "2026-12-01",
            "ends_on": "2027-11-30",
        },
    )
    assert signed.status_code == 200, signed.json
    return {**org, "shop": shop}


def contracts_of(shop):
    db.session.expire_all()
    return db.session.scalars(select(Contract).where(Contract.merchant_id == shop.id)).all()


def test_signing_records_the_contract(partner):
    (contract,) = contracts_of(partner["shop"])
    assert (contract.number, contract.type, contract.ends_on) == ("HZ-1", "group_buy", date(2027, 11, 30))
    assert contract.signed_by_id == partner["bd1"].id and contract.status == "active"


def test_a_signing_without_terms_records_none(client, session):
    org = make_org()
    shop = MerchantFactory(tenant=org["tenant"])
    client.post(f"/api/v1/leads/{shop.id}/claim", headers=auth_headers(org["bd1"]))
    body = {"contract_no": "HZ-2", "signed_at": clock.now().isoformat()}
    assert (
        client.post(f"/api/v1/leads/{shop.id}/sign", headers=auth_headers(org["manager"]), json=body).status_code == 200
    )
    assert contracts_of(shop) == []
    bad = {**body, "contract_type": "group_buy", "starts_on": "2026-12-01", "ends_on": "2026-01-01"}
    assert (
        client.post(f"/api/v1/leads/{shop.id}/sign", headers=auth_headers(org["manager"]), json=bad).status_code == 422
    )


def test_contract_changes_are_logged_and_ended_ones_stay_in_the_detail(client, partner, session):
    shop, bd = partner["shop"], partner["bd1"]
    (contract,) = contracts_of(shop)
    url = f"/api/v1/merchants/{shop.id}/contracts/{contract.id}"
    renewed = client.patch(url, headers=auth_headers(bd), json={"ends_on": "2028-11-30", "reason": "Renewed"})
    assert renewed.status_code == 200 and renewed.json["ends_on"] == "2028-11-30"
    ended = client.patch(url, headers=auth_headers(partner["manager"]), json={"status": "terminated"})
    assert ended.json["status"] == "terminated"
    second = client.post(
        f"/api/v1/merchants/{shop.id}/contracts",
        headers=auth_headers(bd),
        json={"number": "HZ-9", "type": "prepaid", "starts_on": "2027-01-01", "ends_on": None},
    )
    assert second.status_code == 201, second.json
    duplicate = client.post(
        f"/api/v1/merchants/{shop.id}/contracts",
        headers=auth_headers(bd),
        json={"number": "HZ-9", "type": "prepaid", "starts_on": "2027-01-01"},
    )
    assert duplicate.status_code == 409 and duplicate.json["error_code"] == "CONTRACT_EXISTS"
    history = client.get(f"/api/v1/leads/{shop.id}/history", headers=auth_headers(bd)).json["items"]
    changes = [e for e in history if e["action"] == "contract_change"]
    assert [c["details"]["changes"] for c in changes] == [
        {"ends_on": {"from": "2027-11-30", "to": "2028-11-30"}},
        {"status": {"from": "active", "to": "terminated"}},
    ]
    assert changes[0]["reason"] == "Renewed"
    actions = set(session.scalars(select(AuditEntry.action).where(AuditEntry.tenant_id == partner["tenant"].id)))
    assert {"contract.change", "contract.create"} <= actions
    session.add(
        Deal(
            tenant_id=partner["tenant"].id,
            merchant_id=shop.id,
            title="Old set",
            price=20,
            status="ended",
            ended_at=date(2026, 6, 30),
        )
    )
    session.add(Deal(tenant_id=partner["tenant"].id, merchant_id=shop.id, title="Lunch", price=30))
    session.commit()
    detail = client.get(f"/api/v1/merchants/{shop.id}", headers=auth_headers(bd)).json
    sales = detail["sales"]
    assert [d["title"] for d in sales["active_deals"]] == ["Lunch"]
    assert [d["title"] for d in sales["ended_deals"]] == ["Old set"]
    assert {(c["number"], c["status"]) for c in sales["contracts"]} == {("HZ-1", "terminated"), ("HZ-9", "active")}


def test_only_the_owner_their_managers_and_ops_change_contracts(client, partner):
    shop = partner["shop"]
    (contract,) = contracts_of(shop)
    url = f"/api/v1/merchants/{shop.id}/contracts/{contract.id}"
    assert (
        client.patch(url, headers=auth_headers(partner["outsider"]), json={"ends_on": "2030-01-01"}).status_code == 403
    )
    assert (
        client.patch(url, headers=auth_headers(partner["other_manager"]), json={"status": "ended"}).status_code == 403
    )
    assert client.patch(url, headers=auth_headers(partner["stranger"]), json={"status": "ended"}).status_code == 404
    other = MerchantFactory(tenant=partner["tenant"])
    wrong = client.patch(
        f"/api/v1/merchants/{other.id}/contracts/{contract.id}",
        headers=auth_headers(partner["ops"]),
        json={"status": "ended"},
    )
    assert wrong.status_code == 404 and wrong.json["error_code"] == "CONTRACT_NOT_FOUND"


def test_handover_to_ops_keeps_the_bds_read_access(client, partner, session):
    shop, bd, ops = partner["shop"], partner["bd1"], partner["ops"]
    response = client.post(
        f"/api/v1/merchants/{shop.id}/handover",
        headers=auth_headers(partner["manager"]),
        json={"user_id": ops.id, "reason": "Ops runs it"},
    )
    assert response.status_code == 200, response.json
    assert response.json == {"merchant_id": shop.id, "owner_id": bd.id, "account_owner_id": ops.id}
    detail = client.get(f"/api/v1/merchants/{shop.id}", headers=auth_headers(bd)).json
    assert detail["sea"]["account_owner"]["id"] == ops.id and detail["sea"]["owner"]["id"] == bd.id
    assert detail["phones_masked"] is False  # the BD still reads the account in full
    assert session.scalars(select(Reminder).where(Reminder.kind == "account_handover")).one().user_id == ops.id
    events = [e.action for e in session.scalars(select(LeadEvent).where(LeadEvent.merchant_id == shop.id))]
    assert events[-1] == "handover"
    not_ops = client.post(
        f"/api/v1/merchants/{shop.id}/handover", headers=auth_headers(partner["manager"]), json={"user_id": bd.id}
    )
    assert not_ops.status_code == 404 and not_ops.json["error_code"] == "USER_NOT_FOUND"
    private = MerchantFactory(tenant=partner["tenant"])
    client.post(f"/api/v1/leads/{private.id}/claim", headers=auth_headers(bd))
    refused = client.post(
        f"/api/v1/merchants/{private.id}/handover", headers=auth_headers(partner["manager"]), json={"user_id": ops.id}
    )
    assert refused.status_code == 409 and refused.json["error_code"] == "NOT_PARTNER"


def test_renewal_reminders_come_n_days_before_the_end_once(client, partner, session):
    shop = partner["shop"]
    tenant = db.session.get(type(partner["tenant"]), partner["tenant"].id)
    tenant.settings = {"contracts": {"renewal_reminder_days": 10}}
    session.commit()
    end = date(2027, 11, 30)
    assert remind_contract_renewals(today=end - timedelta(days=11)) == 0
    assert remind_contract_renewals(today=end - timedelta(days=10)) == 1
    assert remind_contract_renewals(today=end - timedelta(days=9)) == 0  # once per end date
    reminder = session.scalars(select(Reminder).where(Reminder.kind == "contract_renewal")).one()
    assert reminder.user_id == partner["bd1"].id and "HZ-1" in reminder.title
    # after a hand-over the account owner gets them; a renewal (new end date) reminds again
    ops = partner["ops"]
    client.post(
        f"/api/v1/merchants/{shop.id}/handover", headers=auth_headers(partner["manager"]), json={"user_id": ops.id}
    )
    (contract,) = contracts_of(shop)
    client.patch(
        f"/api/v1/merchants/{shop.id}/contracts/{contract.id}",
        headers=auth_headers(ops),
        json={"ends_on": "2028-11-30"},
    )
    assert remind_contract_renewals(today=date(2028, 11, 25)) == 1
    latest = session.scalars(
        select(Reminder).where(Reminder.kind == "contract_renewal").order_by(Reminder.id.desc())
    ).first()
    assert latest.user_id == ops.id
    assert db.session.get(Lead, shop.id).account_owner_id == ops.id


def test_renewal_reminder_setting_is_validated(client, partner):
    headers = auth_headers(partner["admin"])
    bad = client.patch("/api/v1/tenant/settings", headers=headers, json={"contracts": {"renewal_reminder_days": 0}})
    assert bad.status_code == 422
    good = client.patch("/api/v1/tenant/settings", headers=headers, json={"contracts": {"renewal_reminder_days": 45}})
    assert good.json["contracts"] == {"renewal_reminder_days": 45}
