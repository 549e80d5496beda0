"""HQ strategy campaigns (ops and admins; managers for their own subtree's leads)."""

from __future__ import annotations

from flask.views import MethodView

from app.api import VALIDATION_ERRORS, Blueprint
from app.auth.security import authenticated, current_user
from app.campaigns import service
from app.campaigns.schemas import (
    CampaignCreateSchema,
    CampaignLaunchSchema,
    CampaignListSchema,
    CampaignPreviewSchema,
    CampaignResultsQueryArgsSchema,
    CampaignResultsSchema,
    CampaignSchema,
)
from app.errors import CampaignNotFound, UnknownTerritory
from app.json import json_response
from app.org.models import Role

blp = Blueprint("campaigns", __name__, url_prefix="/api/v1", description="HQ strategy campaigns")

RUNNERS = (Role.MANAGER, Role.OPS, Role.ADMIN)
FILTER_EXAMPLE = {
    "tags": ["price_disadvantage"],
    "min_price_gap": 15,
    "category": "餐饮服务",
    "city": "杭州市",
    "territory_id": 7,
    "pool_state": "private",
    "unvisited_days": 30,
}
TEMPLATE_EXAMPLE = {
    "kind": "price_adjust",
    "title": "Match the competitor's price",
    "body": "Meituan sells the same set 15% cheaper; agree a price adjustment with the owner.",
    "priority": 2,
    "due_days": 7,
    "feedback_form": {"question": "Price adjusted?", "options": ["yes", "no"]},
}
CREATE_EXAMPLE = {"name": "Hangzhou price gaps, December", "filter": FILTER_EXAMPLE, "template": TEMPLATE_EXAMPLE}
CAMPAIGN_EXAMPLE = {
    "id": 3,
    **CREATE_EXAMPLE,
    "creator_id": 2,
    "launches": 1,
    "last_launched_at": "2026-12-01T09:00:00+00:00",
    "created_at": "2026-11-30T16:00:00+00:00",
}
PREVIEW_EXAMPLE = {
    "matches": 1234,
    "new_matches": 56,
    "sample": [
        {
            "id": 101,
            "name": "外婆家(湖滨店)",
            "city": "杭州市",
            "category": "餐饮服务;中餐厅;浙菜",
            "tags": ["head", "price_disadvantage"],
            "price_gap": 22.5,
            "pool_state": "private",
            "owner_id": 11,
        }
    ],
}
LAUNCH_EXAMPLE = {
    "campaign_id": 3,
    "launch": 2,
    "tasks_created": 56,
    "assignments_created": 61,
    "skipped": 1,
    "skipped_merchant_ids": [4711],
}
FIGURES = {"assigned": 40, "accepted": 5, "done": 28, "rejected": 3, "overdue": 4, "outcomes": {"yes": 21, "no": 7}}
RESULTS_EXAMPLE = {
    "campaign_id": 3,
    "group_by": "city",
    "outcome_question": "Price adjusted?",
    "items": [
        {
            "key": "杭州市",
            "label": "杭州市",
            **FIGURES,
            "rejection_reasons": [{"reason": "The owner will not go below the platform fee", "count": 2}],
        }
    ],
    "totals": FIGURES,
}


@blp.route("/campaigns")
class Campaigns(MethodView):
    @authenticated(blp, *RUNNERS)
    @blp.response(200, CampaignListSchema, example={"items": [CAMPAIGN_EXAMPLE]})
    def get(self):
        """The campaigns you see (HQ: all; managers: their own and their subtree's), newest first."""
        return json_response({"items": [service.view(c) for c in service.list_campaigns(current_user())]})

    @authenticated(
        blp, *RUNNERS, errors=(*VALIDATION_ERRORS, (UnknownTerritory, "`filter.territory_id` is none you can see"))
    )
    @blp.arguments(CampaignCreateSchema, example=CREATE_EXAMPLE)
    @blp.response(201, CampaignSchema, example=CAMPAIGN_EXAMPLE)
    def post(self, body):
        """Save a campaign: a merchant filter and the task each matching merchant's BD will get."""
        return json_response(service.view(service.create(current_user(), body)), 201)


@blp.route("/campaigns/<id:campaign_id>/preview")
class CampaignPreview(MethodView):
    @authenticated(blp, *RUNNERS, errors=(CampaignNotFound,))
    @blp.response(200, CampaignPreviewSchema, example=PREVIEW_EXAMPLE)
    def post(self, campaign_id):
        """How many merchants match now (and how many a launch would newly reach), with a sample."""
        return json_response(service.preview(current_user(), campaign_id))


@blp.route("/campaigns/<id:campaign_id>/launch")
class CampaignLaunch(MethodView):
    @authenticated(blp, *RUNNERS, errors=(CampaignNotFound,))
    @blp.response(200, CampaignLaunchSchema, example=LAUNCH_EXAMPLE)
    def post(self, campaign_id):
        """Create a task for each new match: to its lead owner, or the covering territory's BDs when public."""
        return json_response(service.launch(current_user(), campaign_id))


@blp.route("/campaigns/<id:campaign_id>/results")
class CampaignResults(MethodView):
    @authenticated(blp, *RUNNERS, errors=(*VALIDATION_ERRORS, CampaignNotFound))
    @blp.arguments(CampaignResultsQueryArgsSchema, location="query", as_kwargs=True)
    @blp.response(200, CampaignResultsSchema, example=RESULTS_EXAMPLE)
    def get(self, campaign_id, group_by):
        """Per city, team or BD: assigned, accepted, done, rejected with reasons, overdue, feedback outcomes."""
        return json_response(service.results(current_user(), campaign_id, group_by))
