"""The console's pages: thin views over the services and queries the API uses, with the same scope rules."""

from __future__ import annotations

import csv
import io
import json
import math
from datetime import date, timedelta
from typing import Any

import marshmallow as ma
from flask import Blueprint, Response, abort, current_app, flash, g, redirect, render_template, request, url_for
from sqlalchemy import select

from app import clock, db, i18n
from app.admin import service as admin
from app.admin import settings as settings_service
from app.admin.settings_schemas import TenantSettingsUpdateSchema
from app.audit import service as audit_service
from app.audit.schemas import AuditQueryArgsSchema
from app.console import queries as console_queries
from app.console import session as console_session
from app.dashboard import kpis as kpi_service
from app.dashboard import service as dashboard
from app.dashboard.kpi_schemas import RANKED as RANKED_METRICS
from app.dashboard.kpi_schemas import LeaderboardQueryArgsSchema
from app.errors import AppError, EmptyFile, InvalidCredentials, LoginLocked, RateLimited, TenantRequired
from app.intake import corrections, imports
from app.intake import queries as intake_queries
from app.intake import service as intake
from app.intake.models import MerchantImport
from app.leads import queries as lead_queries
from app.leads import team as lead_team
from app.leads.schemas import TeamLeadsBulkSchema, TeamLeadsQueryArgsSchema
from app.merchants import queries as merchants
from app.org.models import Role
from app.tabular import spreadsheet_safe
from app.tasks import queries as task_queries
from app.tasks import service as task_service
from app.tasks.schemas import KINDS as TASK_KINDS
from app.tasks.schemas import TaskCreateSchema
from app.tenants import visit_forms
from app.territories import service as territories
from app.territories.models import Territory
from app.visits import queries as visits
from geo.coords import CoordSys

blp = Blueprint(
    "console",
    __name__,
    url_prefix="/console",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)
blp.before_request(console_session.load_user)

DESK = (Role.MANAGER, Role.OPS, Role.ADMIN)
OPS = (Role.OPS, Role.ADMIN)
# the pages in the navigation bar, for whom
NAVIGATION = [
    ("console.team_today", "Team today", DESK),
    ("console.my_day", "My day", (Role.BD,)),
    ("console.audit_queue", "Audit queue", OPS),
    ("console.import_list", "Imports", OPS),
    ("console.team_leads", "Team leads", DESK),
    ("console.tasks", "Tasks", DESK),
    ("console.territory_list", "Territories", DESK),
    ("console.dashboard", "Dashboards", DESK),
    ("console.users", "Users", DESK),
    ("console.settings", "Settings", DESK),
    ("console.audit_log", "Audit log", (Role.ADMIN,)),
]


@blp.app_template_global("_")
def translate(text: str, **values: Any) -> str:
    """The console's text in the signed-in user's language (``console.po``; English is the msgid)."""
    return (
        i18n.translate(text, getattr(g, "locale", None)).format(**values)
        if values
        else i18n.translate(text, getattr(g, "locale", None))
    )


@blp.app_template_filter("local")
def local_time(moment: Any, pattern: str = "%H:%M") -> str:
    """A time of the API (UTC) as the business line's clock shows it."""
    if moment is None:
        return "–"
    return moment.astimezone(g.tenant.zone).strftime(pattern) if getattr(g, "tenant", None) else str(moment)


@blp.context_processor
def page_globals() -> dict[str, Any]:
    user = getattr(g, "user", None)
    items = [(endpoint, label) for endpoint, label, who in NAVIGATION if user is not None and user.role in who]
    return {
        "navigation": items,
        "user": user,
        "tile_url": current_app.config.get("CONSOLE_TILE_URL", ""),
        "tile_gcj02": current_app.config.get("CONSOLE_TILE_GCJ02", False),
        "locale": getattr(g, "locale", "en"),
    }


def _day(raw: str | None) -> date:
    try:
        return date.fromisoformat(raw) if raw else clock.now().astimezone(g.tenant.zone).date()
    except ValueError:
        abort(400)


# --- signing in


@blp.route("/login", methods=["GET", "POST"])
def login():
    if request.method == "GET":
        return render_template("console/login.html")
    form = request.form
    try:
        console_session.sign_in(form.get("username", ""), form.get("password", ""), form.get("tenant", ""))
    except (InvalidCredentials, TenantRequired, LoginLocked, RateLimited) as error:
        return render_template("console/login.html", error=error, username=form.get("username", "")), error.status
    target = request.args.get("next", "")
    # only a path of the console itself: never an open redirect
    return redirect(target if target.startswith("/console/") and "//" not in target else url_for("console.home"))


