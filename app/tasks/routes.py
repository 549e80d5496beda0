"""Tasks (managers, ops, headquarters) and the to-do center (everyone)."""

from __future__ import annotations

import re

from flask.views import MethodView

from app.api import VALIDATION_ERRORS, Blueprint
from app.auth.security import authenticated, current_user
from app.errors import (
    InvalidCursor,
    InvalidTransition,
    MerchantNotFound,
    NoAssignees,
    NotInScope,
    TaskNotFound,
    TodoNotFound,
    UnknownMerchants,
    UnknownTeam,
    UnknownTerritory,
    UnknownUsers,
)
from app.json import json_response
from app.org.models import Role
from app.tasks import queries, service
from app.tasks.schemas import (
    BulkResultSchema,
    DoneSchema,
    FeedbackSchema,
    PageQueryArgsSchema,
    TaskBulkSchema,
    TaskCreateSchema,
    TaskDetailSchema,
    TaskPageSchema,
    TaskSummarySchema,
    TodoActionResultSchema,
    TodoCountSchema,
    TodoPageSchema,
    TodoRejectSchema,
    TodoSchema,
)

blp = Blueprint("tasks", __name__, url_prefix="/api/v1", description="Tasks and the to-do center")

CREATORS = (Role.MANAGER, Role.OPS, Role.ADMIN)
TARGET_ERRORS = (
    UnknownUsers,
    UnknownTeam,
    UnknownTerritory,
    UnknownMerchants,
    NoAssignees,
)
TODO_ERRORS = (
    TodoNotFound,
    InvalidTransition,
)


@blp.route("/tasks")
class Tasks(MethodView):
    @authenticated(blp, *CREATORS, errors=(*VALIDATION_ERRORS, NotInScope, *TARGET_ERRORS, MerchantNotFound))
    @blp.arguments(
        TaskCreateSchema,
        example={
            "title": "Visit the new openings on Nanshan Road",
            "body": "Check in at each and collect the owner's phone.",
            "kind": "visit",
            "due_at": "2026-11-25T18:00:00+08:00",
            "priority": 1,
            "user_ids": [4, 5],
        },
    )
    @blp.response(
        201,
        TaskSummarySchema,
        description="The task with its progress counts; the assignments are at "
        "`GET /tasks/{id}` (a city-wide task has thousands)",
    )
    def post(self, body):
        """Create a task for BDs (by user ids, a team, a territory, or merchants' lead owners); they get a push."""
        task = service.create_task(current_user(), body)
        return json_response(queries.task_summary(task), 201)

    @authenticated(blp, errors=(*VALIDATION_ERRORS, InvalidCursor))
    @blp.arguments(PageQueryArgsSchema, location="query")
    @blp.response(200, TaskPageSchema)
    def get(self, args):
        """Tasks you created, newest first, with progress counts."""
        return json_response(queries.created_tasks(current_user(), args["limit"], args.get("cursor")))


@blp.route("/tasks/bulk")
class BulkTasks(MethodView):
    @authenticated(blp, *CREATORS, errors=(*VALIDATION_ERRORS, NotInScope, UnknownMerchants))
    @blp.arguments(
        TaskBulkSchema,
        example={
            "title": "Match the competitor's price",
            "kind": "price_adjust",
            "due_at": "2026-11-30T18:00:00+08:00",
            "items": [{"merchant_id": 17, "payload": {"competitor": "Meituan", "their_price": "88.00"}}],
        },
    )
    @blp.response(201, BulkResultSchema)
    def post(self, body):
        """Headquarters strategy: one task per merchant with its own payload, sent to each lead's owner."""
        return json_response(service.create_bulk(current_user(), body), 201)


@blp.route("/tasks/<id:task_id>")
class TaskItem(MethodView):
    @authenticated(blp, errors=(TaskNotFound,))
    @blp.response(200, TaskDetailSchema)
    def get(self, task_id):
        """A task with its assignments, their status and push delivery counts."""
        return json_response(queries.task_detail(current_user(), task_id))


@blp.route("/todos")
class Todos(MethodView):
    @authenticated(blp, errors=(*VALIDATION_ERRORS, InvalidCursor))
    @blp.arguments(PageQueryArgsSchema, location="query")
    @blp.response(200, TodoPageSchema)
    def get(self, args):
        """Your open tasks and reminders, soonest due first."""
        return json_response(queries.todos(current_user(), args["limit"], args.get("cursor")))


@blp.route("/todos/count")
class TodoCount(MethodView):
    @authenticated(blp)
    @blp.response(200, TodoCountSchema)
    def get(self):
        """The badge: how many open to-dos, and how many overdue."""
        return json_response(queries.todo_count(current_user()))


@blp.route("/todos/<todo_id>")
class Todo(MethodView):
    @authenticated(blp, errors=(TodoNotFound,))
    @blp.response(200, TodoSchema)
    def get(self, todo_id):
        """One open to-do: `a…`/`r…` as listed, or `t<task id>` for your assignment of the task a push named."""
        return json_response(queries.todo(current_user(), todo_id))


def _parse_todo_id(todo_id: str) -> tuple[str, int]:
    match = re.fullmatch(r"([ar])([0-9]{1,18})", todo_id)
    if not match:
        raise TodoNotFound()
    return match.group(1), int(match.group(2))


def _todo_action(todo_id: str, action: str, feedback: str | None, outcome: str | None = None):
    kind, number = _parse_todo_id(todo_id)
    user = current_user()
    if kind == "a":
        status = service.transition(user, number, action, feedback, outcome).status.value
    elif action == "done":
        service.complete_reminder(user, number)
        status = "done"
    else:
        raise InvalidTransition("Reminders can only be marked done.")
    return json_response({"id": todo_id, "status": status, "closed": status in ("done", "rejected")})


for _action, _doc, _schema, _example in (
    ("accept", "Accept a task: you will do it (no body needed).", FeedbackSchema, None),
    (
        "done",
        "Mark a task or reminder done (with optional feedback and outcome).",
        DoneSchema,
        "Owner agreed to 10% off",
    ),
    ("reject", "Reject a task, saying why in `feedback`.", TodoRejectSchema, "The shop closed for good"),
):

    def _make(action: str, doc: str, schema: type, example: str | None):
        class TodoAction(MethodView):
            @authenticated(blp, errors=(*VALIDATION_ERRORS, *TODO_ERRORS))
            @blp.arguments(schema, required=action == "reject", example={"feedback": example} if example else None)
            @blp.response(200, TodoActionResultSchema)
            def post(self, body, todo_id):
                return _todo_action(todo_id, action, body.get("feedback"), body.get("outcome"))

        TodoAction.post.__doc__ = doc
        TodoAction.__name__ = f"Todo{action.title()}"
        return TodoAction

    blp.route(f"/todos/<todo_id>/{_action}", endpoint=f"todo_{_action}")(_make(_action, _doc, _schema, _example))
