"""Tasks from managers and headquarters: who gets them, their lifecycle, and the pushes that announce them.

Pushes go through the outbox in the task's own transaction: a rolled-back task sends nothing, and a Redis
outage only delays the push until the outbox sweeper finds it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from psycopg.types.json import Jsonb
from sqlalchemy import or_, select, text

from app import clock, db
from app.errors import (
    Forbidden,
    InvalidTransition,
    MerchantNotFound,
    NoAssignees,
    NotFound,
    NotInScope,
    TodoNotFound,
    UnknownMerchants,
    UnknownTeam,
    UnknownTerritory,
    UnknownUsers,
    ValidationFailed,
)
from app.i18n import Text
from app.merchants.models import Lead, LeadState, Merchant, touch
from app.org.models import OrgUnit, Role, User
from app.org.scope import managed_user_ids
from app.outbox.service import enqueue_after_commit
from app.reminders.models import Reminder
from app.reminders.service import TASK_OVERDUE, remind, resolve
from app.signals import visit_verified
from app.tasks.models import AssignmentStatus, Task, TaskAssignment, TaskFanout, TaskKind
from app.territories.service import active_member_bds

PUSH_JOB = "app.tasks.jobs.push_assignments"
FANOUT_JOB = "app.tasks.jobs.expand_fanout"
PUSH_MANY_JOB = "app.tasks.jobs.push_many"
# Up to this many assignees the API call writes the assignments itself; above, a job does (see TaskFanout).
INLINE_ASSIGNMENTS = 500

ASSIGN_SQL = text(
    """
    INSERT INTO task_assignments (task_id, tenant_id, assignee_id, merchant_id, payload, status, created_at)
    SELECT :task_id, :tenant_id, a.assignee, a.merchant, a.payload, 'assigned', now()
    FROM unnest(CAST(:assignees AS bigint[]), CAST(:merchants AS bigint[]), CAST(:payloads AS jsonb[]))
         AS a(assignee, merchant, payload)
    """
)
MAX_BULK = 1000
BULK_TASKS_SQL = text(
    """
    INSERT INTO tasks (id, tenant_id, creator_id, title, body, kind, merchant_id, due_at, priority, target, created_at)
    SELECT t.id, :tenant_id, :creator_id, :title, :body, CAST(:kind AS task_kind), t.merchant, :due_at, :priority,
           CAST('{"bulk": true}' AS jsonb), now()
    FROM unnest(CAST(:ids AS bigint[]), CAST(:merchants AS bigint[])) AS t(id, merchant)
    """
)
BULK_ASSIGN_SQL = text(
    """
    INSERT INTO task_assignments (task_id, tenant_id, assignee_id, merchant_id, payload, status, created_at)
    SELECT a.task, :tenant_id, a.assignee, a.merchant, a.payload, 'assigned', now()
    FROM unnest(CAST(:tasks AS bigint[]), CAST(:assignees AS bigint[]), CAST(:merchants AS bigint[]),
                CAST(:payloads AS jsonb[])) AS a(task, assignee, merchant, payload)
    """
)
TARGET_FORMS = ("user_ids", "team_id", "territory_id", "merchant_ids")

TRANSITIONS = {
    "accept": ({AssignmentStatus.ASSIGNED}, AssignmentStatus.ACCEPTED),
    "done": ({AssignmentStatus.ASSIGNED, AssignmentStatus.ACCEPTED}, AssignmentStatus.DONE),
    "reject": ({AssignmentStatus.ASSIGNED, AssignmentStatus.ACCEPTED}, AssignmentStatus.REJECTED),
}


def _ensure_creator(user: User) -> None:
    if user.role not in (Role.MANAGER, Role.OPS, Role.ADMIN):
        raise Forbidden("Only managers, ops and admins create tasks.")


def _scope_check(creator: User, user_ids: set[int]) -> None:
    """A manager assigns only inside their org subtree."""
    if creator.role != Role.MANAGER or not user_ids:
        return
    allowed = set(
        db.session.scalars(select(User.id).where(User.id.in_(user_ids), User.id.in_(managed_user_ids(creator))))
    )
    outside = sorted(user_ids - allowed - {creator.id})
    if outside:
        raise NotInScope(f"Users outside your team: {outside}.")


def _active_bds(user_ids: list[int]) -> list[int]:
    found = set(
        db.session.scalars(select(User.id).where(User.id.in_(user_ids), User.is_active.is_(True), User.role == Role.BD))
    )
    missing = [uid for uid in user_ids if uid not in found]
    if missing:
        raise UnknownUsers(
            "Unknown or inactive BDs.", errors={"json": {"user_ids": [f"Not active BDs: {missing[:20]}"]}}
        )
    return user_ids


def _team_members(creator: User, team_id: int) -> list[int]:
    unit = db.get(OrgUnit, team_id)
    if unit is None:
        raise UnknownTeam(errors={"json": {"team_id": ["No such team."]}})
    if creator.role == Role.MANAGER:
        creator_path = db.session.scalar(select(OrgUnit.path).where(OrgUnit.id == creator.org_unit_id))
        if not creator_path or not unit.path.startswith(creator_path):
            raise NotInScope("That team is outside your subtree.")
    return list(
        db.session.scalars(
            select(User.id)
            .join(OrgUnit, OrgUnit.id == User.org_unit_id)
            .where(OrgUnit.path.startswith(unit.path), User.role == Role.BD, User.is_active.is_(True))
        )
    )


def _territory_members(creator: User, territory_id: int) -> list[int]:
    try:
        return active_member_bds(creator, territory_id)
    except NotFound as exc:
        raise UnknownTerritory(errors={"json": {"territory_id": ["No such territory you can see."]}}) from exc


def merchant_assignees(creator: User, merchant_ids: list[int]) -> dict[int, int | None]:
    """Each merchant's lead owner; for a public-pool merchant, the creating manager (who then dispatches it).

    Returns merchant id -> user id (None: nobody to give it to, e.g. a public merchant and an ops creator).
    """
    merchants = set(db.session.scalars(select(Merchant.id).where(Merchant.id.in_(merchant_ids))))
    missing = [mid for mid in merchant_ids if mid not in merchants]
    if missing:
        raise UnknownMerchants(errors={"json": {"merchant_ids": [f"No such merchants: {missing}"]}})
    owners = dict(
        db.session.execute(
            select(Lead.merchant_id, Lead.owner_id).where(
                Lead.merchant_id.in_(merchant_ids), Lead.state != LeadState.PUBLIC
            )
        ).all()
    )
    fallback = creator.id if creator.role == Role.MANAGER else None
    return {mid: owners.get(mid) or fallback for mid in merchant_ids}


def _target(creator: User, fields: dict[str, Any]) -> dict[str, Any]:
    _ensure_creator(creator)
    target = {k: fields[k] for k in TARGET_FORMS if fields.get(k) is not None}
    if len(target) != 1:
        raise ValidationFailed(
            "Give exactly one of user_ids, team_id, territory_id, merchant_ids.",
            errors={"json": {"_schema": ["Exactly one assignee form."]}},
        )
    return target


def _assignees(creator: User, target: dict[str, Any]) -> dict[int, list[int]]:
    """Assignee id -> the merchant ids their assignment is about, checked against the creator's scope."""
    per_user: dict[int, list[int]] = {}
    if "user_ids" in target:
        per_user = {uid: [] for uid in _active_bds(list(dict.fromkeys(target["user_ids"])))}
    elif "team_id" in target:
        per_user = {uid: [] for uid in _team_members(creator, target["team_id"])}
    elif "territory_id" in target:
        per_user = {uid: [] for uid in _territory_members(creator, target["territory_id"])}
    else:
        for merchant_id, owner in merchant_assignees(creator, list(dict.fromkeys(target["merchant_ids"]))).items():
            if owner is not None:
                per_user.setdefault(owner, []).append(merchant_id)
    _scope_check(creator, set(per_user))
    return per_user