@blp.route("/logout", methods=["POST"])
def logout():
    console_session.sign_out()
    return redirect(url_for("console.login"))


@blp.route("/")
def home():
    return redirect(url_for("console.my_day" if g.user.role == Role.BD else "console.team_today"))


# --- the team's day


@blp.route("/team-today")
@console_session.roles(*DESK)
def team_today():
    day = _day(request.args.get("date"))
    team = visits.team_day(g.user, g.tenant, day)
    start, end = g.tenant.day_bounds(day)
    points = visits.list_visits(g.user, user_id=None, merchant_id=None, since=start, until=end, limit=500, cursor=None)[
        "items"
    ]
    markers = [
        {
            "lat": p["lat"],
            "lng": p["lng"],
            "label": f"{p['user']['name']}: {p['merchant']['name']}",
            "flags": p["flags"],
            "verified": p["verified"],
            "href": url_for("console.merchant", merchant_id=p["merchant"]["id"]),
        }
        for p in points
    ]
    tracks = [m["track"] for m in team["members"] if m["track"] and m["track"]["type"] == "LineString"]
    return render_template(
        "console/team_today.html",
        day=day,
        team=team,
        visits=points,
        map_data=json.dumps({"markers": markers, "lines": tracks, "polygons": []}),
    )


@blp.route("/my-day")
def my_day():
    day = _day(request.args.get("date"))
    start, end = g.tenant.day_bounds(day)
    own = visits.list_visits(
        g.user, user_id=g.user.id, merchant_id=None, since=start, until=end, limit=200, cursor=None
    )
    markers = [
        {
            "lat": p["lat"],
            "lng": p["lng"],
            "label": p["merchant"]["name"],
            "flags": p["flags"],
            "verified": p["verified"],
        }
        for p in own["items"]
    ]
    return render_template(
        "console/my_day.html",
        day=day,
        visits=own["items"],
        map_data=json.dumps({"markers": markers, "lines": [], "polygons": []}),
    )


@blp.route("/merchants/<int:merchant_id>")
def merchant(merchant_id: int):
    detail = merchants.merchant_detail(g.user, g.tenant, merchant_id, CoordSys.WGS84)
    info = detail["merchant"]
    markers = [{"lat": info["lat"], "lng": info["lng"], "label": info["name"], "flags": [], "verified": True}]
    return render_template(
        "console/merchant.html",
        detail=detail,
        map_data=json.dumps({"markers": markers, "lines": [], "polygons": []}),
    )


# --- ops: the audit queue


@blp.route("/audit-queue")
@console_session.roles(*OPS)
def audit_queue():
    page = intake_queries.pending(g.tenant.id, CoordSys.WGS84, 50, request.args.get("cursor") or None)
    for item in page["items"]:
        correction = item.get("correction") or {}
        ids = [c for c in (correction.get("duplicate_candidates") or item["candidates"]) if isinstance(c, int)]
        item["candidates"] = console_queries.candidates_beside(g.tenant.id, item["id"], ids)
        # the new merchant and its candidates side by side on a small map
        item["map"] = {
            "markers": [{"lat": item["lat"], "lng": item["lng"], "label": item["name"], "flags": [], "verified": False}]
            + [
                {"lat": c["lat"], "lng": c["lng"], "label": c["name"], "flags": [], "verified": True}
                for c in item["candidates"]
            ],
            "lines": [],
            "polygons": [],
        }
    return render_template("console/audit_queue.html", page=page)


@blp.route("/audit-queue/<int:merchant_id>", methods=["POST"])
@console_session.roles(*OPS)
def audit_decision(merchant_id: int):
    action = request.form.get("action", "")
    if action not in ("approve", "reject", "merge"):
        abort(400)
    into = request.form.get("into_id") or None
    correction = request.form.get("correction_id") or ""
    try:
        if correction.isdigit():
            if action == "merge":
                abort(400)
            corrections.audit(
                g.user, merchant_id, int(correction), action, CoordSys.WGS84, request.form.get("note") or None
            )
        else:
            intake.audit(
                g.user,
                merchant_id,
                action,
                int(into) if into and into.isdigit() else None,
                CoordSys.WGS84,
                request.form.get("note") or None,
            )
    except AppError as error:
        flash(f"{error.error_code}: {error.message}", "error")
    else:
        flash(translate("Done: {action}", action=translate(action)), "ok")
    return redirect(url_for("console.audit_queue"))


