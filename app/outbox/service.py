"""Enqueue background jobs only after the transaction commits, through the outbox table.

``enqueue_after_commit`` writes an outbox row in the caller's transaction. After the commit it is pushed
to RQ; if Redis is down at that moment the row stays pending and ``sweep`` (scheduled with the worker)
enqueues it once Redis is back. Jobs run through ``dispatch``, which marks the row processed, so a row
enqueued twice runs once.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from flask import current_app
from redis.exceptions import RedisError
from rq import get_current_job
from rq.job import Job, JobStatus
from sqlalchemy import select

from app import clock, db, redis_conn
from app.outbox.models import OutboxMessage
from app.web import request_id

log = logging.getLogger(__name__)

STALE_AFTER = timedelta(seconds=30)


def job_path(job: str | Callable[..., Any]) -> str:
    """The dotted path a job is stored under (RQ and outbox rows name functions by it)."""
    return job if isinstance(job, str) else f"{job.__module__}.{job.__qualname__}"


def enqueue_after_commit(job: str | Callable[..., Any], queue: str = "default", **payload: Any) -> OutboxMessage:
    """Record a job in the current transaction; RQ sees it only if the transaction commits.

    ``job`` is the function, or its dotted path where importing it would point a dependency upwards.
    """
    message = OutboxMessage(job=job_path(job), queue=queue, payload=payload)
    session = db.session()
    session.add(message)
    session.flush()
    redis_url = current_app.config["REDIS_URL"]
    db.on_commit(lambda: _push(message.id, queue, redis_url, message.job))
    return message


def _job_id(message_id: int) -> str:
    return f"outbox-{message_id}"


def _push(message_id: int, queue_name: str, redis_url: str, job: str | None = None) -> bool:
    try:
        connection = redis_conn.client(redis_url)
        existing = (
            Job.fetch(_job_id(message_id), connection=connection)
            if Job.exists(_job_id(message_id), connection)
            else None
        )
        if existing is not None and existing.get_status() in (JobStatus.QUEUED, JobStatus.STARTED, JobStatus.SCHEDULED):
            return True
        # the job's log lines carry the id of the request that caused it (None when the sweep re-enqueues)
        redis_conn.queue(queue_name, redis_url).enqueue(
            dispatch,
            message_id,
            job_id=_job_id(message_id),
            failure_ttl=redis_conn.FAILED_JOB_TTL_S,
            # the row's job names the RQ job in metrics (app.metrics.job_function)
            meta={"request_id": request_id.current(), "job": job},
        )
        return True
    except RedisError as exc:
        log.warning("outbox %s left pending, redis unavailable: %s", message_id, exc)
        return False


def _resolve(path: str) -> Any:
    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)


def dispatch(message_id: int) -> str:
    """RQ entry point: run an outbox row's job once, then mark it processed."""
    job = get_current_job()
    with request_id.bind(job.meta.get("request_id") if job is not None else None):
        return _dispatch(message_id)


def _dispatch(message_id: int) -> str:
    """The row's job runs in the row's unit of work: its effects and ``processed_at`` commit together."""
    try:
        with db.atomic():
            message = db.session.execute(
                select(OutboxMessage).where(OutboxMessage.id == message_id).with_for_update(skip_locked=True)
            ).scalar_one_or_none()
            if message is None or message.processed_at is not None:
                return "skipped"
            message.attempts += 1
            _resolve(message.job)(**message.payload)
            message.processed_at = clock.now()
            return "done"
    except Exception as exc:
        _record_failure(message_id, exc)
        raise
    finally:
        db.session.remove()


def _record_failure(message_id: int, exc: Exception) -> None:
    with db.atomic():
        message = db.session.get(OutboxMessage, message_id)
        if message is not None:
            message.attempts += 1
            message.last_error = f"{exc.__class__.__name__}: {exc}"[:2000]


def sweep(limit: int = 1000) -> int:
    """Enqueue pending outbox rows older than a few seconds (Redis was down, or a worker died)."""
    try:
        with db.atomic():
            rows = db.session.execute(
                select(OutboxMessage.id, OutboxMessage.queue, OutboxMessage.job)
                .where(OutboxMessage.processed_at.is_(None), OutboxMessage.created_at < clock.now() - STALE_AFTER)
                .order_by(OutboxMessage.id)
                .limit(limit)
            ).all()
        redis_url = current_app.config["REDIS_URL"]
        return sum(_push(row.id, row.queue, redis_url, row.job) for row in rows)
    finally:
        db.session.remove()