def preview_assignees(creator: User, fields: dict[str, Any]) -> int:
    """How many BDs a task with this targeting would reach now (the rules of ``create_task``; nothing written)."""
    return len(_assignees(creator, _target(creator, fields)))


def create_task(creator: User, fields: dict[str, Any]) -> Task:
    target = _target(creator, fields)
    if fields.get("merchant_id") is not None and db.get(Merchant, fields["merchant_id"]) is None:
        raise MerchantNotFound()
    per_user = _assignees(creator, target)
    if not per_user:
        raise NoAssignees()
    task = Task(
        tenant_id=creator.tenant_id,
        creator_id=creator.id,
        title=fields["title"],
        body=fields["body"],
        kind=TaskKind(fields["kind"]),
        merchant_id=fields.get("merchant_id"),
        due_at=fields.get("due_at"),
        priority=fields["priority"],
        target=target,
    )
    db.session.add(task)
    db.session.flush()
    assignees = list(per_user)
    merchants = [ms[0] if len(ms) == 1 else task.merchant_id for ms in per_user.values()]
    payloads = [{"merchant_ids": ms} if ms else {} for ms in per_user.values()]
    if len(assignees) <= INLINE_ASSIGNMENTS:
        _write_assignments(task, assignees, merchants, payloads)
        enqueue_after_commit(PUSH_JOB, queue="push", task_id=task.id)
    else:
        db.session.add(
            TaskFanout(
                task_id=task.id, tenant_id=task.tenant_id, assignees=assignees, merchants=merchants, payloads=payloads
            )
        )
        enqueue_after_commit(FANOUT_JOB, queue="push", task_id=task.id)
    touch(*(m for m in {task.merchant_id, *merchants} if m))
    db.session.flush()
    return task