# --- ops: imports


@blp.route("/imports", methods=["GET", "POST"])
@console_session.roles(*OPS)
def import_list():
    if request.method == "POST":
        upload = request.files.get("file")
        try:
            if upload is None or not upload.filename:
                raise EmptyFile()
            record = imports.start_import(
                g.user,
                upload.read(),
                filename=upload.filename,
                source=(request.form.get("source") or "console")[:40],
                coord_sys=CoordSys(request.form.get("coord_sys") or "wgs84"),
                mapping=imports.parse_mapping(request.form.get("mapping") or None),
                file_format=None,
            )
        except (AppError, ValueError) as error:
            message = f"{error.error_code}: {error.message}" if isinstance(error, AppError) else str(error)
            return render_template("console/imports.html", recent=_recent_imports(), error=message), 422
        return redirect(url_for("console.import_status", import_id=record.id))
    return render_template("console/imports.html", recent=_recent_imports())


def _recent_imports() -> list[Any]:
    return db.session.scalars(select(MerchantImport).order_by(MerchantImport.id.desc()).limit(20)).all()


@blp.route("/imports/<int:import_id>")
@console_session.roles(*OPS)
def import_status(import_id: int):
    try:
        record = imports.status(imports.get_import(import_id))
    except AppError:
        abort(404)
    template = "console/_import_progress.html" if request.headers.get("HX-Request") else "console/import.html"
    return render_template(template, record=record)


# --- territories


@blp.route("/territories", methods=["GET", "POST"])
@console_session.roles(*DESK)
def territory_list():
    error = None
    if request.method == "POST":
        if g.user.role == Role.OPS:
            abort(403)
        try:
            geometry = json.loads(request.form.get("geometry") or "null")
            team_id = int(request.form.get("team_id") or 0)
            territories.create(
                g.user,
                g.tenant,
                {"name": request.form.get("name", "").strip(), "team_id": team_id, "geometry": geometry},
            )
        except (AppError, ValueError) as failure:
            error = failure
        else:
            flash(translate("Territory saved"), "ok")
            return redirect(url_for("console.territory_list"))
    statement = select(Territory).order_by(Territory.name, Territory.id)
    condition = territories.visible_condition(g.user)
    if condition is not None:
        statement = statement.where(condition)
    shown = [territories.view(t) for t in db.session.scalars(statement)]
    teams = admin.list_units(g.user, 500, None)["items"] if g.user.role != Role.BD else []
    polygons = [{"name": t["name"], "geometry": t["geometry"]} for t in shown]
    bds = admin.list_users(g.user, {"limit": 500, "cursor": None, "role": "bd", "active": True})["items"]
    problem = None
    if isinstance(error, AppError):
        problem = {
            "message": f"{error.error_code}: {error.message}",
            "geometry_error": error.extra.get("geometry_error"),
        }
    elif error is not None:
        problem = {"message": str(error), "geometry_error": None}
    return (
        render_template(
            "console/territories.html",
            territories=shown,
            teams=[t for t in teams if t["kind"] in ("team", "subteam")],
            problem=problem,
            bds=bds,
            map_data=json.dumps({"markers": [], "lines": [], "polygons": polygons}),
        ),
        422 if problem else 200,
    )


# --- dashboards and people


KPI_COLUMNS = (
    "visits",
    "verified_visits",
    "merchants_visited",
    "merchants_added",
    "claims",
    "signings",
    "tasks_done",
    "gmv",
)


def _kpi_args() -> dict[str, Any]:
    """The month, leaderboard metric and grouping through the API's leaderboard schema (bad input: a 400 page)."""
    today = clock.now().astimezone(g.tenant.zone).date()
    raw = {"month": request.args.get("month") or today.isoformat()[:7]}
    for name in ("metric", "group_by"):
        if request.args.get(name):
            raw[name] = request.args[name]
    try:
        return LeaderboardQueryArgsSchema().load(raw)
    except ma.ValidationError:
        abort(400)


def _kpi_table(args: dict[str, Any]) -> dict[str, Any]:
    """The month's figures per BD (or team) with each metric's target and progress, from ``kpis.kpis``."""
    first = args["month"]
    last = min(
        (first + timedelta(days=32)).replace(day=1) - timedelta(days=1), clock.now().astimezone(g.tenant.zone).date()
    )
    report = kpi_service.kpis(g.user, g.tenant, "month", first, max(first, last), args["group_by"])
    targets = {item["subject"]["id"]: item["targets"] for item in report["items"]}
    rows = [{**row, "targets": targets.get(row["subject"]["id"], {})} for row in report["totals"]]
    return {"from": report["from"], "to": report["to"], "rows": rows}


