"""Reading tasks and the to-do center."""

from __future__ import annotations

import re
from collections import Counter
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from app import clock, db
from app.devices.models import PushDelivery
from app.errors import TaskNotFound, TodoNotFound
from app.i18n import Text
from app.merchants.models import Lead, LeadState, Merchant
from app.org.locales import user_locale
from app.org.models import Role, User
from app.org.scope import managed_user_ids
from app.pagination import decode_cursor, encode_cursor, fingerprint
from app.reminders.models import Reminder
from app.reminders.service import LEAD_DROPPING, SIGN_CONFIRMATION, TASK_OVERDUE
from app.tasks.models import AssignmentStatus, Task, TaskAssignment, TaskFanout

OPEN = (AssignmentStatus.ASSIGNED, AssignmentStatus.ACCEPTED)
FAR_FUTURE = "9999-12-31T00:00:00+00:00"


def _person(user: User) -> dict[str, Any]:
    return {"id": user.id, "name": user.name}


def _overdue(due_at: datetime | None, open_: bool, now: datetime) -> bool:
    return bool(open_ and due_at and due_at < now)


def _progress(task_ids: list[int], now: datetime) -> dict[int, dict[str, int]]:
    rows = db.session.execute(
        select(TaskAssignment.task_id, TaskAssignment.status, Task.due_at, func.count())
        .join(Task, Task.id == TaskAssignment.task_id)
        .where(TaskAssignment.task_id.in_(task_ids))
        .group_by(TaskAssignment.task_id, TaskAssignment.status, Task.due_at)
    ).all()
    progress: dict[int, dict[str, int]] = {
        tid: {"total": 0, "queued": 0, "assigned": 0, "accepted": 0, "done": 0, "rejected": 0, "overdue": 0}
        for tid in task_ids
    }
    for task_id, queued in db.session.execute(
        select(TaskFanout.task_id, func.cardinality(TaskFanout.assignees)).where(TaskFanout.task_id.in_(task_ids))
    ):
        progress[task_id]["queued"] = queued
        progress[task_id]["total"] += queued
    for task_id, status, due_at, count in rows:
        entry = progress[task_id]
        entry["total"] += count
        entry[status.value] += count
        if _overdue(due_at, status in OPEN, now):
            entry["overdue"] += count
    return progress


def _task_summary(task: Task, progress: dict[str, int], now: datetime) -> dict[str, Any]:
    return {
        "id": task.id,
        "title": task.title,
        "body": task.body,
        "kind": task.kind.value,
        "priority": task.priority,
        "merchant_id": task.merchant_id,
        "due_at": task.due_at,
        "created_at": task.created_at,
        "creator_id": task.creator_id,
        "progress": progress,
        "overdue": bool(task.due_at and task.due_at < now and progress["assigned"] + progress["accepted"]),
    }


def task_summary(task: Task) -> dict[str, Any]:
    now = clock.now()
    return _task_summary(task, _progress([task.id], now)[task.id], now)


def created_tasks(user: User, limit: int, cursor: str | None) -> dict[str, Any]:
    query_key = fingerprint({"creator": user.id})
    statement = select(Task).where(Task.creator_id == user.id)
    if cursor:
        (after_id,) = decode_cursor(cursor, query_key, (int,))
        statement = statement.where(Task.id < after_id)
    tasks = db.session.scalars(statement.order_by(Task.id.desc()).limit(limit + 1)).all()
    page = tasks[:limit]
    now = clock.now()
    progress = _progress([t.id for t in page], now)
    return {
        "items": [_task_summary(t, progress[t.id], now) for t in page],
        "next_cursor": encode_cursor([page[-1].id], query_key) if len(tasks) > limit else None,
    }


def _may_see(user: User, task: Task, assignee_ids: set[int]) -> bool:
    if user.role in (Role.OPS, Role.ADMIN) or task.creator_id == user.id or user.id in assignee_ids:
        return True
    if user.role == Role.MANAGER:
        return (
            db.session.scalar(
                select(func.count())
                .select_from(User)
                .where(User.id.in_(assignee_ids), User.id.in_(managed_user_ids(user)))
            )
            > 0
        )
    return False


