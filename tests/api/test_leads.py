"""The lead pool's rules, each endpoint, and the clocks under a controlled time."""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from freezegun import freeze_time
from sqlalchemy import select

from app import clock, db
from app.leads.jobs import remind_dropping_leads, sweep_due_leads
from app.leads.schemas import LeadHistorySchema, LeadSchema, MyLeadsSchema
from app.merchants.models import Lead, LeadEvent, LeadState
from app.org.models import OrgKind, Role
from app.reminders.models import Reminder
from app.sales.models import Deal
from app.tenants.models import Tenant
from tests.factories import MerchantFactory, OrgUnitFactory, TenantFactory, UserFactory, auth_headers

DAY = timedelta(days=1)


@pytest.fixture
def pool(session):
    tenant = TenantFactory()
    team = OrgUnitFactory(tenant=tenant, kind=OrgKind.TEAM)
    manager = UserFactory(tenant=tenant, role=Role.MANAGER, org_unit_id=team.id)
    bd = UserFactory(tenant=tenant, org_unit_id=team.id, manager_id=manager.id)
    colleague = UserFactory(tenant=tenant, org_unit_id=team.id, manager_id=manager.id)
    outsider = UserFactory(tenant=tenant)
    shops = [MerchantFactory(tenant=tenant, name=f"Shop {i}", lat=30.25 + i * 0.0001, lng=120.17) for i in range(6)]
    return {
        "tenant": tenant,
        "manager": manager,
        "bd": bd,
        "colleague": colleague,
        "outsider": outsider,
        "shops": shops,
        "shop": shops[0],
    }


def act(client, user, merchant, action, body=None):
    kwargs = {"json": body} if body is not None else {}
    return client.post(f"/api/v1/leads/{merchant.id}/{action}", headers=auth_headers(user), **kwargs)


def refusal(response, code):
    assert response.status_code == 409, response.json
    assert response.json["error_code"] == code
    return response.json


def lead(merchant):
    db.session.expire_all()
    return db.session.get(Lead, merchant.id)


def test_claim_makes_a_private_lead_with_clocks(client, pool):
    response = act(client, pool["bd"], pool["shop"], "claim")
    assert response.status_code == 200, response.json
    body = response.json
    LeadSchema().load(body)
    assert body["state"] == "private" and body["owner"]["id"] == pool["bd"].id
    assert body["drop_reason"] == "no_visit" and body["extensions_left"] == 2
    claimed = lead(pool["shop"]).claimed_at
    assert lead(pool["shop"]).drops_at == claimed + 15 * DAY
    refusal(act(client, pool["bd"], pool["shop"], "claim"), "ALREADY_YOURS")
    refusal(act(client, pool["colleague"], pool["shop"], "claim"), "LEAD_TAKEN")
    detail = client.get(f"/api/v1/merchants/{pool['shop'].id}", headers=auth_headers(pool["bd"])).json
    assert detail["sea"]["state"] == "private" and detail["sea"]["mine"] is True  # detail is fresh at once


def test_only_bds_claim(client, pool):
    response = act(client, pool["manager"], pool["shop"], "claim")
    assert response.status_code == 403


def test_claim_cap(client, pool, session):
    tenant = session.get(Tenant, pool["tenant"].id)
    tenant.settings = {"pool": {"claim_cap": 2}}
    session.commit()
    for shop in pool["shops"][:2]:
        assert act(client, pool["bd"], shop, "claim").status_code == 200
    body = refusal(act(client, pool["bd"], pool["shops"][2], "claim"), "CLAIM_CAP_REACHED")
    assert body["cap"] == 2
    # a BD's own signing waits for the manager: the lead still counts, so signing cannot hoard leads
    signing = {"contract_no": "C-1", "signed_at": clock.now().isoformat()}
    pending = act(client, pool["bd"], pool["shops"][0], "sign", signing)
    assert pending.status_code == 200 and pending.json["state"] == "private" and pending.json["sign_pending"]
    refusal(act(client, pool["bd"], pool["shops"][2], "claim"), "CLAIM_CAP_REACHED")
    # partners do not count
    assert act(client, pool["manager"], pool["shops"][0], "sign", signing).json["state"] == "partner"
    assert act(client, pool["bd"], pool["shops"][2], "claim").status_code == 200


