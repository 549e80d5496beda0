"""Task push fan-out jobs (RQ): ids in, own unit of work, safe to run again.

A task's push goes to every device of every open assignee, through ``app.devices.push``.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime
from typing import Any

from rq.job import Job
from sqlalchemy import select

from app import clock, db, redis_conn
from app.devices import push
from app.devices.models import Device
from app.i18n import Text
from app.org.locales import locales_of
from app.outbox.service import enqueue_after_commit

# queued jobs and outbox rows may also name push_reminder by this module's (older) path
from app.reminders.jobs import push_reminder
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
    by_locale: dict[str, list[int]] = defaultdict(list)
    for user_id, locale in locales_of(assignments).items():
        by_locale[locale].append(user_id)
    counts: Counter[str] = Counter()
    for locale, users in sorted(by_locale.items()):
        counts.update(
            push.deliver(
                tenant_id=task.tenant_id,
                users=users,
                message=task_message(task, locale),
                attempt=attempt,
                device_ids=device_ids,
                log_fields=lambda device: {"task_id": task.id, "assignment_id": assignments[device.user_id]},
                retry=lambda delay, ids: push.retry_later(
                    push_assignments, delay, task_id=task.id, attempt=attempt + 1, device_ids=ids
                ),
            )
        )
    return dict(counts)


def task_message(task: Task, locale: str) -> dict[str, Any]:
    """A task's push in one language; the to-do id in ``todo_id`` opens it with ``GET /todos/{id}``."""
    title = Text("push_task_title", {"title": task.title})
    body = Text("push_task_body", {"body": (task.body or task.title)[:240]})
    return {
        "title": title.render(locale),
        "body": body.render(locale),
        "title_loc_key": title.key,
        "title_loc_args": title.positional_args(),
        "body_loc_key": body.key,
        "body_loc_args": body.positional_args(),
        "data": {
            "type": "task",
            "id": str(task.id),
            "deep_link": f"fieldsales://tasks/{task.id}",
            "todo_id": f"t{task.id}",
        },
        "collapse_key": f"task-{task.id}",
    }


@db.job
def remind_overdue_tasks(now: datetime | None = None) -> int:
    """Periodic: a to-do and one push for each open assignment whose task fell due (idempotent: dedupe keys)."""
    created = service.remind_overdue(now or clock.now())
    for reminder_id in created:
        # the push leaves only if the reminder commits
        enqueue_after_commit(push_reminder, queue="push", reminder_id=reminder_id)
    return len(created)
