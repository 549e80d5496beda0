from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from app.campaigns.schemas import POOL_STATES
from app.schemas import ID

KINDS = ["merchants", "team_leads", "kpis", "campaign_results", "visits"]
FORMATS = ["csv", "xlsx"]


class ExportParamsSchema(ma.Schema):
    """What selects the rows; each kind reads the parameters it knows and ignores the others."""

    # merchants (or any kind naming a campaign): the filter, or a saved campaign's
    campaign_id = ma.fields.Integer(validate=ID, metadata={"description": "merchants, campaign_results"})
    tags = ma.fields.List(ma.fields.String(validate=validate.Length(min=1, max=64)), validate=validate.Length(max=20))
    min_price_gap = ma.fields.Float(validate=validate.Range(min=-1000, max=1000))
    category = ma.fields.String(validate=validate.Length(min=1, max=200))
    city = ma.fields.String(validate=validate.Length(min=1, max=100))
    territory_id = ma.fields.Integer(validate=ID)
    pool_state = ma.fields.String(validate=validate.OneOf(POOL_STATES))
    unvisited_days = ma.fields.Integer(validate=validate.Range(min=1, max=3650))
    # team_leads
    owner_id = ma.fields.Integer(validate=ID)
    team_id = ma.fields.Integer(validate=ID, metadata={"description": "team_leads, kpis"})
    drops_within_days = ma.fields.Integer(validate=validate.Range(min=0, max=365))
    tag = ma.fields.String(validate=validate.Length(min=1, max=64))
    # kpis, campaign_results
    period = ma.fields.String(validate=validate.OneOf(["day", "week", "month"]))
    from_ = ma.fields.Date(data_key="from")
    to = ma.fields.Date()
    group_by = ma.fields.String(
        validate=validate.OneOf(["bd", "team", "city"]),
        metadata={"description": "kpis: bd or team; campaign_results: city, team or bd"},
    )


class ExportQueryArgsSchema(ExportParamsSchema):
    format = ma.fields.String(load_default="csv", validate=validate.OneOf(FORMATS))


class ExportCreateSchema(ma.Schema):
    kind = ma.fields.String(required=True, validate=validate.OneOf(KINDS))
    format = ma.fields.String(load_default="csv", validate=validate.OneOf(FORMATS))
    params = ma.fields.Nested(ExportParamsSchema, load_default=dict)


class ExportSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    kind = ma.fields.String(required=True, validate=validate.OneOf(KINDS))
    format = ma.fields.String(required=True, validate=validate.OneOf(FORMATS))
    status = ma.fields.String(required=True, validate=validate.OneOf(["queued", "running", "done", "failed"]))
    rows_total = ma.fields.Integer(allow_none=True, required=True)
    rows_done = ma.fields.Integer(required=True)
    progress = ma.fields.Float(allow_none=True, required=True, metadata={"description": "0..1, null until counted"})
    download_url = ma.fields.String(
        allow_none=True, required=True, metadata={"description": "When done: a signed URL (no bearer token needed)"}
    )
    expires_at = ma.fields.Integer(allow_none=True, required=True, metadata={"description": "The URL's expiry (epoch)"})
    error = ma.fields.String(allow_none=True, required=True)
    created_at = ma.fields.DateTime(required=True)
    finished_at = ma.fields.DateTime(allow_none=True, required=True)


class ExportFileQueryArgsSchema(ma.Schema):
    expires = ma.fields.Integer(required=True)
    # URL-safe base64 without padding, as signed; anything else is a 422 before any comparison
    signature = ma.fields.String(required=True, validate=validate.Regexp(r"^[A-Za-z0-9_-]{1,100}$"))
