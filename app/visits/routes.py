"""Check-ins, check-outs, visit lists, the team's day, and day plans."""

from __future__ import annotations

from datetime import date

from flask.views import MethodView

from app import clock
from app.api import VALIDATION_ERRORS, Blueprint
from app.auth.security import authenticated, current_tenant, current_user
from app.errors import (
    AlreadyCheckedOut,
    IdempotencyKeyReused,
    InvalidCursor,
    InvalidFormAnswers,
    MerchantNotFound,
    NotInScope,
    PlanNotFound,
    UnknownContact,
    UnknownForm,
    UnknownMerchants,
    UnknownPhotos,
    ValidationFailed,
    VisitNotFound,
)
from app.json import json_response
from app.org.models import Role
from app.tenants import visit_forms
from app.visits import plans, queries, service
from app.visits.schemas import (
    CheckInResultSchema,
    CheckInSchema,
    CheckOutSchema,
    IdempotencyHeaderSchema,
    PlanCreateSchema,
    PlanQueryArgsSchema,
    PlanSchema,
    TeamDayQueryArgsSchema,
    TeamDaySchema,
    VisitFormsSchema,
    VisitPageSchema,
    VisitQueryArgsSchema,
    VisitSchema,
)

blp = Blueprint("visits", __name__, url_prefix="/api/v1", description="Visits, check-ins and day plans")

CHECK_IN_ERRORS = (
    *VALIDATION_ERRORS,
    MerchantNotFound,
    IdempotencyKeyReused,
    UnknownPhotos,
    UnknownForm,
    InvalidFormAnswers,
)
CHECK_OUT_ERRORS = (
    *VALIDATION_ERRORS,
    VisitNotFound,
    AlreadyCheckedOut,
    UnknownContact,
    UnknownPhotos,
    UnknownForm,
    InvalidFormAnswers,
)
COMPETITOR_ANSWERS = {
    "form": visit_forms.COMPETITOR_FORM,
    "version": 1,
    "answers": {"platform": "eleme", "online": True, "offer": "2-person lunch set", "their_price": 59, "our_price": 64},
}


@blp.route("/visits")
class Visits(MethodView):
    @authenticated(blp, errors=CHECK_IN_ERRORS)
    @blp.arguments(IdempotencyHeaderSchema, location="headers")
    @blp.arguments(
        CheckInSchema,
        example={
            "merchant_id": 17,
            "lat": 30.25612,
            "lng": 120.17489,
            "coord_sys": "gcj02",
            "accuracy_m": 12.0,
            "client_time": "2026-11-22T10:15:03+08:00",
            "mock_location": False,
            "photo_ids": [],
            "purpose": "first pitch",
            "form_answers": [COMPETITOR_ANSWERS],
        },
    )
    @blp.response(201, CheckInResultSchema, description="Recorded (or, for a replayed key, the original result)")
    def post(self, headers, body):
        """Check in at a merchant: verified against its position, idempotent per `Idempotency-Key`."""
        body["photo_ids"] = [str(photo) for photo in body["photo_ids"]]
        result, replayed = service.check_in(current_user(), current_tenant(), headers["idempotency_key"], body)
        response = json_response(result, 201)
        response.headers["Idempotent-Replayed"] = "true" if replayed else "false"
        return response

    @authenticated(blp, errors=(*VALIDATION_ERRORS, NotInScope, InvalidCursor))
    @blp.arguments(VisitQueryArgsSchema, location="query")
    @blp.response(200, VisitPageSchema)
    def get(self, args):
        """Visits, newest first: yours as a BD, your people's as a manager, everyone's for ops."""
        return json_response(
            queries.list_visits(
                current_user(),
                user_id=args.get("user_id"),
                merchant_id=args.get("merchant_id"),
                since=args.get("from_"),
                until=args.get("to"),
                limit=args["limit"],
                cursor=args.get("cursor"),
            )
        )


