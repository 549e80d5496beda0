"""To-dos that clear themselves: each cause that takes a to-do's reason away closes it, and the to-do center
never lists one whose reason is gone; overdue tasks remind (and push) once."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from rq import Queue
from sqlalchemy import select

from app import clock, db
from app.leads.jobs import remind_dropping_leads, sweep_due_leads
from app.merchants.models import AuditStatus, Lead, LeadState
from app.org.models import OrgKind, Role
from app.outbox.models import OutboxMessage
from app.reminders.models import Reminder
from app.tasks.jobs import remind_overdue_tasks
from app.tasks.models import AssignmentStatus, TaskAssignment
from tests.factories import MerchantFactory, OrgUnitFactory, TenantFactory, UserFactory, auth_headers

SHOP = (30.2585, 120.1700)
DAY = timedelta(days=1)


@pytest.fixture
def day(session):
    tenant = TenantFactory()
    team = OrgUnitFactory(tenant=tenant, kind=OrgKind.TEAM)
    manager = UserFactory(tenant=tenant, role=Role.MANAGER, org_unit_id=team.id)
    team.manager_id = manager.id
    bd = UserFactory(tenant=tenant, org_unit_id=team.id, manager_id=manager.id)
    colleague = UserFactory(tenant=tenant, org_unit_id=team.id, manager_id=manager.id)
    ops = UserFactory(tenant=tenant, role=Role.OPS)
    shop = MerchantFactory(tenant=tenant, name="Noodle House", lat=SHOP[0], lng=SHOP[1])
    other = MerchantFactory(tenant=tenant, name="Tea Shop", lat=SHOP[0] + 0.01, lng=SHOP[1])
    session.commit()
    return {
        "tenant": tenant,
        "team": team,
        "manager": manager,
        "bd": bd,
        "colleague": colleague,
        "ops": ops,
        "shop": shop,
        "other": other,
    }


def check_in(client, user, merchant_id, at=SHOP, **overrides):
    body = {
        "merchant_id": merchant_id,
        "lat": at[0],
        "lng": at[1],
        "accuracy_m": 10,
        "client_time": clock.now().isoformat(),
        "mock_location": False,
        **overrides,
    }
    headers = {**auth_headers(user), "Idempotency-Key": str(uuid.uuid4())}
    response = client.post("/api/v1/visits", json=body, headers=headers)
    assert response.status_code == 201, response.json
    return response.json


def todos(client, user):
    page = client.get("/api/v1/todos", headers=auth_headers(user)).json
    return page["items"]


def kinds(client, user):
    return sorted(item["kind"] for item in todos(client, user))


def lead_action(client, user, merchant, action, body=None):
    kwargs = {"json": body} if body is not None else {}
    response = client.post(f"/api/v1/leads/{merchant.id}/{action}", headers=auth_headers(user), **kwargs)
    assert response.status_code == 200, response.json
    return response.json


def dropping(client, day):
    """The BD claims the shop and the reminder job warns of its drop (as it does 3 days before)."""
    lead_action(client, day["bd"], day["shop"], "claim")
    db.session.expire_all()
    drops_at = db.session.get(Lead, day["shop"].id).drops_at
    assert remind_dropping_leads(now=drops_at - 2 * DAY) == 1
    assert kinds(client, day["bd"]) == ["lead_dropping"]


def closed_by(reminder_kind, user):
    db.session.expire_all()
    reminder = db.session.scalar(select(Reminder).where(Reminder.kind == reminder_kind, Reminder.user_id == user.id))
    return reminder.done_at is not None and reminder.payload.get("closed_by")


def test_a_verified_visit_closes_the_drop_reminder(client, day):
    dropping(client, day)
    check_in(client, day["bd"], day["shop"].id)
    assert kinds(client, day["bd"]) == []
    assert closed_by("lead_dropping", day["bd"]) == "visited"


def test_an_unverified_visit_or_a_colleagues_leaves_it_open(client, day):
    dropping(client, day)
    assert check_in(client, day["bd"], day["shop"].id, at=(SHOP[0] + 0.05, SHOP[1]))["verified"] is False
    check_in(client, day["colleague"], day["shop"].id)
    assert kinds(client, day["bd"]) == ["lead_dropping"]


@pytest.mark.parametrize(
    ("actor", "action", "body", "reason"),
    [
        ("bd", "extend", None, "extended"),
        ("bd", "release", {"reason": "not interested"}, "released"),
        ("manager", "assign", "colleague", "transferred"),
        ("manager", "sign", {"contract_no": "C-1"}, "signed"),
    ],
)
def test_a_lead_changing_closes_the_drop_reminder(client, day, actor, action, body, reason):
    dropping(client, day)
    if action == "assign":
        body = {"user_id": day[body].id}
    if action == "sign":
        body = {**body, "signed_at": clock.now().isoformat()}
    lead_action(client, day[actor], day["shop"], action, body)
    assert kinds(client, day["bd"]) == []
    assert closed_by("lead_dropping", day["bd"]) == reason


def test_assigning_a_public_lead_closes_an_earlier_owners_leftover_reminder(client, day, session):
    """A lead assigned from the public pool: the former owner's drop warning (if the sweeper was not there yet)."""
    dropping(client, day)
    lead = session.get(Lead, day["shop"].id)
    lead.state, lead.owner_id = LeadState.PUBLIC, None  # e.g. dropped by a path that closes nothing
    session.commit()
    assert kinds(client, day["bd"]) == []  # the read already leaves it out: the lead is not the BD's any more
    lead_action(client, day["manager"], day["shop"], "assign", {"user_id": day["colleague"].id})
    assert closed_by("lead_dropping", day["bd"]) == "assigned"