def _write_assignments(
    task: Task, assignees: list[int], merchants: list[int | None], payloads: list[dict[str, Any]]
) -> None:
    # One statement over arrays: a task for a whole city's BDs must not cost one statement per BD.
    db.session.execute(
        ASSIGN_SQL,
        {
            "task_id": task.id,
            "tenant_id": task.tenant_id,
            "assignees": assignees,
            "merchants": merchants,
            "payloads": [Jsonb(p) for p in payloads],
        },
    )


def expand_fanout(task_id: int) -> int:
    """Write the stored assignments of a large task and queue its push; 0 when already done.

    The row is deleted in the same transaction as the assignments are written: a crash before the commit
    leaves it for the retry, and a retry after the commit finds nothing to do.
    """
    fanout = db.session.execute(
        select(TaskFanout).where(TaskFanout.task_id == task_id).with_for_update(skip_locked=True)
    ).scalar_one_or_none()
    task = db.get(Task, task_id)
    if fanout is None or task is None:
        return 0
    _write_assignments(task, fanout.assignees, fanout.merchants, fanout.payloads)
    db.session.delete(fanout)
    # readers of the detail page may have cached it between the API call and now
    touch(*(m for m in {task.merchant_id, *fanout.merchants} if m))
    enqueue_after_commit(PUSH_JOB, queue="push", task_id=task.id)
    db.session.flush()
    return len(fanout.assignees)


def create_bulk(creator: User, fields: dict[str, Any]) -> dict[str, Any]:
    """Headquarters strategy: one task per merchant, with that merchant's payload, to the lead's owner.

    Set-based: a thousand items are three statements, not three thousand, and one outbox job pushes them.
    """
    _ensure_creator(creator)
    items = fields["items"]
    owners = merchant_assignees(creator, [item["merchant_id"] for item in items])
    _scope_check(creator, {o for o in owners.values() if o})
    kept = [item for item in items if owners[item["merchant_id"]] is not None]
    skipped = [
        {"merchant_id": item["merchant_id"], "reason": "public pool and no manager to dispatch it"}
        for item in items
        if owners[item["merchant_id"]] is None
    ]
    if not kept:
        return {"created": 0, "task_ids": [], "skipped": skipped}
    # ids drawn first, so each item's task and assignment pair up without relying on RETURNING order
    task_ids = list(
        db.session.scalars(
            text("SELECT nextval(pg_get_serial_sequence('tasks', 'id')) FROM generate_series(1, :n)"), {"n": len(kept)}
        )
    )
    merchants = [item["merchant_id"] for item in kept]
    db.session.execute(
        BULK_TASKS_SQL,
        {
            "ids": task_ids,
            "merchants": merchants,
            "tenant_id": creator.tenant_id,
            "creator_id": creator.id,
            "title": fields["title"],
            "body": fields["body"],
            "kind": TaskKind(fields["kind"]).value,
            "due_at": fields.get("due_at"),
            "priority": fields["priority"],
        },
    )
    db.session.execute(
        BULK_ASSIGN_SQL,
        {
            "tasks": task_ids,
            "tenant_id": creator.tenant_id,
            "merchants": merchants,
            "assignees": [owners[m] for m in merchants],
            "payloads": [Jsonb(item.get("payload") or {}) for item in kept],
        },
    )
    touch(*merchants)
    enqueue_after_commit(PUSH_MANY_JOB, queue="push", task_ids=task_ids)
    db.session.flush()
    return {"created": len(task_ids), "task_ids": task_ids, "skipped": skipped}


