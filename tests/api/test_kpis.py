"""KPIs per BD and team, monthly targets with progress, the leaderboard, and their scope."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from decimal import Decimal

import pytest

from app import clock
from app.dashboard.kpi_schemas import KpiReportSchema, LeaderboardSchema
from app.sales.models import SalesMonth
from app.tasks.models import AssignmentStatus, Task, TaskAssignment, TaskKind
from app.visits.models import Visit
from tests.factories import MerchantFactory, auth_headers, make_org, point

DAY = timedelta(days=1)


@pytest.fixture
def world(client, session):
    org = make_org()
    tenant = org["tenant"]
    zone = tenant.zone
    today = clock.now().astimezone(zone).date()
    yesterday = today - DAY
    shops = [MerchantFactory(tenant=tenant, name=f"Shop {i}", lat=30.26, lng=120.16) for i in range(4)]
    added = MerchantFactory(tenant=tenant, name="Found in the street", created_by_id=org["bd1"].id)

    def visit(user, shop, day, verified, n):
        session.add(
            Visit(
                tenant_id=tenant.id,
                merchant_id=shop.id,
                user_id=user.id,
                idempotency_key=f"kpi-{user.id}-{n}",
                request_hash="x",
                client_time=datetime.combine(day, time(11, 0), tzinfo=zone),
                location=point(30.26, 120.16),
                verified=verified,
            )
        )

    # bd1: 3 visits today (2 verified, 2 distinct shops), 1 yesterday; bd2 (sub-team): 1 today
    visit(org["bd1"], shops[0], today, True, 1)
    visit(org["bd1"], shops[0], today, True, 2)
    visit(org["bd1"], shops[1], today, False, 3)
    visit(org["bd1"], shops[2], yesterday, True, 4)
    visit(org["bd2"], shops[1], today, True, 5)
    visit(org["outsider"], shops[3], today, True, 6)
    task = Task(
        tenant_id=tenant.id,
        creator_id=org["manager"].id,
        title="Check menus",
        kind=TaskKind.VISIT,
        body="",
        priority=0,
        target={},
        due_at=datetime.combine(today, time(18, 0), tzinfo=zone),
    )
    session.add(task)
    session.flush()
    session.add_all(
        [
            TaskAssignment(
                tenant_id=tenant.id,
                task_id=task.id,
                assignee_id=org["bd1"].id,
                payload={},
                status=AssignmentStatus.DONE,
                completed_at=clock.now(),
            ),
            TaskAssignment(tenant_id=tenant.id, task_id=task.id, assignee_id=org["bd2"].id, payload={}),
        ]
    )
    session.add(
        SalesMonth(
            tenant_id=tenant.id, merchant_id=shops[0].id, month=today.replace(day=1), orders=10, gmv=Decimal("1234.50")
        )
    )
    session.commit()
    headers = auth_headers(org["bd1"])
    for shop in shops[:2]:
        assert client.post(f"/api/v1/leads/{shop.id}/claim", headers=headers).status_code == 200
    signed = client.post(
        f"/api/v1/leads/{shops[0].id}/sign",
        headers=auth_headers(org["manager"]),
        json={"contract_no": "C-1", "signed_at": clock.now().isoformat()},
    )
    assert signed.status_code == 200, signed.json
    return {**org, "today": today, "yesterday": yesterday, "shops": shops, "added": added}


def kpis(client, user, **query):
    return client.get("/api/v1/kpis", headers=auth_headers(user), query_string=query)


def test_per_bd_per_day(client, world):
    response = kpis(
        client,
        world["manager"],
        period="day",
        **{"from": world["yesterday"].isoformat()},
        to=world["today"].isoformat(),
    )
    assert response.status_code == 200, response.json
    body = response.json
    KpiReportSchema().load(body)
    rows = {(r["period_start"], r["subject"]["id"]): r for r in body["items"]}
    bd1_today = rows[(world["today"].isoformat(), world["bd1"].id)]
    assert bd1_today["visits"] == 3 and bd1_today["verified_visits"] == 2
    assert bd1_today["verified_share"] == pytest.approx(0.6667) and bd1_today["merchants_visited"] == 2
    assert bd1_today["claims"] == 2 and bd1_today["signings"] == 1
    assert bd1_today["tasks_assigned"] == 1 and bd1_today["task_completion"] == 1.0
    assert bd1_today["merchants_added"] == 1 and bd1_today["calls"] is None
    assert rows[(world["yesterday"].isoformat(), world["bd1"].id)]["visits"] == 1
    totals = {t["subject"]["id"]: t for t in body["totals"]}
    assert totals[world["bd1"].id]["visits"] == 4 and totals[world["bd1"].id]["merchants_visited"] == 3
    assert totals[world["bd1"].id]["gmv"] == 1234.5  # the merchant they signed
    assert totals[world["bd2"].id]["task_completion"] == 0.0
    # scope: the outsider of the other team is not in the manager's figures
    assert world["outsider"].id not in totals
    assert body["calls_available"] is False


def test_per_team_counts_distinct_merchants_across_its_bds(client, world):
    body = kpis(client, world["ops"], period="month", group_by="team").json
    totals = {t["subject"]["id"]: t for t in body["totals"]}
    # bd1 (team) and bd2 (sub-team) are in different units; the outsider's team is there for ops
    assert totals[world["team"].id]["visits"] == 4
    assert totals[world["sub"].id]["visits"] == 1
    assert totals[world["other_team"].id]["visits"] == 1


def test_period_rules(client, world):
    too_long = kpis(client, world["manager"], **{"from": "2025-01-01"}, to="2026-06-01")
    assert too_long.status_code == 422 and too_long.json["error_code"] == "INVALID_PERIOD"
    assert kpis(client, world["manager"], period="year").status_code == 422
    assert kpis(client, world["bd1"]).status_code == 403
    assert kpis(client, world["stranger"]).json["totals"] == []  # another tenant sees none of these BDs


def test_targets_progress_and_leaderboard(client, world):
    month = world["today"].strftime("%Y-%m")
    put = client.put(
        "/api/v1/targets",
        headers=auth_headers(world["manager"]),
        json={
            "month": month,
            "targets": [
                {"user_id": world["bd1"].id, "metric": "visits", "value": 8},
                {"user_id": world["bd2"].id, "metric": "visits", "value": 2},
                {"team_id": world["team"].id, "metric": "signings", "value": 4},
            ],
        },
    )
    assert put.status_code == 200, put.json
    assert len(put.json["items"]) == 3
    body = kpis(
        client,
        world["manager"],
        period="month",
        **{"from": world["today"].replace(day=1).isoformat()},
        to=world["today"].isoformat(),
    ).json
    row = next(r for r in body["items"] if r["subject"]["id"] == world["bd1"].id)
    assert row["targets"]["visits"] == {"target": 8.0, "actual": 4, "progress": 0.5}
    board = client.get(
        "/api/v1/kpis/leaderboard",
        headers=auth_headers(world["manager"]),
        query_string={"month": month, "metric": "visits"},
    ).json
    LeaderboardSchema().load(board)
    assert [i["subject"]["id"] for i in board["items"]][:2] == [world["bd1"].id, world["bd2"].id]
    assert board["items"][0]["rank"] == 1 and board["items"][1]["progress"] == 0.5
    teams = client.get(
        "/api/v1/kpis/leaderboard",
        headers=auth_headers(world["manager"]),
        query_string={"month": month, "metric": "signings", "group_by": "team"},
    ).json
    assert teams["items"][0]["subject"]["id"] == world["team"].id and teams["items"][0]["progress"] == 0.25
    # a null value removes a target
    removed = client.put(
        "/api/v1/targets",
        headers=auth_headers(world["manager"]),
        json={"month": month, "targets": [{"user_id": world["bd2"].id, "metric": "visits", "value": None}]},
    )
    assert len(removed.json["items"]) == 2
    listed = client.get("/api/v1/targets", headers=auth_headers(world["ops"]), query_string={"month": month})
    assert len(listed.json["items"]) == 2


def test_targets_only_inside_the_subtree(client, world):
    month = world["today"].strftime("%Y-%m")

    def put(user, entry):
        return client.put("/api/v1/targets", headers=auth_headers(user), json={"month": month, "targets": [entry]})

    outside = put(world["manager"], {"user_id": world["outsider"].id, "metric": "visits", "value": 3})
    assert outside.status_code == 403 and outside.json["error_code"] == "NOT_IN_SCOPE"
    other_team = put(world["manager"], {"team_id": world["other_team"].id, "metric": "visits", "value": 3})
    assert other_team.status_code == 403
    assert put(world["bd1"], {"user_id": world["bd1"].id, "metric": "visits", "value": 3}).status_code == 403
    foreign = put(world["stranger"], {"user_id": world["bd1"].id, "metric": "visits", "value": 3})
    assert foreign.status_code == 422 and foreign.json["error_code"] == "UNKNOWN_USERS"
    both = put(
        world["manager"], {"user_id": world["bd1"].id, "team_id": world["team"].id, "metric": "visits", "value": 1}
    )
    assert both.status_code == 422
    assert put(world["manager"], {"user_id": world["bd1"].id, "metric": "calls", "value": 1}).status_code == 422
    # the other team's manager does not see this team's targets
    put(world["manager"], {"user_id": world["bd1"].id, "metric": "visits", "value": 3})
    theirs = client.get("/api/v1/targets", headers=auth_headers(world["other_manager"]), query_string={"month": month})
    assert theirs.json["items"] == []