def test_release_and_cooldown(client, pool):
    act(client, pool["bd"], pool["shop"], "claim")
    refusal(act(client, pool["colleague"], pool["shop"], "release", {"reason": "not mine"}), "NOT_OWNER")
    response = act(client, pool["bd"], pool["shop"], "release", {"reason": "closed for winter"})
    assert response.status_code == 200 and response.json["state"] == "public"
    body = refusal(act(client, pool["bd"], pool["shop"], "claim"), "RECLAIM_COOLDOWN")
    assert body["until"]
    # the detail and the nearby list say what the claim says
    detail = client.get(f"/api/v1/merchants/{pool['shop'].id}", headers=auth_headers(pool["bd"])).json
    assert detail["sea"]["claimable"] is False
    near = client.get(
        "/api/v1/merchants/nearby", query_string={"lat": 30.25, "lng": 120.17}, headers=auth_headers(pool["bd"])
    ).json
    assert [i["claimable"] for i in near["items"] if i["id"] == pool["shop"].id] == [False]
    assert act(client, pool["colleague"], pool["shop"], "claim").status_code == 200  # others may take it


def test_cooldown_ends_after_seven_days(client, pool):
    act(client, pool["bd"], pool["shop"], "claim")
    act(client, pool["bd"], pool["shop"], "release", {"reason": "x"})
    with freeze_time(clock.now() + 6 * DAY):
        refusal(act(client, pool["bd"], pool["shop"], "claim"), "RECLAIM_COOLDOWN")
    with freeze_time(clock.now() + 7 * DAY + timedelta(minutes=1)):
        assert act(client, pool["bd"], pool["shop"], "claim").status_code == 200


def test_self_extensions(client, pool):
    act(client, pool["bd"], pool["shop"], "claim")
    start = lead(pool["shop"]).drops_at
    for n in (1, 2):
        response = act(client, pool["bd"], pool["shop"], "extend")
        assert response.status_code == 200 and response.json["extensions_left"] == 2 - n
        assert lead(pool["shop"]).drops_at == start + n * 15 * DAY
    refusal(act(client, pool["bd"], pool["shop"], "extend"), "EXTENSIONS_EXHAUSTED")
    # the owner's manager may still extend, without using the BD's quota
    assert act(client, pool["manager"], pool["shop"], "extend").status_code == 200
    assert lead(pool["shop"]).drops_at == start + 45 * DAY
    refusal(act(client, pool["colleague"], pool["shop"], "extend"), "NOT_OWNER")


def test_assign_and_transfer(client, pool, session):
    response = act(client, pool["manager"], pool["shop"], "assign", {"user_id": pool["bd"].id})
    assert response.status_code == 200 and response.json["owner"]["id"] == pool["bd"].id
    response = act(
        client, pool["manager"], pool["shop"], "assign", {"user_id": pool["colleague"].id, "reason": "handover"}
    )
    assert response.json["owner"]["id"] == pool["colleague"].id
    forbidden = act(client, pool["manager"], pool["shop"], "assign", {"user_id": pool["outsider"].id})
    assert forbidden.status_code == 403 and forbidden.json["error_code"] == "NOT_IN_SCOPE"
    assert act(client, pool["bd"], pool["shop"], "assign", {"user_id": pool["bd"].id}).status_code == 403
    missing = act(client, pool["manager"], pool["shop"], "assign", {"user_id": 999999999})
    assert missing.status_code == 404 and missing.json["error_code"] == "USER_NOT_FOUND"
    actions = [
        (e.action, e.from_owner_id, e.to_owner_id)
        for e in session.scalars(
            select(LeadEvent).where(LeadEvent.merchant_id == pool["shop"].id).order_by(LeadEvent.id)
        )
    ]
    assert actions == [("assign", None, pool["bd"].id), ("transfer", pool["bd"].id, pool["colleague"].id)]