def transition(
    user: User, assignment_id: int, action: str, feedback: str | None = None, outcome: str | None = None
) -> TaskAssignment:
    assignment = db.session.execute(
        select(TaskAssignment).where(TaskAssignment.id == assignment_id).with_for_update()
    ).scalar_one_or_none()
    if assignment is None or assignment.assignee_id != user.id:
        raise TodoNotFound()
    allowed_from, to = TRANSITIONS[action]
    if assignment.status not in allowed_from:
        raise InvalidTransition(
            f"Cannot {action} a task that is {assignment.status.value}.",
            extra={"current_status": assignment.status.value},
        )
    if action == "reject" and not (feedback or "").strip():
        raise ValidationFailed(errors={"json": {"feedback": ["Say why the task is rejected."]}})
    if outcome is not None:
        # a campaign's feedback form: the answer is one of its options, given when the task is done
        options = (assignment.payload.get("feedback_form") or {}).get("options") or []
        if action != "done" or outcome not in options:
            raise ValidationFailed(errors={"json": {"outcome": [f"One of the feedback form's options: {options}."]}})
        assignment.payload = {**assignment.payload, "outcome": outcome}
    now = clock.now()
    assignment.status = to
    assignment.feedback = feedback or assignment.feedback
    if to == AssignmentStatus.ACCEPTED:
        assignment.accepted_at = now
    else:
        assignment.completed_at = now
        _notify_creator(assignment, user, action, now)
        resolve((TASK_OVERDUE,), action, assignment_id=assignment.id)
    touch(*(m for m in (assignment.merchant_id,) if m))
    db.session.flush()
    return assignment


def _notify_creator(assignment: TaskAssignment, by: User, action: str, now: datetime) -> None:
    task = db.get(Task, assignment.task_id)
    verb = "done" if action == "done" else "rejected"
    remind(
        task.tenant_id,
        task.creator_id,
        "task_feedback",
        Text(f"todo_task_{verb}", {"person": by.name, "task": task.title}),
        assignment.merchant_id,
        f"task-feedback:{assignment.id}:{action}",
        {"task_id": task.id, "assignment_id": assignment.id, "status": verb, "feedback": assignment.feedback},
        # a day to read it, not overdue the moment it appears
        due_at=now + timedelta(days=1),
    )


def complete_reminder(user: User, reminder_id: int) -> Reminder:
    reminder = db.get(Reminder, reminder_id)
    if reminder is None or reminder.user_id != user.id:
        raise TodoNotFound()
    if reminder.done_at is not None:
        raise InvalidTransition("This reminder is already done.", extra={"current_status": "done"})
    reminder.done_at = clock.now()
    db.session.flush()
    return reminder


# --- to-dos that clear themselves ------------------------------------------------------------------

OVERDUE_LOOKBACK = timedelta(days=1)  # a task overdue longer than this before the job first ran is not pushed
OVERDUE_SQL = text(
    """
    INSERT INTO reminders (tenant_id, user_id, kind, title, message, merchant_id, due_at, dedupe_key, payload,
                           created_at)
    SELECT a.tenant_id, a.assignee_id, 'task_overdue', left('Overdue: ' || t.title, 200),
           -- app.i18n: todo_task_overdue, in each reader's language
           jsonb_build_object('key', 'todo_task_overdue', 'args', jsonb_build_object('task', t.title)),
           coalesce(a.merchant_id, t.merchant_id), t.due_at,
           'task-overdue:' || a.id || ':' || extract(epoch FROM t.due_at)::bigint,
           jsonb_build_object('task_id', t.id, 'assignment_id', a.id, 'due_at', t.due_at), :now
    FROM tasks t JOIN task_assignments a ON a.task_id = t.id
    WHERE t.due_at <= :now AND t.due_at > :since AND a.status IN ('assigned', 'accepted')
    ON CONFLICT (tenant_id, dedupe_key) DO NOTHING
    RETURNING id
    """
)


def remind_overdue(now: datetime) -> list[int]:
    """A to-do (with its push) for each open assignment whose task fell due; once per assignment and due time."""
    return list(db.session.scalars(OVERDUE_SQL, {"now": now, "since": now - OVERDUE_LOOKBACK}))


@visit_verified.connect
def _on_visit_verified(_sender: Any, *, user_id: int, merchant_id: int, visit_id: int, **_: Any) -> None:
    complete_visit_tasks(user_id, merchant_id, visit_id)


