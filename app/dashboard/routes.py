"""Manager dashboards (managers: their people; ops and admins: the tenant)."""

from __future__ import annotations

from flask.views import MethodView

from app.api import VALIDATION_ERRORS, Blueprint
from app.auth.security import authenticated, current_tenant, current_user
from app.dashboard import service
from app.dashboard.schemas import (
    DashboardTeamSchema,
    FunnelQueryArgsSchema,
    FunnelSchema,
    HeatmapQueryArgsSchema,
    HeatmapSchema,
    TeamDashboardQueryArgsSchema,
)
from app.errors import BboxTooLarge, InvalidPeriod, TeamNotFound, TerritoryNotFound, TooManyCells
from app.json import json_response
from app.org.models import Role
from app.territories.routes import blp as territories_blp
from app.territories.schemas import TerritoryStatsSchema

blp = Blueprint("dashboard", __name__, url_prefix="/api/v1/dashboard", description="Manager dashboards")

VIEWERS = (Role.MANAGER, Role.OPS, Role.ADMIN)


@blp.route("/team")
class TeamDay(MethodView):
    @authenticated(blp, *VIEWERS, errors=(*VALIDATION_ERRORS, TeamNotFound))
    @blp.arguments(TeamDashboardQueryArgsSchema, location="query", as_kwargs=True)
    @blp.response(
        200,
        DashboardTeamSchema,
        example={
            "date": "2026-11-20",
            "items": [
                {
                    "user_id": 11,
                    "name": "李伟",
                    "visits": {"verified": 9, "unverified": 1},
                    "new_merchants": 2,
                    "claims": 4,
                    "signings": 1,
                    "tasks_done": 3,
                    "overdue": 0,
                    "calls": 5,
                    "messages": 2,
                    "contacts": 17,
                }
            ],
            "totals": {
                "visits": {"verified": 9, "unverified": 1},
                "new_merchants": 2,
                "claims": 4,
                "signings": 1,
                "tasks_done": 3,
                "overdue": 0,
                "calls": 5,
                "messages": 2,
                "contacts": 17,
            },
        },
    )
    def get(self, date=None, team_id=None):
        """The team's day per BD: visits, calls, messages, new merchants, claims, signings, tasks done, overdue."""
        return json_response(service.team_day(current_user(), current_tenant(), date, team_id))


@blp.route("/funnel")
class Funnel(MethodView):
    @authenticated(blp, *VIEWERS, errors=(*VALIDATION_ERRORS, TeamNotFound, InvalidPeriod))
    @blp.arguments(FunnelQueryArgsSchema, location="query", as_kwargs=True)
    @blp.response(
        200,
        FunnelSchema,
        example={
            "from": "2026-11-01",
            "to": "2026-11-30",
            "bds": 12,
            "stages": {"public": 8120, "private": 240, "visited": 180, "signed": 31},
            "conversion": {"visited_of_private": 0.75, "signed_of_private": 0.1292, "signed_of_visited": 0.1722},
        },
    )
    def get(self, from_, to, team_id=None):
        """The pool funnel public → private → visited → signed for a period (tenant days, inclusive)."""
        return json_response(service.funnel(current_user(), current_tenant(), from_, to, team_id))


@blp.route("/heatmap")
class Heatmap(MethodView):
    @authenticated(blp, *VIEWERS, errors=(*VALIDATION_ERRORS, BboxTooLarge, TooManyCells))
    @blp.arguments(HeatmapQueryArgsSchema, location="query", as_kwargs=True)
    @blp.response(
        200,
        HeatmapSchema,
        example={
            "cell_m": 500,
            "cell_deg": {"lat": 0.0044916, "lng": 0.0051939},
            "origin": {"lat": 30.22, "lng": 120.1},
            "since": "2026-11-13T10:00:00+00:00",
            "cells": [
                {
                    "lat": 30.2422458,
                    "lng": 120.1571450,
                    "merchants": 412,
                    "public": 301,
                    "private": 88,
                    "partner": 23,
                    "visits": 17,
                    "verified_visits": 15,
                }
            ],
        },
    )
    def get(self, bbox, cell_m, days):
        """Grid counts for a map layer: merchants by pool state and your people's recent visits per cell."""
        return json_response(service.heatmap(current_user(), current_tenant(), bbox, cell_m, days))


# A report about a territory, at its URL and under its tag: registered on the territories blueprint from
# here because it counts merchants, leads and visits, which the territories package sits below.
@territories_blp.route("/<id:territory_id>/stats")
class TerritoryStats(MethodView):
    @authenticated(territories_blp, errors=(TerritoryNotFound,))
    @territories_blp.response(
        200,
        TerritoryStatsSchema,
        example={
            "territory_id": 7,
            "merchants": {"total": 1830, "public": 1204, "private": 512, "partner": 114},
            "week_start": "2026-11-16T00:00:00+08:00",
            "visits_this_week": {"total": 96, "verified": 88},
            "signings_this_week": 4,
        },
    )
    def get(self, territory_id):
        """Merchants the territory covers by pool state, this week's visits and signings (tenant's week)."""
        return json_response(service.territory_stats(current_user(), current_tenant(), territory_id))
