"""Tasks: targeting, the subtree rule, the lifecycle, the to-do center, and devices."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

import pytest
from rq import Queue
from sqlalchemy import select

from app import clock, db
from app.devices.models import Device
from app.merchants.models import Lead, LeadState
from app.org.models import Role
from app.outbox.models import OutboxMessage
from app.reminders.models import Reminder
from app.tasks.models import TaskAssignment
from app.tasks.schemas import TaskDetailSchema, TaskPageSchema, TaskSummarySchema, TodoPageSchema
from tests.factories import MerchantFactory, TenantFactory, UserFactory, auth_headers, make_org


@pytest.fixture
def org(session):
    org = make_org()
    tenant, bd1, outsider = org["tenant"], org["bd1"], org["outsider"]
    shops = [MerchantFactory(tenant=tenant, name=f"Shop {i}") for i in range(3)]
    session.add(
        Lead(
            merchant_id=shops[0].id,
            tenant_id=tenant.id,
            state=LeadState.PRIVATE,
            owner_id=bd1.id,
            claimed_at=clock.now(),
            drops_at=clock.now() + timedelta(days=10),
            drop_reason="no_visit",
        )
    )
    session.add(Lead(merchant_id=shops[1].id, tenant_id=tenant.id, state=LeadState.PARTNER, owner_id=outsider.id))
    gone = UserFactory(tenant=tenant, org_unit_id=org["team"].id, is_active=False)
    session.commit()
    return {**org, "shops": shops, "gone": gone}


def create(client, user, **fields):
    """Create a task; a 201 answer is given the task's full detail (with assignments) for the assertions."""
    body = {"title": "Visit new openings", "kind": "visit", **fields}
    response = client.post("/api/v1/tasks", json=body, headers=auth_headers(user))
    if response.status_code != 201:
        return response
    TaskSummarySchema().load(response.json)
    detail = client.get(f"/api/v1/tasks/{response.json['id']}", headers=auth_headers(user))
    return SimpleNamespace(status_code=201, json={**response.json, "assignments": detail.json["assignments"]})


def assignees(response):
    assert response.status_code == 201, response.json
    return {a["assignee"]["id"] for a in response.json["assignments"]}


def test_by_user_ids(client, org):
    assert assignees(create(client, org["manager"], user_ids=[org["bd1"].id, org["bd2"].id])) == {
        org["bd1"].id,
        org["bd2"].id,
    }


def test_by_team_includes_sub_teams_and_skips_inactive(client, org):
    assert assignees(create(client, org["manager"], team_id=org["team"].id)) == {org["bd1"].id, org["bd2"].id}


def test_by_merchants_goes_to_lead_owners_and_the_manager_for_public_ones(client, org):
    body = create(client, org["ops"], merchant_ids=[org["shops"][0].id, org["shops"][1].id])
    assert assignees(body) == {org["bd1"].id, org["outsider"].id}
    body = create(client, org["manager"], merchant_ids=[org["shops"][0].id, org["shops"][2].id])
    assert assignees(body) == {org["bd1"].id, org["manager"].id}  # public pool: the manager dispatches it


def test_a_manager_assigns_only_inside_the_subtree(client, org):
    for fields in (
        {"user_ids": [org["outsider"].id]},
        {"team_id": org["other_team"].id},
        {"merchant_ids": [org["shops"][1].id]},
    ):
        response = create(client, org["manager"], **fields)
        assert response.status_code == 403 and response.json["error_code"] == "NOT_IN_SCOPE", fields
    assert create(client, org["ops"], user_ids=[org["outsider"].id]).status_code == 201