def complete_visit_tasks(user_id: int, merchant_id: int, visit_id: int) -> list[int]:
    """The BD's open ``visit`` assignments about this merchant are done; returns their ids.

    An assignment about several merchants (a task by merchant ids) is done when each has been visited.
    """
    rows = db.session.execute(
        select(TaskAssignment, Task)
        .join(Task, Task.id == TaskAssignment.task_id)
        .where(
            TaskAssignment.assignee_id == user_id,
            TaskAssignment.status.in_(TRANSITIONS["done"][0]),
            Task.kind == TaskKind.VISIT,
            or_(
                TaskAssignment.merchant_id == merchant_id,
                Task.merchant_id == merchant_id,
                TaskAssignment.payload["merchant_ids"].contains([merchant_id]),
            ),
        )
        .order_by(TaskAssignment.id)
        .with_for_update(of=TaskAssignment)
    ).all()
    if not rows:
        return []
    user = db.get(User, user_id)
    now, done = clock.now(), []
    for assignment, task in rows:
        wanted = set(assignment.payload.get("merchant_ids") or []) or {assignment.merchant_id or task.merchant_id}
        visited = {*assignment.payload.get("visited_merchant_ids", []), merchant_id}
        payload = {**assignment.payload, "visited_merchant_ids": sorted(visited & wanted), "visit_id": visit_id}
        assignment.payload = payload
        if not wanted <= visited:
            continue
        assignment.status, assignment.completed_at = AssignmentStatus.DONE, now
        assignment.feedback = assignment.feedback or "Done by a verified visit."
        _notify_creator(assignment, user, "done", now)
        resolve((TASK_OVERDUE,), "visited", assignment_id=assignment.id)
        done.append(assignment.id)
    touch(merchant_id)
    db.session.flush()
    return done


CAMPAIGN_TASKS_SQL = text(
    """
    INSERT INTO tasks (id, tenant_id, creator_id, title, body, kind, merchant_id, due_at, priority, target, created_at)
    SELECT t.id, :tenant_id, :creator_id, :title, :body, CAST(:kind AS task_kind), t.merchant, :due_at, :priority,
           CAST(:target AS jsonb), now()
    FROM unnest(CAST(:ids AS bigint[]), CAST(:merchants AS bigint[])) AS t(id, merchant)
    """
)
CAMPAIGN_ASSIGN_SQL = text(
    """
    INSERT INTO task_assignments (task_id, tenant_id, assignee_id, merchant_id, payload, status, created_at)
    SELECT a.task, :tenant_id, a.assignee, a.merchant, CAST(:payload AS jsonb), 'assigned', now()
    FROM unnest(CAST(:tasks AS bigint[]), CAST(:assignees AS bigint[]), CAST(:merchants AS bigint[]))
         AS a(task, assignee, merchant)
    """
)


def create_for_merchants(
    creator: User,
    template: dict[str, Any],
    assignees: dict[int, list[int]],
    target: dict[str, Any],
    payload: dict[str, Any],
) -> dict[int, int]:
    """One task per merchant, assigned to that merchant's people (already resolved and in the creator's scope).

    Set-based like ``create_bulk``: two statements however many merchants, and one outbox job queues the pushes
    (through the same per-task fan-out). Returns merchant id -> task id.
    """
    _ensure_creator(creator)
    merchants = [m for m, people in assignees.items() if people]
    if not merchants:
        return {}
    task_ids = list(
        db.session.scalars(
            text("SELECT nextval(pg_get_serial_sequence('tasks', 'id')) FROM generate_series(1, :n)"),
            {"n": len(merchants)},
        )
    )
    db.session.execute(
        CAMPAIGN_TASKS_SQL,
        {
            "ids": task_ids,
            "merchants": merchants,
            "tenant_id": creator.tenant_id,
            "creator_id": creator.id,
            "title": template["title"],
            "body": template.get("body") or "",
            "kind": TaskKind(template["kind"]).value,
            "due_at": template.get("due_at"),
            "priority": template.get("priority") or 0,
            "target": Jsonb(target),
        },
    )
    pairs = [
        (task_id, person, merchant)
        for task_id, merchant in zip(task_ids, merchants, strict=True)
        for person in assignees[merchant]
    ]
    db.session.execute(
        CAMPAIGN_ASSIGN_SQL,
        {
            "tasks": [p[0] for p in pairs],
            "assignees": [p[1] for p in pairs],
            "merchants": [p[2] for p in pairs],
            "tenant_id": creator.tenant_id,
            "payload": Jsonb(payload),
        },
    )
    touch(*merchants)
    enqueue_after_commit(PUSH_MANY_JOB, queue="push", task_ids=task_ids)
    db.session.flush()
    return dict(zip(merchants, task_ids, strict=True))
