"""KPIs, monthly targets and the leaderboard (managers: their people; ops and admins: the tenant)."""

from __future__ import annotations

from flask.views import MethodView

from app.api import VALIDATION_ERRORS, Blueprint
from app.auth.security import authenticated, current_tenant, current_user
from app.dashboard import kpis
from app.dashboard.kpi_schemas import (
    KpiQueryArgsSchema,
    KpiReportSchema,
    LeaderboardQueryArgsSchema,
    LeaderboardSchema,
    TargetsQueryArgsSchema,
    TargetsSchema,
    TargetsUpdateSchema,
)
from app.errors import InvalidPeriod, NotInScope, TeamNotFound, UnknownUsers
from app.json import json_response
from app.org.models import Role

blp = Blueprint("kpis", __name__, url_prefix="/api/v1", description="KPIs, targets and the leaderboard")

VIEWERS = (Role.MANAGER, Role.OPS, Role.ADMIN)
FIGURES = {
    "subject": {"id": 11, "name": "李伟"},
    "visits": 42,
    "verified_visits": 39,
    "verified_share": 0.9286,
    "merchants_visited": 31,
    "merchants_added": 4,
    "claims": 12,
    "signings": 3,
    "tasks_assigned": 10,
    "tasks_done": 8,
    "task_completion": 0.8,
    "calls": None,
    "gmv": 18250.0,
}
KPI_EXAMPLE = {
    "period": "month",
    "from": "2026-11-01",
    "to": "2026-11-30",
    "group_by": "bd",
    "calls_available": False,
    "items": [
        {
            "period_start": "2026-11-01",
            **FIGURES,
            "targets": {"signings": {"target": 5.0, "actual": 3, "progress": 0.6}},
        }
    ],
    "totals": [FIGURES],
}
TARGETS_EXAMPLE = {
    "month": "2026-12",
    "targets": [
        {"user_id": 11, "metric": "signings", "value": 5},
        {"team_id": 4, "metric": "visits", "value": 600},
    ],
}
TARGETS_ANSWER = {
    "month": "2026-12-01",
    "items": [
        {"user_id": 11, "team_id": None, "metric": "signings", "value": 5.0},
        {"user_id": None, "team_id": 4, "metric": "visits", "value": 600.0},
    ],
}
LEADERBOARD_EXAMPLE = {
    "month": "2026-11-01",
    "metric": "signings",
    "group_by": "bd",
    "items": [{"rank": 1, "subject": {"id": 11, "name": "李伟"}, "value": 3, "target": 5.0, "progress": 0.6}],
}


@blp.route("/kpis")
class Kpis(MethodView):
    @authenticated(blp, *VIEWERS, errors=(*VALIDATION_ERRORS, InvalidPeriod, TeamNotFound))
    @blp.arguments(KpiQueryArgsSchema, location="query", as_kwargs=True)
    @blp.response(200, KpiReportSchema, example=KPI_EXAMPLE)
    def get(self, period, group_by, from_=None, to=None, team_id=None):
        """Visits, verified share, merchants, claims, signings, tasks and GMV per BD or team and period."""
        return json_response(kpis.kpis(current_user(), current_tenant(), period, from_, to, group_by, team_id))


@blp.route("/kpis/leaderboard")
class Leaderboard(MethodView):
    @authenticated(blp, *VIEWERS, errors=(*VALIDATION_ERRORS, TeamNotFound))
    @blp.arguments(LeaderboardQueryArgsSchema, location="query", as_kwargs=True)
    @blp.response(200, LeaderboardSchema, example=LEADERBOARD_EXAMPLE)
    def get(self, month, metric, group_by, team_id=None):
        """BDs or teams ranked by one metric over a month, with target and progress."""
        return json_response(kpis.leaderboard(current_user(), current_tenant(), month, metric, group_by, team_id))


@blp.route("/targets")
class Targets(MethodView):
    @authenticated(blp, *VIEWERS, errors=VALIDATION_ERRORS)
    @blp.arguments(TargetsQueryArgsSchema, location="query", as_kwargs=True)
    @blp.response(200, TargetsSchema, example=TARGETS_ANSWER)
    def get(self, month):
        """The month's targets of the BDs and teams you see."""
        return json_response(kpis.list_targets(current_user(), current_tenant(), month))

    @authenticated(
        blp,
        Role.MANAGER,
        Role.ADMIN,
        errors=(
            *VALIDATION_ERRORS,
            (UnknownUsers, "a `user_id` is no BD of your business line"),
            (TeamNotFound, "a `team_id` is no org unit of your business line"),
            (NotInScope, "a BD or team outside your subtree"),
        ),
    )
    @blp.arguments(TargetsUpdateSchema, example=TARGETS_EXAMPLE)
    @blp.response(200, TargetsSchema, example=TARGETS_ANSWER)
    def put(self, body):
        """Set monthly targets per BD and per team (a null value removes one); the month's targets."""
        return json_response(kpis.set_targets(current_user(), current_tenant(), body["month"], body["targets"]))