def test_assign_beyond_the_cap_needs_force(client, pool, session):
    tenant = session.get(Tenant, pool["tenant"].id)
    tenant.settings = {"pool": {"claim_cap": 1}}
    session.commit()
    act(client, pool["bd"], pool["shops"][0], "claim")
    body = {"user_id": pool["bd"].id}
    refusal(act(client, pool["manager"], pool["shops"][1], "assign", body), "CLAIM_CAP_REACHED")
    assert act(client, pool["manager"], pool["shops"][1], "assign", {**body, "force": True}).status_code == 200


def test_sign_makes_a_partner_without_clocks(client, pool):
    refusal(
        act(client, pool["bd"], pool["shop"], "sign", {"contract_no": "C-9", "signed_at": clock.now().isoformat()}),
        "NOT_OWNER",
    )
    act(client, pool["bd"], pool["shop"], "claim")
    signing = {"contract_no": "C-9", "signed_at": clock.now().isoformat()}
    requested = act(client, pool["bd"], pool["shop"], "sign", signing)
    assert requested.json["state"] == "private" and requested.json["sign_pending"] is True
    (todo,) = [
        t
        for t in client.get("/api/v1/todos", headers=auth_headers(pool["manager"])).json["items"]
        if t.get("kind") == "sign_confirmation"
    ]
    assert "C-9" in todo["title"]
    refusal(act(client, pool["colleague"], pool["shop"], "sign", signing), "NOT_OWNER")
    response = act(client, pool["manager"], pool["shop"], "sign", signing)
    assert response.status_code == 200
    assert response.json["state"] == "partner" and response.json["drops_at"] is None
    assert response.json["contract_no"] == "C-9"
    refusal(act(client, pool["bd"], pool["shop"], "release", {"reason": "x"}), "ALREADY_PARTNER")
    refusal(act(client, pool["colleague"], pool["shop"], "claim"), "ALREADY_PARTNER")
    with freeze_time(clock.now() + 400 * DAY):
        assert sweep_due_leads() == 0
    assert lead(pool["shop"]).state == LeadState.PARTNER


def test_mine_and_public_and_history(client, pool):
    act(client, pool["bd"], pool["shops"][1], "claim")
    act(client, pool["bd"], pool["shops"][2], "claim")
    act(client, pool["bd"], pool["shops"][2], "extend")
    mine = client.get("/api/v1/leads/mine", headers=auth_headers(pool["bd"])).json
    MyLeadsSchema().load(mine)
    assert [item["merchant"]["id"] for item in mine["items"]] == [pool["shops"][1].id, pool["shops"][2].id]
    assert mine["total"] == 2 and mine["cap"] == 100
    public = client.get(
        "/api/v1/leads/public", query_string={"lat": 30.25, "lng": 120.17}, headers=auth_headers(pool["colleague"])
    ).json
    assert {item["id"] for item in public["items"]} == {s.id for s in pool["shops"]} - {
        pool["shops"][1].id,
        pool["shops"][2].id,
    }
    assert all(item["claimable"] for item in public["items"])
    history = client.get(f"/api/v1/leads/{pool['shops'][2].id}/history", headers=auth_headers(pool["manager"])).json
    LeadHistorySchema().load(history)
    assert [e["action"] for e in history["items"]] == ["claim", "extend"]
    assert history["items"][1]["details"]["by_manager"] is False


@pytest.mark.parametrize(
    ("action", "body"),
    [
        ("release", {}),
        ("release", {"reason": ""}),
        ("assign", {}),
        ("assign", {"user_id": "x"}),
        ("sign", {"contract_no": "C"}),
        ("sign", {"contract_no": "C", "signed_at": "2026-01-01"}),
    ],
)
def test_bad_bodies_are_422(client, pool, action, body):
    who = pool["manager"] if action == "assign" else pool["bd"]
    assert act(client, who, pool["shop"], action, body).status_code == 422


