from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from app.schemas import ID

KINDS = ["visit", "price_adjust", "collect_info", "custom"]


class TaskBaseSchema(ma.Schema):
    title = ma.fields.String(required=True, validate=validate.Length(min=1, max=200))
    body = ma.fields.String(load_default="", validate=validate.Length(max=4000))
    kind = ma.fields.String(required=True, validate=validate.OneOf(KINDS))
    due_at = ma.fields.AwareDateTime(load_default=None, allow_none=True)
    priority = ma.fields.Integer(
        load_default=0, validate=validate.Range(min=0, max=3), metadata={"description": "0 normal ... 3 urgent"}
    )


class TaskCreateSchema(TaskBaseSchema):
    merchant_id = ma.fields.Integer(
        load_default=None,
        allow_none=True,
        validate=ID,
        metadata={"description": "The merchant the task is about, if any"},
    )
    user_ids = ma.fields.List(ma.fields.Integer(validate=ID), validate=validate.Length(min=1, max=10_000))
    team_id = ma.fields.Integer(validate=ID, metadata={"description": "Every active BD of the team's subtree"})
    territory_id = ma.fields.Integer(
        validate=ID,
        metadata={"description": "Every active BD assigned to the territory (managers: a territory of their subtree)"},
    )
    merchant_ids = ma.fields.List(
        ma.fields.Integer(validate=ID),
        validate=validate.Length(min=1, max=10_000),
        metadata={"description": "Each merchant's lead owner (the creating manager for public-pool merchants)"},
    )

    @ma.validates_schema
    def one_assignee_form(self, data, **kwargs):
        given = [k for k in ("user_ids", "team_id", "territory_id", "merchant_ids") if data.get(k) is not None]
        if len(given) != 1:
            raise ma.ValidationError("Give exactly one of user_ids, team_id, territory_id, merchant_ids.")


class BulkItemSchema(ma.Schema):
    merchant_id = ma.fields.Integer(required=True, validate=ID)
    payload = ma.fields.Dict(
        keys=ma.fields.String(validate=validate.Length(max=60)),
        load_default=dict,
        metadata={"description": "Shown to the BD with the task, e.g. the competitor price"},
    )


class TaskBulkSchema(TaskBaseSchema):
    items = ma.fields.List(ma.fields.Nested(BulkItemSchema), required=True, validate=validate.Length(min=1, max=1000))


class BulkResultSchema(ma.Schema):
    created = ma.fields.Integer(required=True)
    task_ids = ma.fields.List(ma.fields.Integer(), required=True)
    skipped = ma.fields.List(ma.fields.Dict(), required=True)


class ProgressSchema(ma.Schema):
    total = ma.fields.Integer(required=True, metadata={"description": "queued + assigned + accepted + done + rejected"})
    queued = ma.fields.Integer(
        required=True,
        metadata={
            "description": "Assignments of a large task (over 500 BDs) still being written in the background; they "
            "become `assigned`, and are pushed, within seconds"
        },
    )
    assigned = ma.fields.Integer(required=True)
    accepted = ma.fields.Integer(required=True)
    done = ma.fields.Integer(required=True)
    rejected = ma.fields.Integer(required=True)
    overdue = ma.fields.Integer(required=True)


class DeliveriesSchema(ma.Schema):
    devices = ma.fields.Integer(required=True)
    sent = ma.fields.Integer(required=True)
    pending = ma.fields.Integer(required=True, metadata={"description": "Waiting for a retry"})
    failed = ma.fields.Integer(required=True)
    attempts = ma.fields.Integer(required=True)


class TaskSummarySchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    title = ma.fields.String(required=True)
    body = ma.fields.String(required=True)
    kind = ma.fields.String(required=True)
    priority = ma.fields.Integer(required=True)
    merchant_id = ma.fields.Integer(allow_none=True, required=True)
    due_at = ma.fields.DateTime(allow_none=True, required=True)
    created_at = ma.fields.DateTime(required=True)
    creator_id = ma.fields.Integer(required=True)
    progress = ma.fields.Nested(ProgressSchema, required=True)
    overdue = ma.fields.Boolean(required=True)


class TaskPageSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(TaskSummarySchema), required=True)
    next_cursor = ma.fields.String(allow_none=True, required=True)


class PersonSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    name = ma.fields.String(required=True)


class AssignmentSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    assignee = ma.fields.Nested(PersonSchema, required=True)
    status = ma.fields.String(required=True, validate=validate.OneOf(["assigned", "accepted", "done", "rejected"]))
    merchant_id = ma.fields.Integer(allow_none=True, required=True)
    payload = ma.fields.Dict(required=True)
    feedback = ma.fields.String(allow_none=True, required=True)
    accepted_at = ma.fields.DateTime(allow_none=True, required=True)
    completed_at = ma.fields.DateTime(allow_none=True, required=True)
    overdue = ma.fields.Boolean(required=True)
    deliveries = ma.fields.Nested(DeliveriesSchema, required=True)


class TaskDetailSchema(TaskSummarySchema):
    assignments = ma.fields.List(ma.fields.Nested(AssignmentSchema), required=True)
    deliveries = ma.fields.Nested(
        DeliveriesSchema,
        allow_none=True,
        required=True,
        metadata={"description": "Push delivery totals (not shown to BDs)"},
    )


class PageQueryArgsSchema(ma.Schema):
    limit = ma.fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))
    cursor = ma.fields.String(validate=validate.Length(min=1, max=300))


class TodoMerchantSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    name = ma.fields.String(allow_none=True, required=True)


class TodoSchema(ma.Schema):
    id = ma.fields.String(
        required=True, metadata={"description": "`a<n>` for a task, `r<n>` for a reminder", "example": "a812"}
    )
    type = ma.fields.String(required=True, validate=validate.OneOf(["task", "reminder"]))
    kind = ma.fields.String(
        required=True,
        metadata={
            "description": "Task kind, or reminder kind: lead_dropping, planned_visit, task_feedback, audit_result, "
            "correction_result"
        },
    )
    title = ma.fields.String(required=True)
    body = ma.fields.String(required=True)
    due_at = ma.fields.DateTime(allow_none=True, required=True)
    overdue = ma.fields.Boolean(required=True)
    status = ma.fields.String(required=True)
    priority = ma.fields.Integer(required=True)
    task_id = ma.fields.Integer(allow_none=True, required=True)
    payload = ma.fields.Dict(required=True)
    merchant = ma.fields.Nested(TodoMerchantSchema, allow_none=True, required=True)
    actions = ma.fields.List(ma.fields.String(), required=True, metadata={"description": "What may be done now"})


class TodoPageSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(TodoSchema), required=True)
    next_cursor = ma.fields.String(allow_none=True, required=True)


class TodoCountSchema(ma.Schema):
    total = ma.fields.Integer(required=True)
    overdue = ma.fields.Integer(required=True)


class FeedbackSchema(ma.Schema):
    feedback = ma.fields.String(load_default=None, allow_none=True, validate=validate.Length(max=4000))


class DoneSchema(FeedbackSchema):
    outcome = ma.fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Length(max=200),
        metadata={
            "description": "The answer to a campaign task's feedback form: one of `payload.feedback_form.options`"
        },
    )


class TodoRejectSchema(ma.Schema):
    feedback = ma.fields.String(
        required=True, validate=validate.Length(min=1, max=4000), metadata={"description": "Why the task is rejected"}
    )


class TodoActionResultSchema(ma.Schema):
    id = ma.fields.String(required=True)
    status = ma.fields.String(required=True, validate=validate.OneOf(["accepted", "done", "rejected"]))
    closed = ma.fields.Boolean(required=True, metadata={"description": "It left the to-do list"})
