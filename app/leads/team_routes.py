"""The team's lead pool, for managers (their subtree), ops and admins (the business line)."""

from __future__ import annotations

from flask.views import MethodView

from app.api import VALIDATION_ERRORS, Blueprint
from app.auth.security import authenticated, current_tenant, current_user
from app.errors import InvalidCursor, NotInScope, TeamNotFound, TerritoryNotFound, UnknownMerchants
from app.json import json_response
from app.leads import queries, team
from app.leads.schemas import (
    TeamLeadsBulkResultSchema,
    TeamLeadsBulkSchema,
    TeamLeadsPageSchema,
    TeamLeadsQueryArgsSchema,
)
from app.org.models import Role

blp = Blueprint("team_leads", __name__, url_prefix="/api/v1/team", description="The team's lead pool (managers)")

TEAM_LEADS_EXAMPLE = {
    "items": [
        {
            "merchant": {
                "id": 40211,
                "name": "Lao Wang Noodles",
                "category": "food;noodles",
                "address": "12 Wensan Rd",
                "city": "Hangzhou",
            },
            "tags": ["chain"],
            "owner": {"id": 31, "name": "Li Wei"},
            "team": {"id": 4, "name": "West Lake"},
            "claimed_at": "2026-11-02T09:00:00+00:00",
            "drops_at": "2026-12-05T09:00:00+00:00",
            "drop_reason": "no_visit",
            "last_verified_visit_at": "2026-11-20T10:12:00+00:00",
            "extensions_used": 1,
            "extensions_left": 1,
            "lock": None,
            "sign_pending": False,
        }
    ],
    "total": 1,
    "next_cursor": None,
}
BULK_EXAMPLE = {
    "action": "lock",
    "merchant_ids": [40211, 40212],
    "until": "2027-01-15T00:00:00+08:00",
    "reason": "Key account: contract under negotiation",
}
BULK_RESULT_EXAMPLE = {
    "action": "lock",
    "done": 1,
    "failed": 1,
    "results": [
        {
            "merchant_id": 40211,
            "result": "done",
            "error_code": None,
            "owner_id": 31,
            "drops_at": "2027-02-18T09:00:00+00:00",
        },
        {"merchant_id": 40212, "result": "error", "error_code": "NOT_PRIVATE_LEAD", "owner_id": None, "drops_at": None},
    ],
    "notified_user_ids": [31],
}


@blp.route("/leads")
class TeamLeads(MethodView):
    @authenticated(
        blp,
        Role.MANAGER,
        Role.OPS,
        Role.ADMIN,
        errors=(*VALIDATION_ERRORS, InvalidCursor, NotInScope, TeamNotFound, TerritoryNotFound),
    )
    @blp.arguments(TeamLeadsQueryArgsSchema, location="query", as_kwargs=True)
    @blp.response(200, TeamLeadsPageSchema, example=TEAM_LEADS_EXAMPLE)
    def get(self, sort, order, limit, cursor=None, **filters):
        """The private leads of your subtree with owner, drop date and reason, last verified visit and lock."""
        return json_response(
            queries.team_leads(
                current_user(), current_tenant(), queries.TeamLeadFilters(**filters), sort, order, limit, cursor
            )
        )


@blp.route("/leads/bulk")
class TeamLeadsBulk(MethodView):
    @authenticated(
        blp,
        Role.MANAGER,
        Role.OPS,
        Role.ADMIN,
        errors=(
            *VALIDATION_ERRORS,
            (UnknownMerchants, "a merchant id is not one of your business line's"),
            (NotInScope, "a lead, or the BD to reassign to, is outside your subtree"),
        ),
    )
    @blp.arguments(TeamLeadsBulkSchema, example=BULK_EXAMPLE)
    @blp.response(200, TeamLeadsBulkResultSchema, example=BULK_RESULT_EXAMPLE)
    def post(self, body):
        """Reassign, release, extend, lock or unlock up to 1,000 of your team's leads; each lead's result."""
        return json_response(team.bulk(current_user(), current_tenant(), body))