def test_unknown_or_foreign_merchant_is_404(client, pool):
    foreign = MerchantFactory(tenant=TenantFactory())
    for merchant_id in (foreign.id, 987654321):
        response = client.post(f"/api/v1/leads/{merchant_id}/claim", headers=auth_headers(pool["bd"]))
        assert response.status_code == 404


# --- clocks under a controlled time -----------------------------------------------------------------


def check_in(client, user, merchant, at):
    return client.post(
        "/api/v1/visits",
        headers={**auth_headers(user), "Idempotency-Key": str(uuid.uuid4())},
        json={"merchant_id": merchant.id, "lat": 30.25, "lng": 120.17, "accuracy_m": 5, "client_time": at.isoformat()},
    )


def test_no_visit_clock_drops_after_15_days(client, pool):
    t0 = clock.now()
    act(client, pool["bd"], pool["shop"], "claim")
    with freeze_time(t0 + 15 * DAY - timedelta(minutes=1)):
        assert sweep_due_leads() == 0
    with freeze_time(t0 + 15 * DAY + timedelta(minutes=1)):
        assert sweep_due_leads() == 1
    dropped = lead(pool["shop"])
    assert dropped.state == LeadState.PUBLIC and dropped.owner_id is None
    event = db.session.scalars(
        select(LeadEvent).where(LeadEvent.merchant_id == pool["shop"].id, LeadEvent.action == "drop")
    ).one()
    assert event.from_owner_id == pool["bd"].id and event.reason == "no_visit"


def test_visits_hand_over_to_the_signing_clock_then_the_term(client, pool, session):
    t0 = clock.now()
    act(client, pool["bd"], pool["shop"], "claim")
    with freeze_time(t0 + 10 * DAY):
        assert check_in(client, pool["bd"], pool["shop"], clock.now()).json["verified"]
    current = lead(pool["shop"])
    assert current.last_visit_at == t0 + 10 * DAY
    assert (current.drops_at, current.drop_reason) == (current.last_visit_at + 15 * DAY, "no_visit")
    with freeze_time(t0 + 20 * DAY):
        check_in(client, pool["bd"], pool["shop"], clock.now())
    assert lead(pool["shop"]).drop_reason == "no_signing"  # 30 days after the claim comes first now
    tenant = session.get(Tenant, pool["tenant"].id)
    tenant.settings = {"pool": {"no_sign_days": 90}}
    session.commit()
    with freeze_time(t0 + 40 * DAY):
        check_in(client, pool["bd"], pool["shop"], clock.now())
    assert lead(pool["shop"]).drop_reason == "term_end"


def test_unverified_visits_do_not_save_a_lead(client, pool):
    t0 = clock.now()
    act(client, pool["bd"], pool["shop"], "claim")
    with freeze_time(t0 + 10 * DAY):
        far = client.post(
            "/api/v1/visits",
            headers={**auth_headers(pool["bd"]), "Idempotency-Key": str(uuid.uuid4())},
            json={
                "merchant_id": pool["shop"].id,
                "lat": 30.30,
                "lng": 120.17,
                "accuracy_m": 5,
                "client_time": clock.now().isoformat(),
            },
        )
        assert far.json["verified"] is False
    with freeze_time(t0 + 15 * DAY + timedelta(minutes=1)):
        assert sweep_due_leads() == 1


def test_extension_after_drop_time_is_refused(client, pool):
    t0 = clock.now()
    act(client, pool["bd"], pool["shop"], "claim")
    with freeze_time(t0 + 16 * DAY):  # due, not yet swept
        refusal(act(client, pool["bd"], pool["shop"], "extend"), "LEAD_DROPPED")
        refusal(act(client, pool["bd"], pool["shop"], "release", {"reason": "x"}), "LEAD_DROPPED")


def test_drop_starts_the_cooldown(client, pool):
    t0 = clock.now()
    act(client, pool["bd"], pool["shop"], "claim")
    with freeze_time(t0 + 16 * DAY):
        sweep_due_leads()
        refusal(act(client, pool["bd"], pool["shop"], "claim"), "RECLAIM_COOLDOWN")
    with freeze_time(t0 + 23 * DAY + timedelta(hours=1)):
        assert act(client, pool["bd"], pool["shop"], "claim").status_code == 200