def _heat_cells(bbox: tuple[float, float, float, float] | None) -> dict[str, Any]:
    """The heatmap service's cells over the line's merchants (about 40 cells a side), as rectangles for the map."""
    if bbox is None:
        return {"cells": [], "cell_m": None}
    west, south, east, north = bbox
    side_m = max((east - west) * 111_320 * math.cos(math.radians((south + north) / 2)), (north - south) * 111_320)
    cell_m = max(200, math.ceil(side_m / 40 / 100) * 100)
    grid = dashboard.heatmap(g.user, g.tenant, bbox, cell_m, 30)
    top = max((c["merchants"] for c in grid["cells"]), default=0) or 1
    half_lat, half_lng = grid["cell_deg"]["lat"] / 2, grid["cell_deg"]["lng"] / 2
    cells = [
        {
            "bounds": [[c["lat"] - half_lat, c["lng"] - half_lng], [c["lat"] + half_lat, c["lng"] + half_lng]],
            "level": round(c["merchants"] / top, 3),
            "label": translate(
                "{merchants} merchants ({public} public), {visits} visits",
                merchants=c["merchants"],
                public=c["public"],
                visits=c["visits"],
            ),
        }
        for c in grid["cells"]
    ]
    return {"cells": cells, "cell_m": cell_m}


@blp.route("/dashboard", endpoint="dashboard")
@console_session.roles(*DESK)
def dashboard_page():
    end = _day(request.args.get("to"))
    start = _day(request.args.get("from")) if request.args.get("from") else end - timedelta(days=29)
    args = _kpi_args()
    heat = _heat_cells(console_queries.merchant_extent(g.tenant.id))
    board = kpi_service.leaderboard(g.user, g.tenant, args["month"], args["metric"], args["group_by"])
    return render_template(
        "console/dashboard.html",
        start=start,
        end=end,
        funnel=dashboard.funnel(g.user, g.tenant, start, end),
        today=dashboard.team_day(g.user, g.tenant, end),
        args=args,
        kpi=_kpi_table(args),
        columns=KPI_COLUMNS,
        metrics=RANKED_METRICS,
        board=board,
        board_top=max((row["value"] or 0 for row in board["items"]), default=0) or 1,
        heat_cell_m=heat["cell_m"],
        map_data=json.dumps({"markers": [], "lines": [], "polygons": [], "cells": heat["cells"]}),
    )