def test_the_sweeper_closes_the_reminders_of_what_it_drops(client, day):
    dropping(client, day)
    db.session.expire_all()
    drops_at = db.session.get(Lead, day["shop"].id).drops_at
    assert sweep_due_leads(now=drops_at + timedelta(minutes=1)) == 1
    assert closed_by("lead_dropping", day["bd"]) == "dropped"
    assert kinds(client, day["bd"]) == []


def test_a_signing_confirmation_closes_when_the_manager_signs(client, day):
    lead_action(client, day["bd"], day["shop"], "claim")
    signing = {"contract_no": "C-7", "signed_at": clock.now().isoformat()}
    lead_action(client, day["bd"], day["shop"], "sign", signing)
    assert kinds(client, day["manager"]) == ["sign_confirmation"]
    lead_action(client, day["manager"], day["shop"], "sign", signing)
    assert kinds(client, day["manager"]) == []
    assert closed_by("sign_confirmation", day["manager"]) == "signed"


def create_task(client, creator, **fields):
    body = {"title": "Visit and pitch lunch deals", "kind": "visit", **fields}
    response = client.post("/api/v1/tasks", json=body, headers=auth_headers(creator))
    assert response.status_code == 201, response.json
    return response.json["id"]


def assignment_of(task_id, user):
    db.session.expire_all()
    return db.session.scalar(
        select(TaskAssignment).where(TaskAssignment.task_id == task_id, TaskAssignment.assignee_id == user.id)
    )


def test_a_verified_visit_completes_the_bds_visit_tasks_for_that_merchant(client, day):
    visit_task = create_task(client, day["manager"], user_ids=[day["bd"].id], merchant_id=day["shop"].id)
    colleague_task = create_task(client, day["manager"], user_ids=[day["colleague"].id], merchant_id=day["shop"].id)
    other_shop = create_task(client, day["manager"], user_ids=[day["bd"].id], merchant_id=day["other"].id)
    not_a_visit = create_task(
        client, day["manager"], user_ids=[day["bd"].id], merchant_id=day["shop"].id, kind="collect_info"
    )
    visit = check_in(client, day["bd"], day["shop"].id)
    done = assignment_of(visit_task, day["bd"])
    assert done.status == AssignmentStatus.DONE and done.payload["visit_id"] == visit["id"]
    assert assignment_of(colleague_task, day["colleague"]).status == AssignmentStatus.ASSIGNED
    assert assignment_of(other_shop, day["bd"]).status == AssignmentStatus.ASSIGNED
    assert assignment_of(not_a_visit, day["bd"]).status == AssignmentStatus.ASSIGNED
    assert {item["task_id"] for item in todos(client, day["bd"])} == {other_shop, not_a_visit}
    # the creator hears of it as of a BD's own "done"
    (feedback,) = [item for item in todos(client, day["manager"]) if item["kind"] == "task_feedback"]
    assert feedback["payload"]["task_id"] == visit_task and feedback["payload"]["status"] == "done"


def test_an_unverified_visit_completes_nothing(client, day):
    task = create_task(client, day["manager"], user_ids=[day["bd"].id], merchant_id=day["shop"].id)
    check_in(client, day["bd"], day["shop"].id, at=(SHOP[0] + 0.05, SHOP[1]))
    assert assignment_of(task, day["bd"]).status == AssignmentStatus.ASSIGNED


def test_a_task_about_several_merchants_is_done_when_each_was_visited(client, day, session):
    for shop in (day["shop"], day["other"]):
        session.add(
            Lead(
                merchant_id=shop.id,
                tenant_id=day["tenant"].id,
                state=LeadState.PRIVATE,
                owner_id=day["bd"].id,
                claimed_at=clock.now(),
                drops_at=clock.now() + 10 * DAY,
            )
        )
    session.commit()
    task = create_task(client, day["manager"], merchant_ids=[day["shop"].id, day["other"].id])
    check_in(client, day["bd"], day["shop"].id, client_time=(clock.now() - timedelta(hours=1)).isoformat())
    assignment = assignment_of(task, day["bd"])
    assert assignment.status == AssignmentStatus.ASSIGNED
    assert assignment.payload["visited_merchant_ids"] == [day["shop"].id]
    check_in(client, day["bd"], day["other"].id, at=(SHOP[0] + 0.01, SHOP[1]))
    assert assignment_of(task, day["bd"]).status == AssignmentStatus.DONE


