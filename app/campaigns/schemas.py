from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from app.schemas import ID
from app.tasks.schemas import KINDS

POOL_STATES = ["public", "private", "partner"]
GROUP_BY = ["city", "team", "bd"]


class CampaignFilterSchema(ma.Schema):
    tags = ma.fields.List(
        ma.fields.String(validate=validate.Length(min=1, max=64)),
        validate=validate.Length(max=20),
        metadata={"description": "Every one of these tags, e.g. `price_disadvantage`"},
    )
    min_price_gap = ma.fields.Float(
        validate=validate.Range(min=-1000, max=1000),
        metadata={"description": "Price gap at least this many percent of our price (positive: they are cheaper)"},
    )
    category = ma.fields.String(validate=validate.Length(min=1, max=200), metadata={"description": "Prefix"})
    city = ma.fields.String(validate=validate.Length(min=1, max=100))
    territory_id = ma.fields.Integer(validate=ID, metadata={"description": "Inside this territory"})
    pool_state = ma.fields.String(validate=validate.OneOf(POOL_STATES))
    unvisited_days = ma.fields.Integer(
        validate=validate.Range(min=1, max=3650), metadata={"description": "Nobody visited for this many days"}
    )
    attributes = ma.fields.Dict(
        keys=ma.fields.String(validate=validate.Length(min=1, max=64)),
        metadata={"description": "Custom attributes with exactly these values"},
    )


class FeedbackFormSchema(ma.Schema):
    question = ma.fields.String(required=True, validate=validate.Length(min=1, max=200))
    options = ma.fields.List(
        ma.fields.String(validate=validate.Length(min=1, max=200)),
        required=True,
        validate=validate.Length(min=2, max=20),
        metadata={"description": "The BD answers one with `outcome` when marking the task done"},
    )


class CampaignTemplateSchema(ma.Schema):
    kind = ma.fields.String(required=True, validate=validate.OneOf(KINDS))
    title = ma.fields.String(required=True, validate=validate.Length(min=1, max=200))
    body = ma.fields.String(load_default="", validate=validate.Length(max=4000))
    priority = ma.fields.Integer(load_default=0, validate=validate.Range(min=0, max=3))
    due_days = ma.fields.Integer(
        load_default=None,
        allow_none=True,
        validate=validate.Range(min=1, max=365),
        metadata={"description": "Each launch's tasks are due this many days after it"},
    )
    feedback_form = ma.fields.Nested(FeedbackFormSchema, load_default=None, allow_none=True)


class CampaignCreateSchema(ma.Schema):
    name = ma.fields.String(required=True, validate=validate.Length(min=1, max=200))
    filter = ma.fields.Nested(CampaignFilterSchema, required=True)
    template = ma.fields.Nested(CampaignTemplateSchema, required=True)


class CampaignSchema(CampaignCreateSchema):
    id = ma.fields.Integer(required=True)
    creator_id = ma.fields.Integer(required=True)
    launches = ma.fields.Integer(required=True)
    last_launched_at = ma.fields.DateTime(allow_none=True, required=True)
    created_at = ma.fields.DateTime(required=True)


class CampaignListSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(CampaignSchema), required=True)


class CampaignMerchantSampleSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    name = ma.fields.String(required=True)
    city = ma.fields.String(required=True)
    category = ma.fields.String(allow_none=True, required=True)
    tags = ma.fields.List(ma.fields.String(), required=True)
    price_gap = ma.fields.Float(allow_none=True, required=True)
    pool_state = ma.fields.String(required=True, validate=validate.OneOf(POOL_STATES))
    owner_id = ma.fields.Integer(allow_none=True, required=True)


class CampaignPreviewSchema(ma.Schema):
    matches = ma.fields.Integer(required=True)
    new_matches = ma.fields.Integer(required=True, metadata={"description": "Not reached by an earlier launch"})
    sample = ma.fields.List(ma.fields.Nested(CampaignMerchantSampleSchema), required=True)


class CampaignLaunchSchema(ma.Schema):
    campaign_id = ma.fields.Integer(required=True)
    launch = ma.fields.Integer(required=True)
    tasks_created = ma.fields.Integer(required=True)
    assignments_created = ma.fields.Integer(required=True)
    skipped = ma.fields.Integer(required=True, metadata={"description": "Public-pool matches nobody covers"})
    skipped_merchant_ids = ma.fields.List(ma.fields.Integer(), required=True)


class CampaignResultsQueryArgsSchema(ma.Schema):
    group_by = ma.fields.String(load_default="city", validate=validate.OneOf(GROUP_BY))


class ReasonSchema(ma.Schema):
    reason = ma.fields.String(required=True)
    count = ma.fields.Integer(required=True)


class ResultFiguresSchema(ma.Schema):
    assigned = ma.fields.Integer(required=True)
    accepted = ma.fields.Integer(required=True)
    done = ma.fields.Integer(required=True)
    rejected = ma.fields.Integer(required=True)
    overdue = ma.fields.Integer(required=True)
    outcomes = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.Integer(),
        required=True,
        metadata={"description": "Done tasks per feedback-form answer"},
    )


class CampaignResultRowSchema(ResultFiguresSchema):
    key = ma.fields.String(allow_none=True, required=True, metadata={"description": "City name, team id or BD id"})
    label = ma.fields.String(allow_none=True, required=True)
    rejection_reasons = ma.fields.List(ma.fields.Nested(ReasonSchema), required=True)


class CampaignResultsSchema(ma.Schema):
    campaign_id = ma.fields.Integer(required=True)
    group_by = ma.fields.String(required=True, validate=validate.OneOf(GROUP_BY))
    outcome_question = ma.fields.String(allow_none=True, required=True)
    items = ma.fields.List(ma.fields.Nested(CampaignResultRowSchema), required=True)
    totals = ma.fields.Nested(ResultFiguresSchema, required=True)
