"""Call logs: calls and messages are logged (idempotently), listed in scope and paged, shown in merchant detail
and the team views, counted as contact, and never treated as a visit."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select

from app import clock, db
from app.activities.schemas import ActivityPageSchema, ActivitySchema
from app.dashboard.schemas import DashboardTeamSchema
from app.merchants.models import AuditStatus, Contact, Lead, LeadState, Merchant
from app.merchants.schemas import MerchantDetailSchema
from app.org.models import OrgKind, Role
from app.tasks.models import AssignmentStatus, TaskAssignment
from app.visits.schemas import TeamDaySchema
from tests.factories import ContactFactory, MerchantFactory, OrgUnitFactory, TenantFactory, UserFactory, auth_headers


@pytest.fixture
def team(session):
    tenant = TenantFactory()
    unit = OrgUnitFactory(tenant=tenant, kind=OrgKind.TEAM)
    manager = UserFactory(tenant=tenant, role=Role.MANAGER, org_unit_id=unit.id)
    unit.manager_id = manager.id
    bd = UserFactory(tenant=tenant, org_unit_id=unit.id, manager_id=manager.id)
    colleague = UserFactory(tenant=tenant, org_unit_id=unit.id, manager_id=manager.id)
    outsider = UserFactory(tenant=tenant)
    shop = MerchantFactory(tenant=tenant, name="Dumpling King")
    owner = ContactFactory(merchant=shop, name="Mr Wang")
    stranger_shop = MerchantFactory(tenant=TenantFactory())
    session.commit()
    return {
        "tenant": tenant,
        "manager": manager,
        "bd": bd,
        "colleague": colleague,
        "outsider": outsider,
        "shop": shop,
        "owner": owner,
        "stranger_shop": stranger_shop,
    }


def log(client, user, key=None, **fields):
    body = {"merchant_id": fields.pop("merchant_id"), "kind": "call", "result": "connected", **fields}
    headers = auth_headers(user)
    if key:
        headers["Idempotency-Key"] = key
    return client.post("/api/v1/activities", json=body, headers=headers)


def test_a_call_with_a_contact_is_logged(client, team):
    at = clock.now() - timedelta(minutes=30)
    response = log(
        client,
        team["bd"],
        merchant_id=team["shop"].id,
        contact_id=team["owner"].id,
        duration_s=185,
        result="follow_up",
        notes="Wants numbers",
        occurred_at=at.isoformat(),
    )
    assert response.status_code == 201, response.json
    body = ActivitySchema().load(response.json)
    assert body["contact"] == {"id": team["owner"].id, "name": "Mr Wang"} and body["duration_s"] == 185
    assert body["occurred_at"] == at and body["user"]["id"] == team["bd"].id
    db.session.expire_all()
    assert db.session.get(Contact, team["owner"].id).last_contacted_at == at


def test_a_missed_call_is_logged_but_is_not_contact_with_the_person(client, team):
    response = log(client, team["bd"], merchant_id=team["shop"].id, contact_id=team["owner"].id, result="no_answer")
    assert response.status_code == 201
    db.session.expire_all()
    assert db.session.get(Contact, team["owner"].id).last_contacted_at is None


@pytest.mark.parametrize(
    ("fields", "status", "code"),
    [
        ({"kind": "visit"}, 422, "VALIDATION_ERROR"),
        ({"kind": "message", "result": "sent", "duration_s": 30}, 422, "VALIDATION_ERROR"),
        ({"result": "maybe"}, 422, "VALIDATION_ERROR"),
        ({"duration_s": -1}, 422, "VALIDATION_ERROR"),
        ({"occurred_at": "yesterday"}, 422, "VALIDATION_ERROR"),
        ({"occurred_at": "2026-11-20T10:00:00"}, 422, "VALIDATION_ERROR"),  # no timezone
        ({"contact_id": 987654321}, 422, "UNKNOWN_CONTACT"),
        ({"merchant_id": 987654321}, 404, "MERCHANT_NOT_FOUND"),
        ({"merchant_id": "stranger"}, 404, "MERCHANT_NOT_FOUND"),
        ({"notes": "x" * 2001}, 422, "VALIDATION_ERROR"),
    ],
)
def test_bad_activities_are_refused(client, team, fields, status, code):
    if fields.get("merchant_id") == "stranger":
        fields["merchant_id"] = team["stranger_shop"].id
    fields.setdefault("merchant_id", team["shop"].id)
    response = log(client, team["bd"], **fields)
    assert (response.status_code, response.json["error_code"]) == (status, code), response.json


def test_in_the_future_is_refused(client, team):
    later = (clock.now() + timedelta(hours=1)).isoformat()
    response = log(client, team["bd"], merchant_id=team["shop"].id, occurred_at=later)
    assert response.status_code == 422 and "occurred_at" in response.json["errors"]["json"]


def test_a_contact_of_another_merchant_is_refused(client, team, session):
    other = MerchantFactory(tenant=team["tenant"])
    theirs = ContactFactory(merchant=other)
    session.commit()
    response = log(client, team["bd"], merchant_id=team["shop"].id, contact_id=theirs.id)
    assert response.status_code == 422 and response.json["error_code"] == "UNKNOWN_CONTACT"


def test_retries_with_one_key_log_once(client, team):
    key = str(uuid.uuid4())
    first = log(client, team["bd"], key=key, merchant_id=team["shop"].id, duration_s=10)
    again = log(client, team["bd"], key=key, merchant_id=team["shop"].id, duration_s=10)
    assert first.status_code == again.status_code == 201
    assert first.json["id"] == again.json["id"] and again.headers["Idempotent-Replayed"] == "true"
    assert first.headers["Idempotent-Replayed"] == "false"
    other = log(client, team["bd"], key=key, merchant_id=team["shop"].id, duration_s=11)
    assert other.status_code == 409 and other.json["error_code"] == "IDEMPOTENCY_KEY_REUSED"
    # keys are per BD
    assert log(client, team["colleague"], key=key, merchant_id=team["shop"].id).json["id"] != first.json["id"]


def test_a_call_is_never_a_visit(client, team, session):
    claimed = clock.now() - timedelta(days=3)
    session.add(
        Lead(
            merchant_id=team["shop"].id,
            tenant_id=team["tenant"].id,
            state=LeadState.PRIVATE,
            owner_id=team["bd"].id,
            claimed_at=claimed,
            drops_at=claimed + timedelta(days=15),
            drop_reason="no_visit",
        )
    )
    session.commit()
    task = client.post(
        "/api/v1/tasks",
        json={"title": "Visit", "kind": "visit", "user_ids": [team["bd"].id], "merchant_id": team["shop"].id},
        headers=auth_headers(team["manager"]),
    ).json["id"]
    assert log(client, team["bd"], merchant_id=team["shop"].id).status_code == 201
    db.session.expire_all()
    lead = db.session.get(Lead, team["shop"].id)
    assert lead.last_visit_at is None and lead.drops_at == claimed + timedelta(days=15)
    assert db.session.get(Merchant, team["shop"].id).last_visit_at is None
    assignment = db.session.scalar(select(TaskAssignment).where(TaskAssignment.task_id == task))
    assert assignment.status == AssignmentStatus.ASSIGNED
    detail = client.get(f"/api/v1/merchants/{team['shop'].id}", headers=auth_headers(team["bd"])).json
    assert detail["visits"]["total"] == 0


def listed(client, viewer, **params):
    response = client.get("/api/v1/activities", query_string=params, headers=auth_headers(viewer))
    assert response.status_code == 200, response.json
    ActivityPageSchema().load(response.json)
    return response.json


def test_lists_are_scoped_paged_and_newest_first(client, team):
    now = clock.now()
    for minutes in (50, 40, 30):
        log(client, team["bd"], merchant_id=team["shop"].id, occurred_at=(now - timedelta(minutes=minutes)).isoformat())
    log(client, team["colleague"], merchant_id=team["shop"].id, kind="message", result="sent")
    log(client, team["outsider"], merchant_id=team["shop"].id)
    mine = listed(client, team["bd"], merchant_id=team["shop"].id)
    assert len(mine["items"]) == 3 and {i["user"]["id"] for i in mine["items"]} == {team["bd"].id}
    times = [i["occurred_at"] for i in mine["items"]]
    assert times == sorted(times, reverse=True)
    seen, cursor = [], None
    while True:
        page = listed(
            client, team["manager"], merchant_id=team["shop"].id, limit=2, **({"cursor": cursor} if cursor else {})
        )
        seen += [i["id"] for i in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert len(seen) == len(set(seen)) == 4  # the team's, not the outsider's
    assert [i["kind"] for i in listed(client, team["manager"], kind="message")["items"]] == ["message"]
    refused = client.get(
        "/api/v1/activities", query_string={"user_id": team["colleague"].id}, headers=auth_headers(team["bd"])
    )
    assert refused.status_code == 403 and refused.json["error_code"] == "NOT_IN_SCOPE"
    bad = client.get("/api/v1/activities", query_string={"cursor": "nope"}, headers=auth_headers(team["bd"]))
    assert bad.status_code == 400 and bad.json["error_code"] == "INVALID_CURSOR"


def test_merchant_detail_and_team_views_show_them(client, team):
    log(client, team["bd"], merchant_id=team["shop"].id, contact_id=team["owner"].id, duration_s=60)
    log(client, team["bd"], merchant_id=team["shop"].id, kind="message", result="sent", notes="menu sent")
    detail = client.get(f"/api/v1/merchants/{team['shop'].id}", headers=auth_headers(team["colleague"])).json
    MerchantDetailSchema().load(detail)
    section = detail["activities"]
    assert (section["total"], section["calls"], section["messages"]) == (2, 1, 1)
    assert section["recent"][0]["kind"] == "message" and section["recent"][0]["notes"] == "menu sent"
    assert section["recent"][1]["contact"] == {"id": team["owner"].id, "name": "Mr Wang"}

    dashboard = client.get("/api/v1/dashboard/team", headers=auth_headers(team["manager"])).json
    DashboardTeamSchema().load(dashboard)
    (row,) = [item for item in dashboard["items"] if item["user_id"] == team["bd"].id]
    assert (row["calls"], row["messages"], row["contacts"]) == (1, 1, 2)
    assert row["visits"] == {"verified": 0, "unverified": 0}
    assert dashboard["totals"]["contacts"] == 2

    day = client.get("/api/v1/team/visits", headers=auth_headers(team["manager"])).json
    TeamDaySchema().load(day)
    (member,) = [m for m in day["members"] if m["user"]["id"] == team["bd"].id]
    assert (member["calls"], member["messages"], member["total"]) == (1, 1, 0)


def test_a_merge_moves_the_duplicates_activities_to_the_survivor(client, team, session):
    gone = MerchantFactory(tenant=team["tenant"], name="Dumpling King (dup)")
    gone.audit_status = AuditStatus.PENDING
    ops = UserFactory(tenant=team["tenant"], role=Role.OPS)
    session.commit()
    log(client, team["bd"], merchant_id=gone.id)
    response = client.post(
        f"/api/v1/merchants/{gone.id}/audit",
        json={"action": "merge", "into_id": team["shop"].id},
        headers=auth_headers(ops),
    )
    assert response.status_code == 200, response.json
    (item,) = listed(client, team["bd"], merchant_id=team["shop"].id)["items"]
    assert item["merchant"]["id"] == team["shop"].id
