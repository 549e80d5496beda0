"""Push fan-out jobs (RQ): ids in, own session, safe to run again.

A task's push goes to every device of every open assignee. Each device's outcome is logged (the delivery
log behind ``GET /tasks/{id}``) and acted on: dead tokens are deleted, mismatched ones disabled, and
transient failures are retried later for just the devices that failed, with the delay the policy chose.
"""

from __future__ import annotations

import hashlib
import logging
from collections import defaultdict
from datetime import timedelta
from typing import Any

from rq import Retry
from sqlalchemy import delete, select, update

from app import clock, db, push_gateway, redis_conn
from app.devices.models import Device, PushDelivery
from app.tasks.models import AssignmentStatus, Reminder, Task, TaskAssignment
from push.messages import PushContent

log = logging.getLogger(__name__)

# A fan-out larger than this is split into jobs of this many devices, so several workers share it.
CHUNK_DEVICES = 1000

# Jobs not backed by an outbox row are retried by RQ itself when they fail, or when their worker dies
# mid-job (RQ's registry cleanup finds them abandoned); a re-run resends at most what the dead job had sent.
ABANDONED_RETRY = Retry(max=3, interval=[30, 120, 600])

STATUS_OF = {"sent": "sent", "retry": "retry", "failed": "failed", "delete_device": "deleted",
             "disable_device": "disabled"}


@db.job
def expand_fanout(task_id: int) -> dict[str, int]:
    """Write a large task's assignments (stored by the API call) and queue its push."""
    from app.tasks import service

    task = db.session.get(Task, task_id)
    if task is None:
        return {}
    db.scope_to_tenant(task.tenant_id)
    return {"assignments": service.expand_fanout(task_id)}


@db.job
def push_many(task_ids: list[int]) -> dict[str, int]:
    """Queue the push of each task of a bulk creation (one outbox row for all of them)."""
    queue = redis_conn.queue("push")
    for task_id in task_ids:
        queue.enqueue(push_assignments, task_id=task_id, attempt=1, failure_ttl=7 * 86400, retry=ABANDONED_RETRY)
    return {"tasks": len(task_ids)}


@db.job
def push_assignments(task_id: int, attempt: int = 1, device_ids: list[int] | None = None) -> dict[str, int]:
    task = db.session.get(Task, task_id)
    if task is None:
        return {}
    open_assignments = select(TaskAssignment.assignee_id, TaskAssignment.id).where(
        TaskAssignment.task_id == task.id,
        TaskAssignment.status.in_((AssignmentStatus.ASSIGNED, AssignmentStatus.ACCEPTED)),
    )
    if device_ids is None:
        targets = list(db.session.scalars(select(Device.id).where(
            Device.user_id.in_(open_assignments.with_only_columns(TaskAssignment.assignee_id)),
            Device.disabled_at.is_(None),
        ).order_by(Device.id)))
        if len(targets) > CHUNK_DEVICES:
            queue = redis_conn.queue("push")
            for start in range(0, len(targets), CHUNK_DEVICES):
                queue.enqueue(push_assignments, task_id=task.id, attempt=1,
                              device_ids=targets[start:start + CHUNK_DEVICES], failure_ttl=7 * 86400,
                              retry=ABANDONED_RETRY)
            return {"chunks": -(-len(targets) // CHUNK_DEVICES)}
    assignments = dict(db.session.execute(open_assignments).all())
    message = {
        "title": task.title,
        "body": (task.body or task.title)[:240],
        "data": {"type": "task", "id": str(task.id), "deep_link": f"fieldsales://tasks/{task.id}"},
        "collapse_key": f"task-{task.id}",
    }
    return _deliver(
        tenant_id=task.tenant_id, users=list(assignments), message=message, attempt=attempt, device_ids=device_ids,
        log_fields=lambda device: {"task_id": task.id, "assignment_id": assignments[device.user_id]},
        retry=lambda delay, ids: _retry_later(push_assignments, delay, task_id=task.id, attempt=attempt + 1,
                                              device_ids=ids),
    )


@db.job
def push_reminder(reminder_id: int, attempt: int = 1, device_ids: list[int] | None = None) -> dict[str, int]:
    reminder = db.session.get(Reminder, reminder_id)
    if reminder is None or reminder.done_at is not None:
        return {}
    message = {
        "title": reminder.title,
        "body": reminder.title,
        "data": {"type": reminder.kind, "id": f"r{reminder.id}", "deep_link": "fieldsales://todos"},
        "collapse_key": f"reminder-{reminder.id}",
        "channel_id": "reminders",
    }
    return _deliver(
        tenant_id=reminder.tenant_id, users=[reminder.user_id], message=message, attempt=attempt,
        device_ids=device_ids, log_fields=lambda device: {"reminder_id": reminder.id},
        retry=lambda delay, ids: _retry_later(push_reminder, delay, reminder_id=reminder.id, attempt=attempt + 1,
                                              device_ids=ids),
    )


def _deliver(*, tenant_id: int, users: list[int], message: dict[str, Any], attempt: int,
             device_ids: list[int] | None, log_fields: Any, retry: Any) -> dict[str, int]:
    query = select(Device).where(Device.user_id.in_(users), Device.disabled_at.is_(None))
    if device_ids is not None:
        query = query.where(Device.id.in_(device_ids))
    devices = {device.token: device for device in db.session.scalars(query)}
    if not devices:
        return {}
    content = PushContent(title=message["title"], body=message["body"], data=message["data"],
                          collapse_key=message["collapse_key"], channel_id=message.get("channel_id", "tasks"))
    outcomes = push_gateway.backend().send(list(devices), content, attempt=attempt)
    counts: dict[str, int] = defaultdict(int)
    retries: dict[float, list[int]] = defaultdict(list)
    dead, disabled = [], []
    for outcome in outcomes:
        device = devices[outcome.token]
        status = STATUS_OF[outcome.status]
        counts[status] += 1
        db.session.add(PushDelivery(
            tenant_id=tenant_id, device_id=device.id, device_key=device_key(device.token), user_id=device.user_id,
            attempt=attempt, status=status,
            error_code=outcome.error_code, message_id=outcome.message_id, **log_fields(device),
        ))
        if outcome.status == "delete_device":
            dead.append(device.id)
        elif outcome.status == "disable_device":
            disabled.append(device.id)
        elif outcome.status == "retry":
            retries[round(outcome.retry_after_s or 0.0, 1)].append(device.id)
    db.session.flush()
    if dead:
        db.session.execute(delete(Device).where(Device.id.in_(dead)))
    if disabled:
        log.warning("disabling %s devices after SENDER_ID_MISMATCH", len(disabled))
        db.session.execute(update(Device).where(Device.id.in_(disabled))
                           .values(disabled_at=clock.now(), disabled_reason="SENDER_ID_MISMATCH"))
    for delay, ids in retries.items():
        # bound now: the lambda runs after the commit, when the loop has moved on
        db.on_commit(lambda delay=delay, ids=ids: retry(delay, ids))
    return dict(counts)


def device_key(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()[:16]


def _retry_later(func: Any, delay_s: float, **kwargs: Any) -> None:
    redis_conn.queue("push").enqueue_in(timedelta(seconds=max(1.0, delay_s)), func, retry=ABANDONED_RETRY, **kwargs)
