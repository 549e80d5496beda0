"""Call logs: calls and messages with a merchant's contacts."""

from __future__ import annotations

from flask.views import MethodView

from app.activities import queries, service
from app.activities.schemas import (
    ActivityCreateSchema,
    ActivityPageSchema,
    ActivityQueryArgsSchema,
    ActivitySchema,
    OptionalIdempotencyHeaderSchema,
)
from app.api import VALIDATION_ERRORS, Blueprint
from app.auth.security import authenticated, current_user
from app.errors import (
    IdempotencyKeyReused,
    InvalidCursor,
    MerchantNotFound,
    NotInScope,
    UnknownContact,
)
from app.json import json_response

blp = Blueprint("activities", __name__, url_prefix="/api/v1", description="Call logs: calls and messages")

EXAMPLE = {
    "id": 5012,
    "merchant": {"id": 17, "name": "外婆家 (湖滨店)"},
    "user": {"id": 8, "name": "Zhang Wei"},
    "contact": {"id": 44, "name": "王老板"},
    "kind": "call",
    "direction": "outgoing",
    "occurred_at": "2026-11-22T09:40:00+08:00",
    "duration_s": 185,
    "result": "follow_up",
    "notes": "Wants the lunch-deal numbers before Friday",
    "created_at": "2026-11-22T01:43:12+00:00",
}


@blp.route("/activities")
class Activities(MethodView):
    @authenticated(blp, errors=(*VALIDATION_ERRORS, MerchantNotFound, UnknownContact, IdempotencyKeyReused))
    @blp.arguments(OptionalIdempotencyHeaderSchema, location="headers")
    @blp.arguments(
        ActivityCreateSchema,
        example={
            "merchant_id": 17,
            "kind": "call",
            "direction": "outgoing",
            "contact_id": 44,
            "occurred_at": "2026-11-22T09:40:00+08:00",
            "duration_s": 185,
            "result": "follow_up",
            "notes": "Wants the lunch-deal numbers before Friday",
        },
    )
    @blp.response(201, ActivitySchema, example=EXAMPLE, description="Logged (or, for a replayed key, the original)")
    def post(self, headers, body):
        """Log a call or message with a merchant: contact for the dashboards, never a verified visit."""
        activity_id, replayed = service.log_activity(current_user(), headers.get("idempotency_key"), body)
        response = json_response(queries.activity_item(activity_id), 201)
        response.headers["Idempotent-Replayed"] = "true" if replayed else "false"
        return response

    @authenticated(blp, errors=(*VALIDATION_ERRORS, NotInScope, InvalidCursor))
    @blp.arguments(ActivityQueryArgsSchema, location="query")
    @blp.response(200, ActivityPageSchema, example={"items": [EXAMPLE], "next_cursor": None})
    def get(self, args):
        """Calls and messages, newest first: yours as a BD, your people's as a manager, everyone's for ops."""
        return json_response(
            queries.list_activities(
                current_user(),
                merchant_id=args.get("merchant_id"),
                user_id=args.get("user_id"),
                kind=args.get("kind"),
                limit=args["limit"],
                cursor=args.get("cursor"),
            )
        )
