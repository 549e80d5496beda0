"""Request and response schemas of the KPIs, targets and the leaderboard."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from app.dashboard.kpis import METRICS
from app.schemas import ID

GROUPS = ("bd", "team")
RANKED = (*METRICS, "verified_share", "task_completion")


class Month(ma.fields.Date):
    """A calendar month, ``2026-12`` (a full date is accepted and means its month)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, str) and len(value) == 7:
            value = f"{value}-01"
        return super()._deserialize(value, attr, data, **kwargs).replace(day=1)


class KpiQueryArgsSchema(ma.Schema):
    period = ma.fields.String(load_default="day", validate=validate.OneOf(["day", "week", "month"]))
    from_ = ma.fields.Date(
        data_key="from", metadata={"description": "First local day (default: the 1st of this month)"}
    )
    to = ma.fields.Date(metadata={"description": "Last local day, inclusive (default: today); at most 366 days"})
    group_by = ma.fields.String(load_default="bd", validate=validate.OneOf(GROUPS))
    team_id = ma.fields.Integer(validate=ID, metadata={"description": "Only this org unit's subtree"})


class SubjectSchema(ma.Schema):
    id = ma.fields.Integer(allow_none=True, required=True, metadata={"description": "null: BDs without a team"})
    name = ma.fields.String(required=True)


class KpiFiguresSchema(ma.Schema):
    subject = ma.fields.Nested(SubjectSchema, required=True, metadata={"description": "The BD or the team"})
    visits = ma.fields.Integer(required=True)
    verified_visits = ma.fields.Integer(required=True)
    verified_share = ma.fields.Float(allow_none=True, required=True, metadata={"description": "null: no visits"})
    merchants_visited = ma.fields.Integer(required=True, metadata={"description": "Distinct merchants"})
    merchants_added = ma.fields.Integer(required=True)
    claims = ma.fields.Integer(required=True)
    signings = ma.fields.Integer(required=True)
    tasks_assigned = ma.fields.Integer(
        required=True, metadata={"description": "Assignments due in the period (given in it, without a due date)"}
    )
    tasks_done = ma.fields.Integer(required=True, metadata={"description": "Of those, the ones done"})
    task_completion = ma.fields.Float(allow_none=True, required=True)
    calls = ma.fields.Integer(
        allow_none=True, required=True, metadata={"description": "null while `calls_available` is false"}
    )
    gmv = ma.fields.Float(
        required=True,
        metadata={
            "description": "Monthly GMV of the merchants the BD signed (months starting in the period: with "
            "`period=day` or `week` it falls on the bucket of the 1st)"
        },
    )


class TargetProgressSchema(ma.Schema):
    target = ma.fields.Float(required=True)
    actual = ma.fields.Float(required=True)
    progress = ma.fields.Float(allow_none=True, required=True, metadata={"description": "actual / target"})


class KpiRowSchema(KpiFiguresSchema):
    period_start = ma.fields.Date(required=True)
    targets = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.Nested(TargetProgressSchema),
        required=True,
        metadata={"description": "With `period=month`: each metric with a target, and the progress"},
    )


class KpiReportSchema(ma.Schema):
    period = ma.fields.String(required=True)
    from_ = ma.fields.Date(required=True, data_key="from")
    to = ma.fields.Date(required=True)
    group_by = ma.fields.String(required=True)
    calls_available = ma.fields.Boolean(required=True)
    items = ma.fields.List(
        ma.fields.Nested(KpiRowSchema), required=True, metadata={"description": "Periods with activity, oldest first"}
    )
    totals = ma.fields.List(
        ma.fields.Nested(KpiFiguresSchema), required=True, metadata={"description": "The whole range, per subject"}
    )


class TargetEntrySchema(ma.Schema):
    user_id = ma.fields.Integer(validate=ID, metadata={"description": "A BD (or `team_id`)"})
    team_id = ma.fields.Integer(validate=ID, metadata={"description": "An org unit (or `user_id`)"})
    metric = ma.fields.String(required=True, validate=validate.OneOf(METRICS))
    value = ma.fields.Decimal(
        required=True,
        allow_none=True,
        as_string=False,
        validate=validate.Range(min=0, max=10**13),
        metadata={"description": "null removes the target"},
    )

    @ma.validates_schema
    def one_subject(self, data, **kwargs):
        if bool(data.get("user_id")) == bool(data.get("team_id")):
            raise ma.ValidationError("Exactly one of `user_id` and `team_id`.", "user_id")


class TargetsUpdateSchema(ma.Schema):
    month = Month(required=True, metadata={"type": "string", "example": "2026-12"})
    targets = ma.fields.List(ma.fields.Nested(TargetEntrySchema), required=True, validate=validate.Length(max=1000))


class TargetsQueryArgsSchema(ma.Schema):
    month = Month(required=True, metadata={"type": "string", "example": "2026-12"})


class TargetSchema(ma.Schema):
    user_id = ma.fields.Integer(allow_none=True, required=True)
    team_id = ma.fields.Integer(allow_none=True, required=True)
    metric = ma.fields.String(required=True)
    value = ma.fields.Float(required=True)


class TargetsSchema(ma.Schema):
    month = ma.fields.Date(required=True)
    items = ma.fields.List(ma.fields.Nested(TargetSchema), required=True)


class LeaderboardQueryArgsSchema(ma.Schema):
    month = Month(required=True, metadata={"type": "string", "example": "2026-12"})
    metric = ma.fields.String(load_default="signings", validate=validate.OneOf(RANKED))
    group_by = ma.fields.String(load_default="bd", validate=validate.OneOf(GROUPS))
    team_id = ma.fields.Integer(validate=ID)


class LeaderboardRowSchema(ma.Schema):
    rank = ma.fields.Integer(required=True, metadata={"description": "Ties share a rank"})
    subject = ma.fields.Nested(SubjectSchema, required=True)
    value = ma.fields.Float(allow_none=True, required=True)
    target = ma.fields.Float(allow_none=True, required=True)
    progress = ma.fields.Float(allow_none=True, required=True)


class LeaderboardSchema(ma.Schema):
    month = ma.fields.Date(required=True)
    metric = ma.fields.String(required=True)
    group_by = ma.fields.String(required=True)
    items = ma.fields.List(ma.fields.Nested(LeaderboardRowSchema), required=True)
