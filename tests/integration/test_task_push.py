"""Task pushes end to end: API -> outbox -> RQ (burst worker) -> the real firebase-admin SDK -> the local
FCM-compatible server shipped in push/, including every error path the policy handles."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
import redis
from freezegun import freeze_time
from rq import Queue, SimpleWorker
from sqlalchemy import func, select

from app import clock, db, redis_conn
from app.devices.models import Device, PushDelivery
from app.merchants.models import Lead, LeadState
from app.org.models import OrgKind, Role
from app.outbox import service as outbox
from push.fcm_server import LocalFCMServer
from tests.conftest import TEST_REDIS_URL
from tests.factories import MerchantFactory, OrgUnitFactory, TenantFactory, UserFactory, auth_headers

TOKENS = {name: f"{name}-token:APA91b{'x' * 40}" for name in ("bd1_phone", "bd1_tablet", "bd2_phone", "boss_phone")}


@pytest.fixture(scope="module")
def fcm():
    server = LocalFCMServer().start()
    yield server
    server.stop()


@pytest.fixture
def push_env(app, fcm, monkeypatch):
    monkeypatch.setitem(app.config, "PUSH_BACKEND", "fcm")
    monkeypatch.setitem(app.config, "FCM_ENDPOINT", fcm.url)
    httpx.post(f"{fcm.url}/control/reset")
    return fcm


@pytest.fixture
def team(session, client):
    tenant = TenantFactory()
    unit = OrgUnitFactory(tenant=tenant, kind=OrgKind.TEAM)
    boss = UserFactory(tenant=tenant, role=Role.MANAGER, org_unit_id=unit.id)
    bd1 = UserFactory(tenant=tenant, org_unit_id=unit.id, manager_id=boss.id)
    bd2 = UserFactory(tenant=tenant, org_unit_id=unit.id, manager_id=boss.id)
    for user, names in ((bd1, ("bd1_phone", "bd1_tablet")), (bd2, ("bd2_phone",)), (boss, ("boss_phone",))):
        for name in names:
            response = client.post(
                "/api/v1/devices", json={"token": TOKENS[name], "platform": "android"}, headers=auth_headers(user)
            )
            assert response.status_code == 200
    return {"boss": boss, "bd1": bd1, "bd2": bd2}


def work(redis_client):
    SimpleWorker([Queue("push", connection=redis_client)], connection=redis_client).work(burst=True)


def due_retries(redis_client, since):
    """Move scheduled retries into the queue now (what RQ's scheduler does when their time comes).

    Returns each retry's delay counted from ``since`` (taken before the worker ran, so it is a lower bound
    of the delay the job chose; RQ keeps whole seconds).
    """
    queue = Queue("push", connection=redis_client)
    registry = queue.scheduled_job_registry
    delays = []
    for job_id in registry.get_job_ids():
        scheduled = registry.get_scheduled_time(job_id)
        delays.append((scheduled - since).total_seconds() + 1)
        job = queue.fetch_job(job_id)
        registry.remove(job)
        queue.enqueue_job(job)
    return delays


def received(fcm, token=None):
    params = {"token": token} if token else {}
    return httpx.get(f"{fcm.url}/messages", params=params).json()["messages"]


def create_task(client, team, **fields):
    body = {
        "title": "Visit Nanshan Road",
        "body": "Three new openings",
        "kind": "visit",
        "user_ids": [team["bd1"].id, team["bd2"].id],
        **fields,
    }
    response = client.post("/api/v1/tasks", json=body, headers=auth_headers(team["boss"]))
    assert response.status_code == 201, response.json
    return client.get(f"/api/v1/tasks/{response.json['id']}", headers=auth_headers(team["boss"])).json


def deliveries(client, team, task_id):
    return client.get(f"/api/v1/tasks/{task_id}", headers=auth_headers(team["boss"])).json["deliveries"]


def test_a_task_reaches_every_device_of_every_assignee(client, team, push_env, redis_client):
    task = create_task(client, team)
    assert received(push_env) == []  # nothing leaves before the worker runs
    work(redis_client)
    messages = received(push_env)
    assert sorted(m["token"] for m in messages) == sorted(TOKENS[n] for n in ("bd1_phone", "bd1_tablet", "bd2_phone"))
    wire = messages[0]["message"]
    assert wire["data"] == {
        "type": "task",
        "id": str(task["id"]),
        "deep_link": f"fieldsales://tasks/{task['id']}",
        "todo_id": f"t{task['id']}",
    }
    # the assignee's language (the business line's default, en) with the keys for the app's own strings
    assert wire["notification"] == {"title": "New task: Visit Nanshan Road", "body": "Three new openings"}
    assert wire["android"]["notification"]["title_loc_key"] == "push_task_title"
    assert wire["android"]["collapse_key"] == f"task-{task['id']}" and wire["android"]["priority"] == "high"
    assert wire["apns"]["headers"]["apns-collapse-id"] == f"task-{task['id']}"
    assert deliveries(client, team, task["id"]) == {"devices": 3, "sent": 3, "pending": 0, "failed": 0, "attempts": 3}


def test_unregistered_token_deletes_the_device(client, team, push_env, redis_client):
    httpx.post(f"{push_env.url}/control/unregistered", json={"tokens": [TOKENS["bd1_tablet"]]})
    task = create_task(client, team)
    work(redis_client)
    assert db.session.scalar(select(Device).where(Device.token == TOKENS["bd1_tablet"])) is None
    log = db.session.scalar(select(PushDelivery).where(PushDelivery.status == "deleted"))
    assert log.error_code == "UNREGISTERED" and log.device_id is None and log.device_key
    assert deliveries(client, team, task["id"]) == {"devices": 3, "sent": 2, "pending": 0, "failed": 1, "attempts": 3}


def test_sender_id_mismatch_disables_the_device(client, team, push_env, redis_client):
    httpx.post(f"{push_env.url}/control/sender-mismatch", json={"tokens": [TOKENS["bd2_phone"]]})
    create_task(client, team)
    work(redis_client)
    device = db.session.scalar(select(Device).where(Device.token == TOKENS["bd2_phone"]))
    assert device.disabled_at is not None and device.disabled_reason == "SENDER_ID_MISMATCH"
    create_task(client, team)
    work(redis_client)
    assert len(received(push_env, TOKENS["bd2_phone"])) == 0  # a disabled device is not tried again


def test_outage_with_retry_after_is_retried_and_then_delivered(client, team, push_env, redis_client):
    httpx.post(f"{push_env.url}/control/outage", json={"status": 503, "seconds": None, "retry_after": 120})
    task = create_task(client, team)
    before = clock.now()
    work(redis_client)
    assert received(push_env) == []
    assert deliveries(client, team, task["id"])["pending"] == 3
    delays = due_retries(redis_client, before)
    assert delays and all(delay >= 120 for delay in delays)  # Retry-After honoured
    httpx.delete(f"{push_env.url}/control/outage")
    work(redis_client)
    assert len(received(push_env)) == 3
    assert deliveries(client, team, task["id"]) == {"devices": 3, "sent": 3, "pending": 0, "failed": 0, "attempts": 6}


def test_quota_exceeded_waits_at_least_a_minute(client, team, push_env, redis_client):
    httpx.post(f"{push_env.url}/control/outage", json={"status": 429, "seconds": None, "retry_after": 1})
    create_task(client, team)
    before = clock.now()
    work(redis_client)
    delays = due_retries(redis_client, before)
    assert delays and min(delays) >= 60


def test_redis_down_at_creation_then_back(client, team, push_env, redis_client, app, monkeypatch):
    real = app.config["REDIS_URL"]
    monkeypatch.setitem(app.config, "REDIS_URL", "redis://127.0.0.1:1/0")
    task = create_task(client, team)  # the request succeeds without Redis
    monkeypatch.setitem(app.config, "REDIS_URL", real)
    assert Queue("push", connection=redis_client).count == 0
    with freeze_time(clock.now() + outbox.STALE_AFTER + timedelta(seconds=5)):
        assert outbox.sweep() >= 1
    work(redis_client)
    assert deliveries(client, team, task["id"])["sent"] == 3


def test_a_token_that_moved_to_another_user_follows_them(client, team, push_env, redis_client):
    client.post(
        "/api/v1/devices",
        json={"token": TOKENS["bd1_tablet"], "platform": "android"},
        headers=auth_headers(team["boss"]),
    )
    create_task(client, team, user_ids=[team["bd1"].id])
    work(redis_client)
    assert [m["token"] for m in received(push_env)] == [TOKENS["bd1_phone"]]


def test_completion_pushes_the_creator(client, team, push_env, redis_client):
    task = create_task(client, team, user_ids=[team["bd1"].id])
    work(redis_client)
    assignment = task["assignments"][0]["id"]
    client.post(
        f"/api/v1/todos/a{assignment}/done", json={"feedback": "Signed two of three"}, headers=auth_headers(team["bd1"])
    )
    work(redis_client)
    boss = received(push_env, TOKENS["boss_phone"])
    assert len(boss) == 1 and boss[0]["message"]["data"]["type"] == "task_feedback"


def test_large_fan_outs_are_split_into_chunk_jobs(client, team, push_env, redis_client, monkeypatch):
    from app.tasks import jobs

    monkeypatch.setattr(jobs, "CHUNK_DEVICES", 2)
    task = create_task(client, team)
    work(redis_client)  # the first job splits 3 devices into 2 chunk jobs, the worker then runs them
    assert len(received(push_env)) == 3
    assert deliveries(client, team, task["id"]) == {"devices": 3, "sent": 3, "pending": 0, "failed": 0, "attempts": 3}


def test_large_tasks_write_their_assignments_in_a_job_then_push(client, team, push_env, redis_client, monkeypatch):
    from app.tasks import service

    monkeypatch.setattr(service, "INLINE_ASSIGNMENTS", 1)
    task = create_task(client, team)
    assert task["progress"]["total"] == 2 and task["progress"]["queued"] == 2 and task["progress"]["assigned"] == 0
    assert task["assignments"] == []
    bd1_todos = client.get("/api/v1/todos", headers=auth_headers(team["bd1"])).json["items"]
    assert not [t for t in bd1_todos if t.get("task_id") == task["id"]]
    work(redis_client)  # the fan-out job writes the assignments, commits, and queues the push it then runs
    after = client.get(f"/api/v1/tasks/{task['id']}", headers=auth_headers(team["boss"])).json
    assert after["progress"]["total"] == 2 and after["progress"]["queued"] == 0 and after["progress"]["assigned"] == 2
    assert sorted(a["assignee"]["id"] for a in after["assignments"]) == sorted([team["bd1"].id, team["bd2"].id])
    assert len(received(push_env)) == 3
    assert service.expand_fanout(task["id"]) == 0  # a retried job finds nothing left to do
    assert len(after["assignments"]) == 2


def test_bulk_strategy_tasks_are_pushed_each_to_its_owner(client, team, push_env, redis_client, session):
    tenant_id = team["bd1"].tenant_id
    shops = [MerchantFactory(tenant_id=tenant_id, name=f"Strategy shop {i}") for i in range(3)]
    for shop, owner in zip(shops, (team["bd1"], team["bd2"], team["bd2"])):
        session.add(
            Lead(
                merchant_id=shop.id,
                tenant_id=tenant_id,
                state=LeadState.PRIVATE,
                owner_id=owner.id,
                claimed_at=clock.now(),
                drops_at=clock.now() + timedelta(days=10),
                drop_reason="no_visit",
            )
        )
    session.commit()
    response = client.post(
        "/api/v1/tasks/bulk",
        headers=auth_headers(team["boss"]),
        json={
            "title": "Match Meituan",
            "kind": "price_adjust",
            "items": [
                {"merchant_id": shop.id, "payload": {"their_price": str(80 + i)}} for i, shop in enumerate(shops)
            ],
        },
    )
    assert response.status_code == 201, response.json
    task_ids = response.json["task_ids"]
    assert len(task_ids) == 3 and received(push_env) == []
    work(redis_client)  # one outbox job queues a push per task
    by_task = {}
    for message in received(push_env):
        by_task.setdefault(message["message"]["data"]["id"], []).append(message["token"])
    assert sorted(by_task[str(task_ids[0])]) == sorted([TOKENS["bd1_phone"], TOKENS["bd1_tablet"]])
    assert by_task[str(task_ids[1])] == [TOKENS["bd2_phone"]] and by_task[str(task_ids[2])] == [TOKENS["bd2_phone"]]
    todos = client.get("/api/v1/todos", headers=auth_headers(team["bd2"])).json["items"]
    assert sorted(t["payload"]["their_price"] for t in todos if t["task_id"] in task_ids) == ["81", "82"]


class QueueLosingRedis(Queue):
    """A real RQ queue on its own connection to the test Redis, which goes away after ``survive`` enqueues
    (its connection pool is swapped for one to a closed port: the next command fails as in a Redis outage)."""

    def __init__(self, name: str, *, survive: int) -> None:
        super().__init__(name, connection=redis.Redis.from_url(TEST_REDIS_URL))
        self.survive = survive

    def enqueue(self, *args, **kwargs):
        if self.survive == 0:
            self.connection.connection_pool = redis.ConnectionPool.from_url("redis://127.0.0.1:1/0")
        self.survive -= 1
        return super().enqueue(*args, **kwargs)


def test_bulk_push_queued_again_after_redis_failed_half_way_reaches_each_phone_once(
    client, team, push_env, redis_client, session, monkeypatch
):
    tenant_id = team["bd1"].tenant_id
    shops = [MerchantFactory(tenant_id=tenant_id, name=f"Retry shop {i}") for i in range(3)]
    for shop, owner in zip(shops, (team["bd1"], team["bd2"], team["bd2"])):
        session.add(
            Lead(
                merchant_id=shop.id,
                tenant_id=tenant_id,
                state=LeadState.PRIVATE,
                owner_id=owner.id,
                claimed_at=clock.now(),
                drops_at=clock.now() + timedelta(days=10),
                drop_reason="no_visit",
            )
        )
    session.commit()
    response = client.post(
        "/api/v1/tasks/bulk",
        headers=auth_headers(team["boss"]),
        json={"title": "Match Meituan", "kind": "price_adjust", "items": [{"merchant_id": s.id} for s in shops]},
    )
    assert response.status_code == 201, response.json
    task_ids = response.json["task_ids"]

    flaky = QueueLosingRedis("push", survive=2)
    with monkeypatch.context() as patch:
        patch.setattr(redis_conn, "queue", lambda name="default", url=None: flaky)
        work(redis_client)  # the outbox job queues two pushes, then Redis fails: the job fails, its row stays pending
    assert Queue("push", connection=redis_client).failed_job_registry.count == 1
    assert len(received(push_env)) == 3  # the two pushes queued before the failure went out

    with freeze_time(clock.now() + outbox.STALE_AFTER + timedelta(seconds=1)):
        assert outbox.sweep() == 1  # the outbox retries the whole job
    work(redis_client)
    by_task = {}
    for message in received(push_env):
        by_task.setdefault(message["message"]["data"]["id"], []).append(message["token"])
    assert sorted(by_task[str(task_ids[0])]) == sorted([TOKENS["bd1_phone"], TOKENS["bd1_tablet"]])
    assert by_task[str(task_ids[1])] == [TOKENS["bd2_phone"]] and by_task[str(task_ids[2])] == [TOKENS["bd2_phone"]]
    assert session.scalar(select(func.count()).select_from(PushDelivery).where(PushDelivery.task_id.in_(task_ids))) == 4