@blp.route("/visits/<id:visit_id>/checkout")
class CheckOut(MethodView):
    @authenticated(blp, errors=CHECK_OUT_ERRORS)
    @blp.arguments(
        CheckOutSchema,
        example={
            "result": "follow_up",
            "notes": "Owner wants a lunch deal",
            "contact_ids": [],
            "lat": 30.2561,
            "lng": 120.1749,
            "coord_sys": "gcj02",
            "next_visit_at": "2026-11-25T14:00:00+08:00",
            "form_answers": [{"form": "shelf_check", "version": 3, "answers": {"promo_display": True, "facings": 4}}],
        },
    )
    @blp.response(200, VisitSchema)
    def post(self, body, visit_id):
        """Check out of your visit once: result, notes, contacts met, and the next visit's date."""
        visit = service.check_out(current_user(), current_tenant(), visit_id, body)
        return json_response(queries.visit_item(visit.id))


@blp.route("/team/visits")
class TeamVisits(MethodView):
    @authenticated(blp, Role.MANAGER, Role.OPS, Role.ADMIN, errors=VALIDATION_ERRORS)
    @blp.arguments(TeamDayQueryArgsSchema, location="query")
    @blp.response(200, TeamDaySchema)
    def get(self, args):
        """Your team's day: per BD, visits (verified or not), flags, first and last check-in, and the track."""
        tenant = current_tenant()
        day = args["date"] or clock.now().astimezone(tenant.zone).date()
        return json_response(queries.team_day(current_user(), tenant, day))


@blp.route("/visit-plans")
class VisitPlans(MethodView):
    @authenticated(blp, errors=(*VALIDATION_ERRORS, UnknownMerchants))
    @blp.arguments(
        PlanCreateSchema,
        example={
            "date": "2026-11-23",
            "start": {"lat": 30.2561, "lng": 120.1749, "coord_sys": "gcj02"},
            "merchant_ids": [17, 23, 311, 42],
        },
    )
    @blp.response(201, PlanSchema)
    def post(self, body):
        """Plan a day: the order of up to 100 stops that minimises walking (re-planning a day replaces it)."""
        return json_response(
            plans.save_plan(current_user(), current_tenant(), body["date"], body["start"], body["merchant_ids"]), 201
        )


@blp.route("/visit-plans/<day>")
class VisitPlanDay(MethodView):
    @authenticated(blp, errors=(*VALIDATION_ERRORS, PlanNotFound))
    @blp.arguments(PlanQueryArgsSchema, location="query")
    @blp.response(200, PlanSchema)
    def get(self, args, day):
        """A day's plan with the stops you have visited (verified) so far."""
        try:
            parsed = date.fromisoformat(day)
        except ValueError as exc:
            raise ValidationFailed(errors={"path": {"day": ["A date: YYYY-MM-DD."]}}) from exc
        return json_response(plans.get_plan(current_user(), current_tenant(), parsed, args["coord_sys"]))


@blp.route("/visit-forms")
class VisitForms(MethodView):
    @authenticated(blp)
    @blp.response(
        200,
        VisitFormsSchema,
        example={
            "forms": [
                {
                    "key": "shelf_check",
                    "version": 3,
                    "title": "Shelf check",
                    "bind": "check_out",
                    "fields": [
                        {"key": "promo_display", "label": "Promo display up?", "type": "yes_no", "required": True},
                        {
                            "key": "facings",
                            "label": "Facings of our product",
                            "type": "number",
                            "required": True,
                            "unit": "pcs",
                            "min": 0,
                            "max": 50,
                            "show_if": {"field": "promo_display", "equals": True},
                        },
                    ],
                },
                visit_forms.BUILT_IN[visit_forms.COMPETITOR_FORM],
            ]
        },
    )
    def get(self):
        """The visit forms to show now (latest versions, built-in ones included): send answers with the version."""
        return json_response({"forms": visit_forms.current_forms(current_tenant())})