@blp.route("/dashboard/kpis.csv")
@console_session.roles(*DESK)
def dashboard_kpis_csv():
    args = _kpi_args()
    table = _kpi_table(args)
    out = io.StringIO()
    writer = csv.writer(out)
    header = ["subject_id", "subject", *KPI_COLUMNS]
    header += [f"{metric}_target" for metric in KPI_COLUMNS] + [f"{metric}_progress" for metric in KPI_COLUMNS]
    writer.writerow(header)
    for row in table["rows"]:
        targets = row["targets"]
        writer.writerow(
            [row["subject"]["id"] or "", spreadsheet_safe(row["subject"]["name"]), *(row[m] for m in KPI_COLUMNS)]
            + [targets[m]["target"] if m in targets else "" for m in KPI_COLUMNS]
            + [
                targets[m]["progress"] if m in targets and targets[m]["progress"] is not None else ""
                for m in KPI_COLUMNS
            ]
        )
    name = f"kpis-{args['group_by']}-{args['month'].isoformat()[:7]}.csv"
    return Response(
        "\ufeff" + out.getvalue(),  # a BOM: Excel then reads the Chinese names as UTF-8
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@blp.route("/users")
@console_session.roles(*DESK)
def users():
    page = admin.list_users(g.user, {"limit": 500, "cursor": None})
    return render_template("console/users.html", page=page)


# --- the team's leads


def _form_errors(error: ma.ValidationError) -> list[str]:
    """A schema's per-field messages as lines the page shows (the API answers them as a 422)."""
    messages = error.messages if isinstance(error.messages, dict) else {"_schema": error.messages}
    return [
        f"{field}: {' '.join(map(str, texts if isinstance(texts, list) else [texts]))}"
        for field, texts in messages.items()
    ]


def _lead_filters() -> tuple[dict[str, Any], list[str]]:
    """The page's filters through the API's own query schema (the same bounds, the same 422 messages)."""
    fields = TeamLeadsQueryArgsSchema().fields
    raw = {key: value for key, value in request.args.items() if key in fields and value != ""}
    try:
        return TeamLeadsQueryArgsSchema().load(raw), []
    except ma.ValidationError as error:
        return TeamLeadsQueryArgsSchema().load({}), _form_errors(error)


def _bulk_body(form: Any) -> dict[str, Any]:
    """The bulk form as the API's body: a lock's day ends at midnight of the business line's clock."""
    body: dict[str, Any] = {"action": form.get("action", ""), "merchant_ids": form.getlist("merchant_ids")}
    for name in ("user_id", "reason"):
        if form.get(name):
            body[name] = form[name]
    if form.get("until"):
        try:
            day = date.fromisoformat(form["until"])
        except ValueError:
            body["until"] = form["until"]  # the schema says what is wrong with it
        else:
            body["until"] = g.tenant.day_bounds(day)[1].isoformat()
    body["force"] = form.get("force") == "on"
    return body


@blp.route("/team-leads", methods=["GET", "POST"])
@console_session.roles(*DESK)
def team_leads():
    filters, errors = _lead_filters()
    outcome = None
    status = 200
    if request.method == "POST":
        try:
            body = TeamLeadsBulkSchema().load(_bulk_body(request.form))
            outcome = lead_team.bulk(g.user, g.tenant, body)
        except ma.ValidationError as error:
            errors, status = _form_errors(error), 422
        except AppError as error:
            errors, status = [f"{error.error_code}: {error.message}"], error.status
    sort, order, limit, cursor = (filters.pop(k, None) for k in ("sort", "order", "limit", "cursor"))
    try:
        page = lead_queries.team_leads(
            g.user, g.tenant, lead_queries.TeamLeadFilters(**filters), sort, order, limit, cursor
        )
    except AppError as error:
        errors.append(f"{error.error_code}: {error.message}")
        page, status = {"items": [], "total": 0, "next_cursor": None}, error.status
    bds = admin.list_users(g.user, {"limit": 500, "cursor": None, "role": "bd", "active": True})["items"]
    names = {row["merchant"]["id"]: row["merchant"]["name"] for row in page["items"]}
    people = {person["id"]: person["display_name"] for person in bds}
    return (
        render_template(
            "console/team_leads.html",
            page=page,
            filters={**filters, "sort": sort, "order": order},
            bds=bds,
            teams=admin.list_units(g.user, 500, None)["items"],
            territories=_visible_territories(),
            people=people,
            names=names,
            outcome=outcome,
            errors=errors,
            next_args={**request.args.to_dict(), "cursor": page["next_cursor"]},
        ),
        status,
    )


# --- tasks

TARGET_FORMS = ("user_ids", "team_id", "territory_id", "merchant_ids")


def _task_body(form: Any) -> dict[str, Any]:
    """The compose form as the API's body: only the chosen targeting; a due day ends at the line's midnight."""
    body: dict[str, Any] = {
        "title": form.get("title", "").strip(),
        "body": form.get("body", ""),
        "kind": form.get("kind", ""),
        "priority": form.get("priority") or 0,
    }
    if form.get("due"):
        try:
            body["due_at"] = g.tenant.day_bounds(date.fromisoformat(form["due"]))[1].isoformat()
        except ValueError:
            body["due_at"] = form["due"]  # the schema says what is wrong with it
    target = form.get("target", "")
    if target == "user_ids":
        body["user_ids"] = form.getlist("user_ids")
    elif target == "merchant_ids":
        body["merchant_ids"] = [part for part in form.get("merchant_ids", "").replace(",", " ").split() if part]
    elif target in ("team_id", "territory_id") and form.get(target):
        body[target] = form[target]
    return body


def _visible_territories() -> list[Territory]:
    statement = select(Territory).order_by(Territory.name, Territory.id)
    condition = territories.visible_condition(g.user)
    if condition is not None:
        statement = statement.where(condition)
    return list(db.session.scalars(statement))


@blp.route("/tasks", methods=["GET", "POST"])
@console_session.roles(*DESK)
def tasks():
    errors: list[str] = []
    preview = None
    status = 200
    if request.method == "POST":
        try:
            fields = TaskCreateSchema().load(_task_body(request.form))
            if request.form.get("intent") == "preview":
                preview = task_service.preview_assignees(g.user, fields)
            else:
                task = task_service.create_task(g.user, fields)
                flash(translate("Task sent: {title}", title=task.title), "ok")
                return redirect(url_for("console.tasks"))
        except ma.ValidationError as error:
            errors, status = _form_errors(error), 422
        except AppError as error:
            errors, status = [f"{error.error_code}: {error.message}", *_app_error_fields(error)], error.status
    created = task_queries.created_tasks(g.user, 50, request.args.get("cursor") or None)
    units = admin.list_units(g.user, 500, None)["items"]
    bds = admin.list_users(g.user, {"limit": 500, "cursor": None, "role": "bd", "active": True})["items"]
    return (
        render_template(
            "console/tasks.html",
            created=created,
            errors=errors,
            preview=preview,
            form=request.form,
            kinds=TASK_KINDS,
            bds=bds,
            teams=units,
            territories=_visible_territories(),
        ),
        status,
    )


def _app_error_fields(error: AppError) -> list[str]:
    """An AppError's per-field messages (``errors.json``), as the API's body carries them."""
    fields = (error.errors or {}).get("json") or {}
    return [f"{field}: {' '.join(map(str, texts))}" for field, texts in fields.items() if field != "_schema"]


# --- settings and admin

POOL_NUMBERS = (
    "claim_cap",
    "term_days",
    "no_visit_days",
    "no_sign_days",
    "max_extensions",
    "extension_days",
    "reclaim_cooldown_days",
)
POOL_CHOICES = {
    "signing": ("manager", "contract", "none"),
    "pool_groups": ("off", "territory", "city"),
    "on_deactivate": ("public", "manager"),
}


@blp.route("/settings", methods=["GET", "POST"])
@console_session.roles(*DESK)
def settings():
    field_errors: dict[str, list[str]] = {}
    status = 200
    if request.method == "POST":
        if g.user.role != Role.ADMIN:
            abort(403)
        # only what the form shows; the API's schema checks it and the settings service stores it
        pool = {name: request.form[name] for name in (*POOL_NUMBERS, *POOL_CHOICES) if request.form.get(name, "") != ""}
        try:
            changes = TenantSettingsUpdateSchema().load({"pool": pool})
            settings_service.update_settings(g.user, g.tenant, changes)
        except ma.ValidationError as error:
            pool_errors = error.messages.get("pool", {}) if isinstance(error.messages, dict) else {}
            field_errors = {name: list(texts) for name, texts in pool_errors.items()}
            status = 422
        except AppError as error:
            flash(f"{error.error_code}: {error.message}", "error")
            status = error.status
        else:
            flash(translate("Pool rules saved"), "ok")
            return redirect(url_for("console.settings"))
    current = settings_service.effective_settings(g.tenant)
    return (
        render_template(
            "console/settings.html",
            current=current,
            form=request.form if request.method == "POST" else current["pool"],
            field_errors=field_errors,
            numbers=POOL_NUMBERS,
            choices=POOL_CHOICES,
            units=admin.list_units(g.user, 500, None)["items"],
            forms=visit_forms.current_forms(g.tenant),
        ),
        status,
    )


@blp.route("/audit-log")
@console_session.roles(Role.ADMIN)
def audit_log():
    fields = AuditQueryArgsSchema().fields
    raw = {key: value for key, value in request.args.items() if key in fields and value != ""}
    errors: list[str] = []
    try:
        args = AuditQueryArgsSchema().load(raw)
    except ma.ValidationError as error:
        args, errors = AuditQueryArgsSchema().load({}), _form_errors(error)
    limit, cursor = args.pop("limit"), args.pop("cursor", None)
    try:
        page = audit_service.list_entries(g.user, audit_service.AuditFilters(**args), limit, cursor)
    except AppError as error:
        errors.append(f"{error.error_code}: {error.message}")
        page = {"items": [], "next_cursor": None}
    return render_template(
        "console/audit_log.html",
        page=page,
        args=args,
        errors=errors,
        next_args={**request.args.to_dict(), "cursor": page["next_cursor"]},
    )


@blp.route("/territories/<int:territory_id>/members", methods=["POST"])
@console_session.roles(*DESK)
def territory_members(territory_id: int):
    try:
        ids = [int(raw) for raw in request.form.getlist("user_ids")]
        territories.set_members(g.user, territory_id, ids)
    except ValueError:
        abort(400)
    except AppError as error:
        flash(f"{error.error_code}: {error.message}", "error")
    else:
        flash(translate("BDs assigned"), "ok")
    return redirect(url_for("console.territory_list"))
