"""Jobs reach RQ only after commit, survive a Redis outage, and run once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from freezegun import freeze_time
from rq import Queue, SimpleWorker

from app import clock, db
from app.outbox import service as outbox
from app.outbox.models import OutboxMessage
from app.web import request_id
from tests.jobs import REMEMBERED

JOB = "tests.jobs.remember"


def run_worker(redis_client):
    SimpleWorker([Queue("default", connection=redis_client)], connection=redis_client).work(burst=True)


def test_job_is_enqueued_only_after_commit_and_runs_once(session, redis_client):
    message = outbox.enqueue_after_commit(JOB, value="hello")
    message_id = message.id
    queue = Queue("default", connection=redis_client)
    assert queue.count == 0  # nothing leaves before the commit
    session.commit()
    assert queue.job_ids == [f"outbox-{message_id}"]
    run_worker(redis_client)
    assert redis_client.lrange(REMEMBERED, 0, -1) == [b"hello"]
    assert db.session.get(OutboxMessage, message_id).processed_at is not None
    # a second delivery of the same row (sweeper, retry) is a no-op
    assert outbox.dispatch(message_id) == "skipped"
    assert redis_client.llen(REMEMBERED) == 1


def test_job_logs_carry_the_request_id_that_caused_them(session, redis_client):
    with request_id.bind("req-0123456789"):
        outbox.enqueue_after_commit("tests.jobs.remember_request_id", value="pushed")
        session.commit()
    run_worker(redis_client)
    assert redis_client.lrange(REMEMBERED, 0, -1) == [b"pushed:req-0123456789"]


def test_rolled_back_transaction_sends_nothing(session, redis_client):
    outbox.enqueue_after_commit(JOB, value="never")
    session.rollback()
    assert Queue("default", connection=redis_client).count == 0
    assert session.query(OutboxMessage).count() == 0


def test_redis_outage_at_commit_loses_nothing(session, redis_client, app, monkeypatch):
    monkeypatch.setitem(app.config, "REDIS_URL", "redis://127.0.0.1:1/0")
    message_id = outbox.enqueue_after_commit(JOB, value="survivor").id
    session.commit()  # the request would succeed: Redis is not on the critical path
    monkeypatch.undo()  # Redis is back
    assert Queue("default", connection=redis_client).count == 0
    assert outbox.sweep() == 0  # too fresh: the after-commit push may still be on its way
    with freeze_time(clock.now() + outbox.STALE_AFTER + timedelta(seconds=1)):
        assert outbox.sweep() == 1
    run_worker(redis_client)
    assert redis_client.lrange(REMEMBERED, 0, -1) == [b"survivor"]
    assert db.session.get(OutboxMessage, message_id).processed_at is not None


def test_sweep_does_not_duplicate_a_job_still_waiting_in_the_queue(session, redis_client):
    outbox.enqueue_after_commit(JOB, value="once")
    session.commit()
    with freeze_time(clock.now() + timedelta(minutes=5)):
        outbox.sweep()
    assert Queue("default", connection=redis_client).count == 1


def test_failing_job_stays_pending_with_the_error(session, redis_client):
    message_id = outbox.enqueue_after_commit("tests.jobs.explode", value="x").id
    session.commit()
    run_worker(redis_client)
    stored = db.session.get(OutboxMessage, message_id)
    assert stored.processed_at is None
    assert stored.attempts == 1 and "job failed for x" in stored.last_error
    assert Queue("default", connection=redis_client).failed_job_registry.count == 1


@pytest.mark.parametrize("path", ["tests.jobs.missing", "no.such.module.fn"])
def test_unknown_job_path_fails_visibly(session, redis_client, path):
    message_id = outbox.enqueue_after_commit(path).id
    session.commit()
    run_worker(redis_client)
    assert db.session.get(OutboxMessage, message_id).last_error
