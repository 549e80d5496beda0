"""Task push fan-out jobs (RQ): ids in, own unit of work, safe to run again.

A task's push goes to every device of every open assignee, through ``app.devices.push``.
"""

from __future__ import annotations

from rq.job import Job
from sqlalchemy import select

from app import db, redis_conn
from app.devices import push
from app.devices.models import Device
from app.reminders.jobs import push_reminder  # noqa: F401 - queued jobs and outbox rows may name this old path
from app.tasks import service
from app.tasks.models import AssignmentStatus, Task, TaskAssignment

# A fan-out larger than this is split into jobs of this many devices, so several workers share it.
CHUNK_DEVICES = 1000


@db.job
def expand_fanout(task_id: int) -> dict[str, int]:
    """Write a large task's assignments (stored by the API call) and queue its push."""
    task = db.session.get(Task, task_id)
    if task is None:
        return {}
    db.scope_to_tenant(task.tenant_id)
    return {"assignments": service.expand_fanout(task_id)}


# How long RQ keeps a finished first push of a bulk task, so that a late retry of the outbox job still finds it.
FIRST_PUSH_RESULT_TTL_S = 24 * 3600


def first_push_job_id(task_id: int) -> str:
    """The RQ job id of a task's first push: one task, one id, however often its outbox job is retried."""
    return f"task-{task_id}-push-1"


@db.job
def push_many(task_ids: list[int]) -> dict[str, int]:
    """Queue the push of each task of a bulk creation (one outbox row for all of them).

    When Redis fails half-way the outbox row stays pending and the whole job runs again; each push has a
    deterministic job id, so the tasks queued before the failure are skipped rather than queued twice.
    """
    queue = redis_conn.queue("push")
    queued = 0
    for task_id in task_ids:
        job_id = first_push_job_id(task_id)
        if Job.exists(job_id, connection=queue.connection):
            continue  # queued (or already run, or failed and retried by RQ) by an earlier run of this job
        queue.enqueue(
            push_assignments,
            task_id=task_id,
            attempt=1,
            job_id=job_id,
            result_ttl=FIRST_PUSH_RESULT_TTL_S,
            failure_ttl=redis_conn.FAILED_JOB_TTL_S,
            retry=push.ABANDONED_RETRY,
        )
        queued += 1
    return {"tasks": len(task_ids), "queued": queued}


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
        targets = list(
            db.session.scalars(
                select(Device.id)
                .where(
                    Device.user_id.in_(open_assignments.with_only_columns(TaskAssignment.assignee_id)),
                    Device.disabled_at.is_(None),
                )
                .order_by(Device.id)
            )
        )
        if len(targets) > CHUNK_DEVICES:
            queue = redis_conn.queue("push")
            for start in range(0, len(targets), CHUNK_DEVICES):
                queue.enqueue(
                    push_assignments,
                    task_id=task.id,
                    attempt=1,
                    device_ids=targets[start : start + CHUNK_DEVICES],
                    failure_ttl=redis_conn.FAILED_JOB_TTL_S,
                    retry=push.ABANDONED_RETRY,
                )
            return {"chunks": -(-len(targets) // CHUNK_DEVICES)}
    assignments = dict(db.session.execute(open_assignments).all())
    message = {
        "title": task.title,
        "body": (task.body or task.title)[:240],
        "data": {"type": "task", "id": str(task.id), "deep_link": f"fieldsales://tasks/{task.id}"},
        "collapse_key": f"task-{task.id}",
    }
    return push.deliver(
        tenant_id=task.tenant_id,
        users=list(assignments),
        message=message,
        attempt=attempt,
        device_ids=device_ids,
        log_fields=lambda device: {"task_id": task.id, "assignment_id": assignments[device.user_id]},
        retry=lambda delay, ids: push.retry_later(
            push_assignments, delay, task_id=task.id, attempt=attempt + 1, device_ids=ids
        ),
    )