def test_sweep_is_idempotent_and_batched(client, pool):
    t0 = clock.now()
    for shop in pool["shops"]:
        act(client, pool["bd"], shop, "claim")
    with freeze_time(t0 + 20 * DAY):
        assert sweep_due_leads(batch=2) == 6
        assert sweep_due_leads(batch=2) == 0
    drops = db.session.scalars(
        select(LeadEvent).where(LeadEvent.action == "drop", LeadEvent.from_owner_id == pool["bd"].id)
    ).all()
    assert len(drops) == 6


def test_reminders_three_days_and_one_day_before_each_once(client, pool):
    t0 = clock.now()
    act(client, pool["bd"], pool["shop"], "claim")  # drops at t0 + 15 days
    with freeze_time(t0 + 11 * DAY):
        assert remind_dropping_leads() == 0
    with freeze_time(t0 + 12 * DAY + timedelta(hours=1)):
        assert remind_dropping_leads() == 1
        assert remind_dropping_leads() == 0
    with freeze_time(t0 + 14 * DAY + timedelta(hours=1)):
        assert remind_dropping_leads() == 1
        assert remind_dropping_leads() == 0
    reminders = db.session.scalars(
        select(Reminder).where(Reminder.user_id == pool["bd"].id).order_by(Reminder.id)
    ).all()
    assert [r.title.split(":")[0] for r in reminders] == ["Lead drops in 3 days", "Lead drops in 1 day"]
    assert all(r.kind == "lead_dropping" and r.merchant_id == pool["shop"].id for r in reminders)


def test_a_bds_signing_is_final_where_the_business_line_turns_confirmation_off(client, pool, session):
    pool["tenant"].settings = {"pool": {"signing": "none"}}
    session.commit()
    act(client, pool["bd"], pool["shop"], "claim")
    response = act(
        client, pool["bd"], pool["shop"], "sign", {"contract_no": "C-2", "signed_at": clock.now().isoformat()}
    )
    assert response.json["state"] == "partner" and response.json["sign_pending"] is False


def test_a_manager_cannot_take_another_teams_lead(client, pool, session):
    other_team = OrgUnitFactory(tenant=pool["tenant"], kind=OrgKind.TEAM)
    other_manager = UserFactory(tenant=pool["tenant"], role=Role.MANAGER, org_unit_id=other_team.id)
    other_bd = UserFactory(tenant=pool["tenant"], org_unit_id=other_team.id, manager_id=other_manager.id)
    act(client, pool["bd"], pool["shop"], "claim")
    taken = act(client, other_manager, pool["shop"], "assign", {"user_id": other_bd.id})
    assert (taken.status_code, taken.json["error_code"]) == (403, "NOT_IN_SCOPE")
    assert "lead belongs to a BD outside your team" in taken.json["message"]
    assert lead(pool["shop"]).owner_id == pool["bd"].id
    # a public lead is anyone's to hand out
    assert act(client, other_manager, pool["shops"][1], "assign", {"user_id": other_bd.id}).status_code == 200


def test_a_contract_on_record_verifies_a_bds_signing(client, pool, session):
    pool["tenant"].settings = {"pool": {"signing": "contract"}}
    session.add(
        Deal(
            merchant_id=pool["shop"].id,
            tenant_id=pool["tenant"].id,
            external_id="HZ-77",
            title="Set menu",
            price=Decimal("39.00"),
        )
    )
    session.commit()
    for shop in pool["shops"][:2]:
        act(client, pool["bd"], shop, "claim")
    on_record = act(
        client, pool["bd"], pool["shop"], "sign", {"contract_no": "HZ-77", "signed_at": clock.now().isoformat()}
    )
    assert on_record.json["state"] == "partner"
    made_up = act(
        client, pool["bd"], pool["shops"][1], "sign", {"contract_no": "HZ-78", "signed_at": clock.now().isoformat()}
    )
    assert made_up.json["state"] == "private" and made_up.json["sign_pending"] is True
