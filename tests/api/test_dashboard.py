"""Manager dashboards on factory data: the team's day, the funnel, the heatmap grid."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from freezegun import freeze_time
from sqlalchemy import select

from app.dashboard.schemas import DashboardTeamSchema, FunnelSchema, HeatmapSchema
from app.merchants.models import Lead, LeadEvent, LeadState
from app.org.models import Role
from app.tasks.models import AssignmentStatus, Task, TaskAssignment, TaskKind
from app.visits.models import Visit
from tests.factories import MerchantFactory, OrgUnitFactory, TenantFactory, UserFactory, auth_headers, point

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 20, 15, 0, tzinfo=SHANGHAI)  # a Friday afternoon in the tenant's zone
DAY = NOW.date()


@pytest.fixture
def world(session):
    with freeze_time(NOW):
        tenant = TenantFactory()
        team = OrgUnitFactory(tenant=tenant, name="West Lake")
        other_team = OrgUnitFactory(tenant=tenant, name="Binjiang")
        manager = UserFactory(tenant=tenant, role=Role.MANAGER, org_unit_id=team.id)
        bd1 = UserFactory(tenant=tenant, org_unit_id=team.id, display_name="Li")
        bd2 = UserFactory(tenant=tenant, org_unit_id=team.id, display_name="Wang")
        outsider = UserFactory(tenant=tenant, org_unit_id=other_team.id)
        ops = UserFactory(tenant=tenant, role=Role.OPS)
        shops = [MerchantFactory(tenant=tenant, lat=30.26 + i * 0.001, lng=120.16) for i in range(6)]
        far = MerchantFactory(tenant=tenant, lat=30.30, lng=120.25)
        created = MerchantFactory(
            tenant=tenant, created_by_id=bd1.id, lat=30.261, lng=120.159, created_at=NOW - timedelta(hours=2)
        )
        yesterday = NOW - timedelta(days=1)

        def event(shop, action, user, when):
            session.add(
                LeadEvent(
                    tenant_id=tenant.id,
                    merchant_id=shop.id,
                    action=action,
                    to_owner_id=user.id,
                    actor_id=user.id,
                    created_at=when,
                )
            )

        def visit(shop, user, when, verified=True):
            session.add(
                Visit(
                    tenant_id=tenant.id,
                    merchant_id=shop.id,
                    user_id=user.id,
                    client_time=when,
                    idempotency_key=f"{shop.id}-{user.id}-{when.timestamp()}",
                    request_hash="x",
                    location=point(30.26, 120.16),
                    verified=verified,
                )
            )

        # bd1 today: claims 3, visits 2 verified + 1 not, signs 1; bd2: one claim yesterday, a visit of the outsider's
        for shop in shops[:3]:
            event(shop, "claim", bd1, NOW - timedelta(hours=3))
            session.add(Lead(tenant_id=tenant.id, merchant_id=shop.id, state=LeadState.PRIVATE, owner_id=bd1.id))
        session.get(Lead, shops[0].id).state = LeadState.PARTNER
        event(shops[0], "sign", bd1, NOW - timedelta(hours=1))
        visit(shops[0], bd1, NOW - timedelta(hours=2))
        visit(shops[1], bd1, NOW - timedelta(hours=2))
        visit(shops[1], bd1, NOW - timedelta(hours=1), verified=False)
        event(shops[3], "claim", bd2, yesterday)
        session.add(Lead(tenant_id=tenant.id, merchant_id=shops[3].id, state=LeadState.PRIVATE, owner_id=bd2.id))
        visit(shops[3], bd2, yesterday)
        visit(far, outsider, NOW - timedelta(hours=1))
        task = Task(
            tenant_id=tenant.id,
            creator_id=manager.id,
            title="t",
            kind=TaskKind.VISIT,
            due_at=NOW - timedelta(hours=5),
            target={},
        )
        session.add(task)
        session.flush()
        session.add_all(
            [
                TaskAssignment(
                    tenant_id=tenant.id,
                    task_id=task.id,
                    assignee_id=bd1.id,
                    status=AssignmentStatus.DONE,
                    completed_at=NOW - timedelta(hours=1),
                ),
                TaskAssignment(
                    tenant_id=tenant.id, task_id=task.id, assignee_id=bd2.id, status=AssignmentStatus.ASSIGNED
                ),
            ]
        )
        session.commit()
    return {
        "tenant": tenant,
        "team": team,
        "other_team": other_team,
        "manager": manager,
        "bd1": bd1,
        "bd2": bd2,
        "outsider": outsider,
        "ops": ops,
        "shops": shops,
        "created": created,
    }


def get(client, user, path, **params):
    with freeze_time(NOW):
        return client.get(f"/api/v1/dashboard/{path}", query_string=params, headers=auth_headers(user))


def test_the_teams_day_per_bd(client, world):
    response = get(client, world["manager"], "team", date=DAY.isoformat())
    assert response.status_code == 200, response.json
    body = DashboardTeamSchema().load(response.json)
    rows = {row["user_id"]: row for row in body["items"]}
    assert set(rows) == {world["bd1"].id, world["bd2"].id}  # not the outsider
    assert rows[world["bd1"].id] == {
        "user_id": world["bd1"].id,
        "name": "Li",
        "visits": {"verified": 2, "unverified": 1},
        "new_merchants": 1,
        "claims": 3,
        "signings": 1,
        "tasks_done": 1,
        "overdue": 0,
        "calls": 0,
        "messages": 0,
        "contacts": 3,  # the three visits, verified or not
    }
    assert rows[world["bd2"].id]["claims"] == 0 and rows[world["bd2"].id]["overdue"] == 1
    assert body["totals"]["visits"] == {"verified": 2, "unverified": 1} and body["totals"]["claims"] == 3
    yesterday = get(client, world["manager"], "team", date=(DAY - timedelta(days=1)).isoformat()).json
    assert {r["user_id"]: r["claims"] for r in yesterday["items"]} == {world["bd1"].id: 0, world["bd2"].id: 1}
    # the task was due at 10:00 today: open at the end of yesterday, but not yet due then
    assert {r["user_id"]: r["overdue"] for r in yesterday["items"]} == {world["bd1"].id: 0, world["bd2"].id: 0}


def test_overdue_counts_what_was_open_at_the_days_end(client, world, session):
    with freeze_time(NOW + timedelta(days=1)):
        # bd2 finishes the task the next day: it was still overdue at the end of the day before
        assignment = session.scalar(select(TaskAssignment).where(TaskAssignment.assignee_id == world["bd2"].id))
        assignment.status, assignment.completed_at = AssignmentStatus.DONE, NOW + timedelta(days=1)
        session.commit()
    day = {r["user_id"]: r for r in get(client, world["manager"], "team", date=DAY.isoformat()).json["items"]}
    assert day[world["bd2"].id]["overdue"] == 1 and day[world["bd2"].id]["tasks_done"] == 0


def test_bds_deactivated_earlier_drop_out(client, world, session):
    world["bd2"].is_active, world["bd2"].deactivated_at = False, NOW - timedelta(days=3)
    session.merge(world["bd2"])
    session.commit()
    today = get(client, world["manager"], "team", date=DAY.isoformat()).json
    assert [r["user_id"] for r in today["items"]] == [world["bd1"].id]
    before = get(client, world["manager"], "team", date=(DAY - timedelta(days=4)).isoformat()).json
    assert {r["user_id"] for r in before["items"]} == {world["bd1"].id, world["bd2"].id}


def test_today_is_the_default_and_ops_see_everyone(client, world):
    body = get(client, world["ops"], "team").json
    assert body["date"] == DAY.isoformat()
    assert {r["user_id"] for r in body["items"]} == {world["bd1"].id, world["bd2"].id, world["outsider"].id}
    only = get(client, world["ops"], "team", team_id=world["other_team"].id).json
    assert [r["user_id"] for r in only["items"]] == [world["outsider"].id]
    assert get(client, world["manager"], "team", team_id=world["other_team"].id).status_code == 404
    assert get(client, world["bd1"], "team").status_code == 403


def test_the_funnel(client, world, session):
    from app.merchants.models import AuditStatus

    # hidden merchants count nowhere, whether or not someone holds their lead
    MerchantFactory(tenant=world["tenant"], audit_status=AuditStatus.REJECTED)
    merged = MerchantFactory(tenant=world["tenant"], audit_status=AuditStatus.MERGED)
    session.add(
        Lead(
            tenant_id=world["tenant"].id, merchant_id=merged.id, state=LeadState.PRIVATE, owner_id=world["outsider"].id
        )
    )
    session.commit()
    response = get(
        client, world["manager"], "funnel", **{"from": (DAY - timedelta(days=6)).isoformat(), "to": DAY.isoformat()}
    )
    assert response.status_code == 200, response.json
    body = FunnelSchema().load(response.json)
    # 8 merchants, 4 with non-public leads
    assert body["stages"] == {"public": 4, "private": 4, "visited": 3, "signed": 1}
    assert body["conversion"] == {"visited_of_private": 0.75, "signed_of_private": 0.25, "signed_of_visited": 0.3333}
    today = get(client, world["manager"], "funnel", **{"from": DAY.isoformat(), "to": DAY.isoformat()}).json
    assert today["stages"]["private"] == 3
    bad = get(client, world["manager"], "funnel", **{"from": DAY.isoformat(), "to": "2026-01-01"})
    assert bad.status_code == 422 and bad.json["error_code"] == "INVALID_PERIOD"


def test_the_heatmap_grid(client, world):
    # just outside the box's north edge: inside geography's looser bounding box, but not counted
    MerchantFactory(tenant=world["tenant"], lat=30.3502, lng=120.2)
    MerchantFactory(tenant=world["tenant"], lat=30.30, lng=120.3002)
    response = get(client, world["manager"], "heatmap", bbox="120.15,30.25,120.30,30.35", cell_m=1000)
    assert response.status_code == 200, response.json
    body = HeatmapSchema().load(response.json)
    assert sum(c["merchants"] for c in body["cells"]) == 8
    assert sum(c["partner"] for c in body["cells"]) == 1 and sum(c["private"] for c in body["cells"]) == 3
    # the manager's people's visits in the last 7 days: 4 (the outsider's is not theirs)
    assert sum(c["visits"] for c in body["cells"]) == 4
    assert sum(c["verified_visits"] for c in body["cells"]) == 3
    dense = max(body["cells"], key=lambda c: c["merchants"])
    assert dense["merchants"] == 7 and dense["lat"] == pytest.approx(30.25 + 1.5 * 1000 / 111_320)
    ops = get(client, world["ops"], "heatmap", bbox="120.15,30.25,120.30,30.35", cell_m=1000).json
    assert sum(c["visits"] for c in ops["cells"]) == 5
    # a district-sized box takes the indexed path: the same numbers for the same merchants
    small = get(client, world["manager"], "heatmap", bbox="120.15,30.25,120.20,30.30", cell_m=1000).json
    assert sum(c["merchants"] for c in small["cells"]) == 7 and sum(c["visits"] for c in small["cells"]) == 4
    [small_dense] = [c for c in small["cells"] if c["merchants"] == 7]
    assert {k: v for k, v in small_dense.items() if k != "lng"} == {k: v for k, v in dense.items() if k != "lng"}


@pytest.mark.parametrize(
    "params, code",
    [
        ({"bbox": "119,29,121,31", "cell_m": 5000}, "BBOX_TOO_LARGE"),
        ({"bbox": "120.0,30.0,120.4,30.4", "cell_m": 50}, "TOO_MANY_CELLS"),
        ({"bbox": "120.0,30.0", "cell_m": 500}, "VALIDATION_ERROR"),
        ({"bbox": "120.0,30.0,120.1,30.1", "cell_m": 10}, "VALIDATION_ERROR"),
    ],
)
def test_bad_heatmap_queries(client, world, params, code):
    response = get(client, world["manager"], "heatmap", **params)
    assert response.status_code == 422 and response.json["error_code"] == code