def test_a_verified_visit_marks_the_planned_stop_and_closes_the_planned_visit(client, day):
    today = clock.now().astimezone(day["tenant"].zone).date().isoformat()
    plan = {"date": today, "start": {"lat": SHOP[0], "lng": SHOP[1]}, "merchant_ids": [day["shop"].id]}
    assert client.post("/api/v1/visit-plans", json=plan, headers=auth_headers(day["bd"])).status_code == 201
    first = check_in(client, day["bd"], day["shop"].id, client_time=(clock.now() - timedelta(hours=1)).isoformat())
    checkout = {"result": "follow_up", "next_visit_at": (clock.now() + 2 * DAY).isoformat()}
    response = client.post(f"/api/v1/visits/{first['id']}/checkout", json=checkout, headers=auth_headers(day["bd"]))
    assert response.status_code == 200, response.json
    assert kinds(client, day["bd"]) == ["planned_visit"]
    check_in(client, day["bd"], day["shop"].id)
    assert kinds(client, day["bd"]) == []
    assert closed_by("planned_visit", day["bd"]).startswith("visit:")
    stops = client.get(f"/api/v1/visit-plans/{today}", headers=auth_headers(day["bd"])).json
    assert stops["visited"] == 1 and stops["stops"][0]["visited"] is True


def test_overdue_tasks_remind_and_push_once(client, day, redis_client):
    due = clock.now() - timedelta(minutes=5)
    task = create_task(client, day["manager"], user_ids=[day["bd"].id], due_at=due.isoformat())
    later = create_task(
        client, day["manager"], user_ids=[day["bd"].id], due_at=(clock.now() + DAY).isoformat(), kind="custom"
    )
    assert remind_overdue_tasks(now=clock.now()) == 1
    assert remind_overdue_tasks(now=clock.now()) == 0  # idempotent: one to-do (and push) per assignment
    (overdue,) = [item for item in todos(client, day["bd"]) if item["kind"] == "task_overdue"]
    assert overdue["payload"]["task_id"] == task and overdue["overdue"] is True
    message = db.session.scalar(
        select(OutboxMessage).where(OutboxMessage.job == "app.reminders.jobs.push_reminder").order_by(OutboxMessage.id)
    )
    assert message.payload == {"reminder_id": int(overdue["id"][1:])}
    assert f"outbox-{message.id}" in Queue("push", connection=redis_client).job_ids
    # the later task's turn comes at its due time
    assert remind_overdue_tasks(now=clock.now() + DAY + timedelta(minutes=1)) == 1
    assert {i["payload"]["task_id"] for i in todos(client, day["bd"]) if i["kind"] == "task_overdue"} == {task, later}


def test_finishing_an_overdue_task_closes_its_reminder(client, day):
    task = create_task(
        client,
        day["manager"],
        user_ids=[day["bd"].id],
        merchant_id=day["shop"].id,
        due_at=(clock.now() - timedelta(minutes=5)).isoformat(),
    )
    remind_overdue_tasks(now=clock.now())
    assert kinds(client, day["bd"]) == ["task_overdue", "visit"]
    check_in(client, day["bd"], day["shop"].id)
    assert kinds(client, day["bd"]) == []
    assert closed_by("task_overdue", day["bd"]) == "visited"
    assert assignment_of(task, day["bd"]).status == AssignmentStatus.DONE


def test_rejecting_an_overdue_task_closes_its_reminder(client, day):
    create_task(client, day["manager"], user_ids=[day["bd"].id], due_at=(clock.now() - DAY / 2).isoformat())
    remind_overdue_tasks(now=clock.now())
    (task_item,) = [item for item in todos(client, day["bd"]) if item["type"] == "task"]
    response = client.post(
        f"/api/v1/todos/{task_item['id']}/reject", json={"feedback": "Shop closed"}, headers=auth_headers(day["bd"])
    )
    assert response.status_code == 200, response.json
    assert kinds(client, day["bd"]) == []
    assert closed_by("task_overdue", day["bd"]) == "reject"


def test_to_dos_of_a_merged_merchant_move_to_the_survivor(client, day, session):
    gone = MerchantFactory(tenant=day["tenant"], name="Noodle House (dup)", lat=SHOP[0], lng=SHOP[1] + 0.0001)
    gone.audit_status = AuditStatus.PENDING
    session.commit()
    lead_action(client, day["bd"], gone, "claim")
    db.session.expire_all()
    assert remind_dropping_leads(now=db.session.get(Lead, gone.id).drops_at - 2 * DAY) == 1
    task = create_task(client, day["manager"], user_ids=[day["bd"].id], merchant_id=gone.id)
    response = client.post(
        f"/api/v1/merchants/{gone.id}/audit",
        json={"action": "merge", "into_id": day["shop"].id},
        headers=auth_headers(day["ops"]),
    )
    assert response.status_code == 200, response.json
    items = todos(client, day["bd"])
    assert sorted(item["kind"] for item in items) == ["lead_dropping", "visit"]
    assert {item["merchant"]["id"] for item in items} == {day["shop"].id}
    # and a visit at the survivor clears both
    check_in(client, day["bd"], day["shop"].id)
    assert todos(client, day["bd"]) == []
    assert assignment_of(task, day["bd"]).status == AssignmentStatus.DONE