def task_detail(user: User, task_id: int) -> dict[str, Any]:
    task = db.get(Task, task_id)
    if task is None:
        raise TaskNotFound()
    rows = db.session.execute(
        select(TaskAssignment, User)
        .join(User, User.id == TaskAssignment.assignee_id)
        .where(TaskAssignment.task_id == task.id)
        .order_by(TaskAssignment.id)
    ).all()
    if not _may_see(user, task, {a.assignee_id for a, _ in rows}):
        raise TaskNotFound()
    if user.role == Role.BD and task.creator_id != user.id:
        rows = [(a, u) for a, u in rows if a.assignee_id == user.id]  # a BD sees only their own assignment
    now = clock.now()
    deliveries = _delivery_counts(task.id)
    summary = _task_summary(task, _progress([task.id], now)[task.id], now)
    summary["assignments"] = [
        {
            "id": a.id,
            "assignee": _person(u),
            "status": a.status.value,
            "merchant_id": a.merchant_id,
            "payload": a.payload,
            "feedback": a.feedback,
            "accepted_at": a.accepted_at,
            "completed_at": a.completed_at,
            "overdue": _overdue(task.due_at, a.status in OPEN, now),
            "deliveries": deliveries.get(a.id, _no_deliveries()),
        }
        for a, u in rows
    ]
    summary["deliveries"] = _sum_deliveries(deliveries.values()) if user.role != Role.BD else None
    return summary


def _no_deliveries() -> dict[str, int]:
    return {"devices": 0, "sent": 0, "pending": 0, "failed": 0, "attempts": 0}


def _delivery_counts(task_id: int) -> dict[int, dict[str, int]]:
    """Per assignment: devices targeted, by the latest outcome per device, and all attempts."""
    rows = db.session.execute(
        select(PushDelivery.assignment_id, PushDelivery.device_key, PushDelivery.status, PushDelivery.attempt)
        .where(PushDelivery.task_id == task_id)
        .order_by(PushDelivery.assignment_id, PushDelivery.device_key, PushDelivery.attempt, PushDelivery.id)
    ).all()
    latest: dict[tuple[int, str], str] = {}
    attempts: Counter[int] = Counter()
    for assignment_id, device_id, status, _attempt in rows:
        latest[(assignment_id, device_id)] = status
        attempts[assignment_id] += 1
    counts: dict[int, dict[str, int]] = {}
    for (assignment_id, _device), status in latest.items():
        entry = counts.setdefault(assignment_id, _no_deliveries())
        entry["devices"] += 1
        bucket = {"sent": "sent", "retry": "pending"}.get(status, "failed")
        entry[bucket] += 1
    for assignment_id, count in attempts.items():
        counts.setdefault(assignment_id, _no_deliveries())["attempts"] = count
    return counts


def _sum_deliveries(values: Any) -> dict[str, int]:
    total = _no_deliveries()
    for entry in values:
        for key in total:
            total[key] += entry[key]
    return total


# --- the to-do center -------------------------------------------------------------------------------


def _reminder_title(reminder: Reminder, locale: str) -> str:
    text = Text.from_json(reminder.message)
    return text.render(locale) if text else reminder.title