def test_bds_do_not_create_tasks(client, org):
    assert create(client, org["bd1"], user_ids=[org["bd2"].id]).status_code == 403


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({}, "VALIDATION_ERROR"),
        ({"user_ids": [1], "team_id": 1}, "VALIDATION_ERROR"),
        ({"user_ids": []}, "VALIDATION_ERROR"),
        ({"user_ids": [987654321]}, "UNKNOWN_USERS"),
        ({"team_id": 987654321}, "UNKNOWN_TEAM"),
        ({"merchant_ids": [987654321]}, "UNKNOWN_MERCHANTS"),
        ({"user_ids": [1], "kind": "party"}, "VALIDATION_ERROR"),
        ({"user_ids": [1], "priority": 9}, "VALIDATION_ERROR"),
        ({"user_ids": [1], "due_at": "tomorrow"}, "VALIDATION_ERROR"),
    ],
)
def test_bad_tasks_are_422(client, org, fields, code):
    response = create(client, org["ops"], **fields)
    assert response.status_code == 422 and response.json["error_code"] == code, response.json


def test_inactive_user_is_refused(client, org):
    response = create(client, org["ops"], user_ids=[org["gone"].id])
    assert response.status_code == 422 and response.json["error_code"] == "UNKNOWN_USERS"


def test_one_assignment_per_bd_and_a_push_after_commit(client, org, redis_client):
    response = create(client, org["manager"], merchant_ids=[org["shops"][0].id, org["shops"][0].id])
    assignment = response.json["assignments"][0]
    assert len(response.json["assignments"]) == 1 and assignment["payload"] == {"merchant_ids": [org["shops"][0].id]}
    message = db.session.scalar(select(OutboxMessage).order_by(OutboxMessage.id.desc()))
    assert message.job == "app.tasks.jobs.push_assignments" and message.payload == {"task_id": response.json["id"]}
    assert Queue("push", connection=redis_client).job_ids == [f"outbox-{message.id}"]


def test_bulk_strategy_tasks(client, org):
    body = {
        "title": "Match the competitor",
        "kind": "price_adjust",
        "items": [
            {"merchant_id": org["shops"][0].id, "payload": {"their_price": "88"}},
            {"merchant_id": org["shops"][2].id, "payload": {"their_price": "20"}},
        ],
    }
    response = client.post("/api/v1/tasks/bulk", json=body, headers=auth_headers(org["ops"]))
    assert response.status_code == 201
    assert response.json["created"] == 1
    assert response.json["skipped"] == [
        {"merchant_id": org["shops"][2].id, "reason": "public pool and no manager to dispatch it"}
    ]
    assignment = db.session.scalar(select(TaskAssignment).where(TaskAssignment.task_id == response.json["task_ids"][0]))
    assert assignment.assignee_id == org["bd1"].id and assignment.payload == {"their_price": "88"}


# --- lifecycle and the to-do center -----------------------------------------------------------------


def todo(client, user, todo_id, action, feedback=None):
    return client.post(
        f"/api/v1/todos/{todo_id}/{action}", json={"feedback": feedback} if feedback else {}, headers=auth_headers(user)
    )


def test_lifecycle_and_illegal_transitions(client, org):
    task = create(client, org["manager"], user_ids=[org["bd1"].id]).json
    todo_id = f"a{task['assignments'][0]['id']}"
    assert todo(client, org["bd1"], todo_id, "accept").json == {"id": todo_id, "status": "accepted", "closed": False}
    again = todo(client, org["bd1"], todo_id, "accept")
    assert again.status_code == 409 and again.json["error_code"] == "INVALID_TRANSITION"
    assert todo(client, org["bd1"], todo_id, "done", "Owner agreed").json["closed"] is True
    for action in ("accept", "done", "reject"):
        assert todo(client, org["bd1"], todo_id, action, "x").status_code == 409
    detail = client.get(f"/api/v1/tasks/{task['id']}", headers=auth_headers(org["manager"])).json
    assert detail["progress"]["done"] == 1 and detail["assignments"][0]["feedback"] == "Owner agreed"
    # the creator hears about it: a to-do item (and a push)
    feedback = db.session.scalar(select(Reminder).where(Reminder.user_id == org["manager"].id))
    assert feedback.kind == "task_feedback" and "done" in feedback.title
    assert client.get("/api/v1/todos/count", headers=auth_headers(org["manager"])).json == {"total": 1, "overdue": 0}


