"""HQ strategy campaigns: the filter, preview, launch (owner, territory BDs, manager, skipped), re-launch, results
and outcomes, and who may do what (manager subtree, other tenant, BDs)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from app import clock, db
from app.merchants.models import Lead, LeadState
from app.outbox.models import OutboxMessage
from app.tasks.models import Task, TaskAssignment
from app.territories.models import Territory, TerritoryMember
from tests.factories import MerchantFactory, UserFactory, auth_headers, make_org

SQUARE = "SRID=4326;MULTIPOLYGON((({a} {b},{c} {b},{c} {d},{a} {d},{a} {b})))"


def territory(org, team, lng, lat, members=()):
    area = Territory(
        tenant_id=org["tenant"].id,
        team_id=team.id,
        name=f"T {lng}",
        area_m2=1.0,
        vertices=4,
        created_by_id=org["manager"].id,
        boundary=SQUARE.format(a=lng - 0.01, b=lat - 0.01, c=lng + 0.01, d=lat + 0.01),
    )
    db.session.add(area)
    db.session.flush()
    for user in members:
        db.session.add(TerritoryMember(tenant_id=org["tenant"].id, territory_id=area.id, user_id=user.id))
    return area


@pytest.fixture
def world(session):
    org = make_org()
    tenant = org["tenant"]
    org["other_team"].manager_id = org["other_manager"].id

    def shop(name, gap, lat=30.0, lng=120.0, city="杭州市", owner=None, state=LeadState.PRIVATE):
        merchant = MerchantFactory(
            tenant=tenant,
            name=name,
            city=city,
            lat=lat,
            lng=lng,
            price_gap=Decimal(gap),
            tags=["price_disadvantage"] if gap > 10 else [],
        )
        if owner is not None:
            session.add(Lead(merchant_id=merchant.id, tenant_id=tenant.id, state=state, owner_id=owner.id))
        return merchant

    covered_bd = UserFactory(tenant=tenant, org_unit_id=org["team"].id)
    shops = {
        "bd1": shop("bd1's", 20, owner=org["bd1"]),
        "bd2": shop("bd2's", 30, city="宁波市", owner=org["bd2"]),
        "outsider": shop("outsider's", 25, owner=org["outsider"], state=LeadState.PARTNER),
        "public_covered": shop("public in a staffed territory", 40, lat=31.0, lng=121.0),
        "public_unstaffed": shop("public in an empty territory", 15, lat=32.0, lng=122.0),
        "public_nowhere": shop("public nowhere", 50, lat=33.0, lng=123.0),
        "small_gap": shop("small gap", 5, owner=org["bd1"]),
    }
    gone = UserFactory(tenant=tenant, org_unit_id=org["team"].id, is_active=False)
    territory(org, org["team"], 121.0, 31.0, members=[covered_bd, gone])
    territory(org, org["other_team"], 122.0, 32.0)
    session.commit()
    return {**org, "shops": shops, "covered_bd": covered_bd}


BODY = {
    "name": "Price gaps",
    "filter": {"tags": ["price_disadvantage"], "min_price_gap": 12},
    "template": {
        "kind": "price_adjust",
        "title": "Match their price",
        "due_days": 3,
        "feedback_form": {"question": "Price adjusted?", "options": ["yes", "no"]},
    },
}


def post(client, user, path, body=None):
    return client.post(f"/api/v1{path}", json=body, headers=auth_headers(user))


def assignments_by_merchant(campaign_id):
    db.session.expire_all()
    rows = db.session.execute(
        select(TaskAssignment.merchant_id, TaskAssignment.assignee_id)
        .join(Task, Task.id == TaskAssignment.task_id)
        .where(Task.target["campaign_id"].as_integer() == campaign_id)
    ).all()
    found: dict[int, set[int]] = {}
    for merchant_id, assignee_id in rows:
        found.setdefault(merchant_id, set()).add(assignee_id)
    return found


def test_preview_launch_and_relaunch(client, world):
    ops, shops = world["ops"], world["shops"]
    created = post(client, ops, "/campaigns", BODY)
    assert created.status_code == 201, created.json
    campaign_id = created.json["id"]

    preview = post(client, ops, f"/campaigns/{campaign_id}/preview")
    assert preview.status_code == 200, preview.json
    assert (preview.json["matches"], preview.json["new_matches"]) == (6, 6)
    # the largest gaps first
    assert [m["id"] for m in preview.json["sample"][:2]] == [shops["public_nowhere"].id, shops["public_covered"].id]

    launched = post(client, ops, f"/campaigns/{campaign_id}/launch")
    assert launched.status_code == 200, launched.json
    assert launched.json["tasks_created"] == 5
    assert launched.json["skipped_merchant_ids"] == [shops["public_nowhere"].id]
    assert assignments_by_merchant(campaign_id) == {
        shops["bd1"].id: {world["bd1"].id},
        shops["bd2"].id: {world["bd2"].id},
        shops["outsider"].id: {world["outsider"].id},
        shops["public_covered"].id: {world["covered_bd"].id},  # the inactive member is left out
        shops["public_unstaffed"].id: {world["other_manager"].id},  # no BDs there: the team's manager
    }
    # the pushes go through the fan-out's outbox job
    assert (
        db.session.scalar(
            select(OutboxMessage)
            .where(OutboxMessage.job == "app.tasks.jobs.push_many")
            .order_by(OutboxMessage.id.desc())
        )
        is not None
    )

    # nothing new: a re-launch creates nothing; a new match is the only one reached next time
    assert post(client, ops, f"/campaigns/{campaign_id}/launch").json["tasks_created"] == 0
    newcomer = MerchantFactory(tenant=world["tenant"], price_gap=Decimal(60), tags=["price_disadvantage"])
    db.session.add(
        Lead(merchant_id=newcomer.id, tenant_id=world["tenant"].id, state=LeadState.PRIVATE, owner_id=world["bd1"].id)
    )
    db.session.commit()
    assert post(client, ops, f"/campaigns/{campaign_id}/preview").json["new_matches"] == 2  # with the skipped one
    again = post(client, ops, f"/campaigns/{campaign_id}/launch").json
    assert (again["launch"], again["tasks_created"]) == (3, 1)
    assert set(assignments_by_merchant(campaign_id)) == {
        *(s.id for k, s in shops.items() if k not in ("public_nowhere", "small_gap")),
        newcomer.id,
    }

    listed = client.get("/api/v1/campaigns", headers=auth_headers(ops)).json["items"]
    assert [(c["id"], c["launches"]) for c in listed] == [(campaign_id, 3)]


def test_each_filter(client, world):
    ops, shops = world["ops"], world["shops"]
    area = db.session.scalar(select(Territory).where(Territory.team_id == world["team"].id))

    def matches(**spec):
        campaign = post(client, ops, "/campaigns", {**BODY, "filter": spec})
        assert campaign.status_code == 201, campaign.json
        sample = post(client, ops, f"/campaigns/{campaign.json['id']}/preview").json["sample"]
        return {m["id"] for m in sample}

    assert matches(city="宁波市") == {shops["bd2"].id}
    assert matches(pool_state="partner") == {shops["outsider"].id}
    assert matches(territory_id=area.id) == {shops["public_covered"].id}
    assert matches(min_price_gap=45) == {shops["public_nowhere"].id}
    assert len(matches(unvisited_days=30)) == 7
    assert matches(attributes={"floor": 2}) == set()


def test_results_by_city_team_and_bd_with_outcomes(client, world):
    ops = world["ops"]
    campaign_id = post(client, ops, "/campaigns", {**BODY, "filter": {"pool_state": "private"}}).json["id"]
    assert post(client, ops, f"/campaigns/{campaign_id}/launch").json["tasks_created"] == 3
    mine = {
        user: db.session.scalar(
            select(TaskAssignment.id).where(
                TaskAssignment.assignee_id == world[user].id,
                TaskAssignment.payload["campaign_id"].as_integer() == campaign_id,
            )
        )
        for user in ("bd1", "bd2")
    }
    bd1, bd2 = world["bd1"], world["bd2"]
    # a done task answers the feedback form; an answer outside its options is refused
    wrong = post(client, bd1, f"/todos/a{mine['bd1']}/done", {"outcome": "maybe"})
    assert wrong.status_code == 422 and "outcome" in wrong.json["errors"]["json"]
    small = db.session.scalar(
        select(TaskAssignment.id).where(TaskAssignment.assignee_id == bd1.id, TaskAssignment.id != mine["bd1"])
    )
    assert post(client, bd1, f"/todos/a{mine['bd1']}/done", {"outcome": "yes"}).status_code == 200
    assert post(client, bd2, f"/todos/a{mine['bd2']}/reject", {"feedback": "Owner refuses"}).status_code == 200
    assert small is not None
    # the third (bd1's small-gap shop) is overdue after the due days
    db.session.execute(Task.__table__.update().values(due_at=clock.now() - timedelta(hours=1)))
    db.session.commit()

    by_city = client.get(f"/api/v1/campaigns/{campaign_id}/results", headers=auth_headers(ops)).json
    assert by_city["outcome_question"] == "Price adjusted?"
    rows = {row["key"]: row for row in by_city["items"]}
    assert {k: (r["assigned"], r["done"], r["rejected"], r["overdue"]) for k, r in rows.items()} == {
        "杭州市": (2, 1, 0, 1),
        "宁波市": (1, 0, 1, 0),
    }
    assert rows["杭州市"]["outcomes"] == {"yes": 1}
    assert rows["宁波市"]["rejection_reasons"] == [{"reason": "Owner refuses", "count": 1}]
    assert by_city["totals"] == {
        "assigned": 3,
        "accepted": 0,
        "done": 1,
        "rejected": 1,
        "overdue": 1,
        "outcomes": {"yes": 1},
    }
    by_bd = client.get(f"/api/v1/campaigns/{campaign_id}/results?group_by=bd", headers=auth_headers(ops)).json
    assert {row["key"]: row["assigned"] for row in by_bd["items"]} == {str(bd1.id): 2, str(bd2.id): 1}
    by_team = client.get(f"/api/v1/campaigns/{campaign_id}/results?group_by=team", headers=auth_headers(ops)).json
    assert {row["key"]: row["done"] for row in by_team["items"]} == {str(world["team"].id): 1, str(world["sub"].id): 0}
    bad = client.get(f"/api/v1/campaigns/{campaign_id}/results?group_by=moon", headers=auth_headers(ops))
    assert bad.status_code == 422


def test_who_may(client, world):
    manager, other_manager = world["manager"], world["other_manager"]
    # a manager's campaign reaches only their subtree's leads (bd1, bd2; not the outsider nor public ones)
    campaign_id = post(client, manager, "/campaigns", BODY).json["id"]
    preview = post(client, manager, f"/campaigns/{campaign_id}/preview").json
    assert {m["id"] for m in preview["sample"]} == {world["shops"]["bd1"].id, world["shops"]["bd2"].id}
    launched = post(client, manager, f"/campaigns/{campaign_id}/launch").json
    assert launched["tasks_created"] == 2
    # another subtree's manager and another tenant do not see it
    for stranger in (other_manager, world["stranger"]):
        for action in ("preview", "launch"):
            refused = post(client, stranger, f"/campaigns/{campaign_id}/{action}")
            assert refused.status_code == 404 and refused.json["error_code"] == "CAMPAIGN_NOT_FOUND"
        assert client.get("/api/v1/campaigns", headers=auth_headers(stranger)).json["items"] == []
    # ops see every campaign of the business line
    seen = client.get("/api/v1/campaigns", headers=auth_headers(world["ops"])).json["items"]
    assert [c["id"] for c in seen] == [campaign_id]
    # a territory outside the manager's subtree is refused; BDs may not run campaigns
    foreign = db.session.scalar(select(Territory.id).where(Territory.team_id == world["other_team"].id))
    refused = post(client, manager, "/campaigns", {**BODY, "filter": {"territory_id": foreign}})
    assert refused.status_code == 422 and refused.json["error_code"] == "UNKNOWN_TERRITORY"
    assert post(client, world["bd1"], "/campaigns", BODY).status_code == 403


def test_price_disadvantage_filters_nearby(client, world):
    response = client.get(
        "/api/v1/merchants/nearby",
        query_string={"lat": 30.0, "lng": 120.0, "radius_m": 1000, "tag": "price_disadvantage"},
        headers=auth_headers(world["bd1"]),
    )
    assert response.status_code == 200, response.json
    shops = world["shops"]
    assert {item["id"] for item in response.json["items"]} == {
        s.id for s in (shops["bd1"], shops["bd2"], shops["outsider"])
    }