def _todo_items(user: User, now: datetime) -> list[dict[str, Any]]:
    locale = user_locale(user)
    assignments = db.session.execute(
        select(TaskAssignment, Task, Merchant.name)
        .join(Task, Task.id == TaskAssignment.task_id)
        .outerjoin(Merchant, Merchant.id == TaskAssignment.merchant_id)
        .where(TaskAssignment.assignee_id == user.id, TaskAssignment.status.in_(OPEN))
    ).all()
    reminders = db.session.execute(
        select(Reminder, Merchant.name)
        .outerjoin(Merchant, Merchant.id == Reminder.merchant_id)
        .where(Reminder.user_id == user.id, Reminder.done_at.is_(None))
    ).all()
    reminders = _still_due(user, reminders, {a.id for a, _t, _n in assignments})
    items = [
        {
            "id": f"a{a.id}",
            "type": "task",
            "kind": t.kind.value,
            "title": t.title,
            "body": t.body,
            "due_at": t.due_at,
            "overdue": _overdue(t.due_at, True, now),
            "status": a.status.value,
            "priority": t.priority,
            "task_id": t.id,
            "payload": a.payload,
            "merchant": {"id": a.merchant_id, "name": name} if a.merchant_id else None,
            "actions": ["accept", "done", "reject"] if a.status == AssignmentStatus.ASSIGNED else ["done", "reject"],
        }
        for a, t, name in assignments
    ] + [
        {
            "id": f"r{r.id}",
            "type": "reminder",
            "kind": r.kind,
            "title": _reminder_title(r, locale),
            "body": "",
            "due_at": r.due_at,
            "overdue": r.due_at < now,
            "status": "open",
            "priority": 0,
            "task_id": None,
            "payload": r.payload,
            "merchant": {"id": r.merchant_id, "name": name} if r.merchant_id else None,
            "actions": ["done"],
        }
        for r, name in reminders
    ]
    items.sort(key=_todo_key)
    return items


def _still_due(user: User, reminders: list[Any], open_assignments: set[int]) -> list[Any]:
    """Leave out reminders whose reason is gone even if nothing closed them (a merge moved the lead, a lead
    changed hands by a path that does not close them): the to-do center shows only what is still to do."""
    about_leads = {r.merchant_id for r, _ in reminders if r.kind in (LEAD_DROPPING, SIGN_CONFIRMATION)}
    leads = (
        {lead.merchant_id: lead for lead in db.session.scalars(select(Lead).where(Lead.merchant_id.in_(about_leads)))}
        if about_leads
        else {}
    )

    def due(reminder: Reminder) -> bool:
        lead = leads.get(reminder.merchant_id)
        if reminder.kind == LEAD_DROPPING:
            return lead is not None and lead.state == LeadState.PRIVATE and lead.owner_id == user.id
        if reminder.kind == SIGN_CONFIRMATION:
            return lead is not None and lead.state == LeadState.PRIVATE and lead.signed_at is not None
        if reminder.kind == TASK_OVERDUE:
            return reminder.payload.get("assignment_id") in open_assignments
        return True

    return [row for row in reminders if due(row[0])]


def _todo_key(item: dict[str, Any]) -> tuple[str, str, str]:
    due = item["due_at"].isoformat() if item["due_at"] else FAR_FUTURE
    return due, item["type"], item["id"].rjust(21, "0")


def todos(user: User, limit: int, cursor: str | None) -> dict[str, Any]:
    """Open task assignments and reminders, soonest due first (undated last)."""
    query_key = fingerprint({"todos": user.id})
    items = _todo_items(user, clock.now())
    if cursor:
        after = tuple(decode_cursor(cursor, query_key, (str, str, str)))
        items = [item for item in items if _todo_key(item) > after]
    page = items[:limit]
    next_cursor = encode_cursor(list(_todo_key(page[-1])), query_key) if len(items) > limit else None
    return {"items": page, "next_cursor": next_cursor}


def todo(user: User, todo_id: str) -> dict[str, Any]:
    """One open to-do by its id (``a<assignment>``, ``r<reminder>``), or ``t<task>``: the caller's open assignment
    of a task, which is what a task's push names (one push serves every assignee)."""
    match = re.fullmatch(r"([art])([0-9]{1,18})", todo_id)
    if match:
        kind, number = match.group(1), int(match.group(2))
        for item in _todo_items(user, clock.now()):
            if item["id"] == todo_id or (kind == "t" and item["type"] == "task" and item["task_id"] == number):
                return item
    raise TodoNotFound()


def todo_count(user: User) -> dict[str, int]:
    items = _todo_items(user, clock.now())
    return {"total": len(items), "overdue": sum(1 for item in items if item["overdue"])}


def open_todos(user: User) -> list[dict[str, Any]]:
    """Every open to-do of the user, soonest due first (what offline sync caches)."""
    return _todo_items(user, clock.now())