def test_reject_needs_feedback_and_only_the_assignee_acts(client, org):
    task = create(client, org["manager"], user_ids=[org["bd1"].id]).json
    todo_id = f"a{task['assignments'][0]['id']}"
    assert todo(client, org["bd1"], todo_id, "reject").status_code == 422
    assert todo(client, org["bd2"], todo_id, "accept").status_code == 404
    assert todo(client, org["bd1"], "a999999999", "accept").status_code == 404
    assert todo(client, org["bd1"], "nonsense", "accept").status_code == 404
    assert todo(client, org["bd1"], todo_id, "reject", "Shop closed").json["status"] == "rejected"


def test_todos_sorted_by_due_time_with_reminders_and_count(client, org, session):
    now = clock.now()
    create(
        client, org["manager"], user_ids=[org["bd1"].id], title="Later", due_at=(now + timedelta(days=3)).isoformat()
    )
    create(
        client, org["manager"], user_ids=[org["bd1"].id], title="Overdue", due_at=(now - timedelta(hours=2)).isoformat()
    )
    create(client, org["manager"], user_ids=[org["bd1"].id], title="Whenever")
    session.add(
        Reminder(
            tenant_id=org["tenant"].id,
            user_id=org["bd1"].id,
            kind="lead_dropping",
            title="Lead drops in 1 day: Shop 0",
            merchant_id=org["shops"][0].id,
            due_at=now + timedelta(days=1),
            dedupe_key="t1",
        )
    )
    session.commit()
    page = client.get("/api/v1/todos", headers=auth_headers(org["bd1"])).json
    TodoPageSchema().load(page)
    assert [item["title"] for item in page["items"]] == ["Overdue", "Lead drops in 1 day: Shop 0", "Later", "Whenever"]
    assert [item["overdue"] for item in page["items"]] == [True, False, False, False]
    assert client.get("/api/v1/todos/count", headers=auth_headers(org["bd1"])).json == {"total": 4, "overdue": 1}
    titles, cursor = [], None
    while True:
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = client.get("/api/v1/todos", query_string=params, headers=auth_headers(org["bd1"])).json
        titles += [item["title"] for item in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert titles == ["Overdue", "Lead drops in 1 day: Shop 0", "Later", "Whenever"]
    reminder_id = next(
        i["id"]
        for i in client.get("/api/v1/todos", headers=auth_headers(org["bd1"])).json["items"]
        if i["type"] == "reminder"
    )
    assert todo(client, org["bd1"], reminder_id, "accept").status_code == 409
    assert todo(client, org["bd1"], reminder_id, "done").json["closed"] is True
    assert client.get("/api/v1/todos/count", headers=auth_headers(org["bd1"])).json["total"] == 3


def test_task_lists_and_visibility(client, org):
    create(
        client,
        org["manager"],
        user_ids=[org["bd1"].id, org["bd2"].id],
        due_at=(clock.now() - timedelta(hours=1)).isoformat(),
    )
    page = client.get("/api/v1/tasks", headers=auth_headers(org["manager"])).json
    TaskPageSchema().load(page)
    assert page["items"][0]["progress"] == {
        "total": 2,
        "queued": 0,
        "assigned": 2,
        "accepted": 0,
        "done": 0,
        "rejected": 0,
        "overdue": 2,
    }
    task_id = page["items"][0]["id"]
    mine = client.get(f"/api/v1/tasks/{task_id}", headers=auth_headers(org["bd1"])).json
    TaskDetailSchema().load(mine)
    assert [a["assignee"]["id"] for a in mine["assignments"]] == [org["bd1"].id] and mine["deliveries"] is None
    assert client.get(f"/api/v1/tasks/{task_id}", headers=auth_headers(org["outsider"])).status_code == 404
    foreign = UserFactory(tenant=TenantFactory(), role=Role.OPS)
    assert client.get(f"/api/v1/tasks/{task_id}", headers=auth_headers(foreign)).status_code == 404


def test_rolled_back_task_sends_nothing(client, org, session, redis_client, monkeypatch):
    from app.tasks import service

    def fail(*args, **kwargs):
        raise RuntimeError("boom after the outbox row was written")

    monkeypatch.setattr(service, "touch", fail)
    with pytest.raises(RuntimeError):
        service.create_task(
            org["manager"], {"title": "x", "body": "", "kind": "visit", "priority": 0, "user_ids": [org["bd1"].id]}
        )
    db.session.rollback()
    assert Queue("push", connection=redis_client).count == 0


# --- devices ------------------------------------------------------------------------------------------

TOKEN = "dQw4w9WgXcQ:APA91bHun4MxP5egoKMwt2KZFBaFUH-1RYqx"


def test_register_refresh_move_and_delete_devices(client, org):
    headers = auth_headers(org["bd1"])
    first = client.post(
        "/api/v1/devices", json={"token": TOKEN, "platform": "android", "app_version": "3.1"}, headers=headers
    )
    assert first.status_code == 200
    again = client.post(
        "/api/v1/devices", json={"token": TOKEN, "platform": "android", "app_version": "3.2"}, headers=headers
    )
    assert again.json["id"] == first.json["id"] and again.json["app_version"] == "3.2"
    # the phone changes hands: the token follows whoever signs in on it
    client.post("/api/v1/devices", json={"token": TOKEN, "platform": "android"}, headers=auth_headers(org["bd2"]))
    device = db.session.scalar(select(Device).where(Device.token == TOKEN))
    assert device.user_id == org["bd2"].id
    assert client.delete(f"/api/v1/devices/{TOKEN}", headers=headers).status_code == 404
    assert client.delete(f"/api/v1/devices/{TOKEN}", headers=auth_headers(org["bd2"])).status_code == 204


def test_logout_removes_the_sessions_device(client, org):
    from tests.factories import PASSWORD

    tokens = client.post("/api/v1/auth/login", json={"username": org["bd1"].username, "password": PASSWORD}).json
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    client.post("/api/v1/devices", json={"token": TOKEN, "platform": "ios"}, headers=headers)
    assert db.session.scalar(select(Device).where(Device.token == TOKEN)) is not None
    client.post("/api/v1/auth/logout", headers=headers)
    assert db.session.scalar(select(Device).where(Device.token == TOKEN)) is None


@pytest.mark.parametrize(
    "body",
    [
        {"token": "short", "platform": "android"},
        {"token": TOKEN, "platform": "nokia"},
        {"token": TOKEN + " <script>", "platform": "ios"},
        {"platform": "ios"},
    ],
)
def test_bad_devices_are_422(client, org, body):
    assert client.post("/api/v1/devices", json=body, headers=auth_headers(org["bd1"])).status_code == 422


def test_prune_stale_tokens(client, org):
    from freezegun import freeze_time

    from app.devices.service import prune_stale_devices

    client.post("/api/v1/devices", json={"token": TOKEN, "platform": "ios"}, headers=auth_headers(org["bd1"]))
    with freeze_time(clock.now() + timedelta(days=269)):
        assert prune_stale_devices() == 0
    with freeze_time(clock.now() + timedelta(days=271)):
        assert prune_stale_devices() == 1


def test_one_todo_by_its_id_or_by_the_task_a_push_named(client, org):
    task = create(client, org["manager"], user_ids=[org["bd1"].id]).json
    todo_id = f"a{task['assignments'][0]['id']}"
    by_id = client.get(f"/api/v1/todos/{todo_id}", headers=auth_headers(org["bd1"]))
    assert by_id.status_code == 200 and by_id.json["id"] == todo_id and by_id.json["task_id"] == task["id"]
    by_task = client.get(f"/api/v1/todos/t{task['id']}", headers=auth_headers(org["bd1"])).json
    assert by_task == by_id.json
    for other in (f"t{task['id']}", todo_id):  # not the colleague's
        assert client.get(f"/api/v1/todos/{other}", headers=auth_headers(org["bd2"])).status_code == 404
    for bad in ("x1", "a", "a99999999999999999999", "t0"):
        response = client.get(f"/api/v1/todos/{bad}", headers=auth_headers(org["bd1"]))
        assert (response.status_code, response.json["error_code"]) == (404, "TODO_NOT_FOUND")
