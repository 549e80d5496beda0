"""Exports (CSV, XLSX) of the tables managers and HQ work with: team leads, KPIs, campaign results and the
merchant list of a filter.

Every kind reads through the same scoped functions as its API endpoint (``app.leads.queries.team_leads``,
``app.dashboard.kpis.kpis``, ``app.campaigns.service.results``), so an export shows exactly what the caller may
see; merchants' phones are masked with ``app.merchants.privacy`` under the detail page's rule (full numbers for
the lead's owner, their managers, ops and admins). Small exports are answered at once; above
``EXPORT_INLINE_ROWS`` they run as a job (``POST /exports``) with progress and a signed download URL.

XLSX is written by openpyxl in write-only mode (rows streamed into the zip, not a sheet held in memory).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

from flask import current_app
from openpyxl import Workbook
from sqlalchemy import select, text

from app import clock, db
from app.campaigns import queries as campaign_queries
from app.campaigns import service as campaigns
from app.campaigns.models import Campaign
from app.dashboard import kpis
from app.errors import ExportNotFound, ExportTooLarge, Forbidden, ValidationFailed
from app.exports.models import Export
from app.leads import queries as lead_queries
from app.merchants.models import Merchant
from app.merchants.privacy import can_see_phones, mask_phone
from app.org.models import OrgUnit, Role, User
from app.org.scope import visible_user_ids
from app.outbox.service import enqueue_after_commit
from app.tenants.models import Tenant
from app.visits.models import Visit

KINDS = ("merchants", "team_leads", "kpis", "campaign_results", "visits")
VISIT_DAYS = 30  # the default range of a visits export, ending today
FORMATS = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
MERCHANT_FILTERS = ("tags", "min_price_gap", "category", "city", "territory_id", "pool_state", "unvisited_days")
PROGRESS_EVERY = 1000
JOB = "app.exports.jobs.enqueue_export"


# --- the rows of each kind ----------------------------------------------------------------------------


def _merchant_rows(viewer: User, tenant: Tenant, params: dict[str, Any], limit: int | None) -> list[dict[str, Any]]:
    if params.get("campaign_id"):
        spec = campaigns.get(viewer, params["campaign_id"]).filter
    else:
        spec = {key: params[key] for key in MERCHANT_FILTERS if params.get(key) is not None}
    # an unsaved campaign carries the filter: the list is exactly what a campaign with it would match
    probe = Campaign(tenant_id=tenant.id, filter=spec)
    where, values = campaign_queries.match_where(probe, viewer, subtree_only=False)
    rows = db.session.execute(
        text(
            f"""
            SELECT m.id, m.name, m.category, m.city, m.address, m.phone, m.tags, m.price_gap,
                   coalesce(CAST(l.state AS text), 'public') AS pool_state,
                   CASE WHEN l.state <> 'public' THEN l.owner_id END AS owner_id,
                   u.display_name AS owner_name, u.manager_id AS owner_manager_id, ou.path AS owner_path,
                   m.last_visit_at
            FROM merchants m
            LEFT JOIN leads l ON l.merchant_id = m.id
            LEFT JOIN users u ON u.id = l.owner_id AND l.state <> 'public'
            LEFT JOIN org_units ou ON ou.id = u.org_unit_id
            WHERE {where}
            ORDER BY m.id
            {"LIMIT :limit" if limit is not None else ""}
            """
        ),
        {**values, "limit": limit},
    ).mappings()
    caller_path = db.session.scalar(select(OrgUnit.path).where(OrgUnit.id == viewer.org_unit_id))
    out = []
    for row in rows:
        lead = SimpleNamespace(
            owner_id=row["owner_id"], owner_path=row["owner_path"], owner_manager_id=row["owner_manager_id"]
        )
        phone = row["phone"]
        if phone and not can_see_phones(viewer, caller_path, lead):
            phone = mask_phone(phone)
        out.append(
            {
                **{k: row[k] for k in ("id", "name", "category", "city", "address")},
                "phone": phone,
                "tags": row["tags"],
                "price_gap": row["price_gap"],
                "pool_state": row["pool_state"],
                "owner_id": row["owner_id"],
                "owner_name": row["owner_name"],
                "last_visit_at": row["last_visit_at"],
            }
        )
    return out


def _team_lead_rows(viewer: User, tenant: Tenant, params: dict[str, Any]) -> list[dict[str, Any]]:
    filters = lead_queries.TeamLeadFilters(
        **{k: params[k] for k in ("owner_id", "team_id", "drops_within_days", "tag", "territory_id") if params.get(k)}
    )
    rows, cursor = [], None
    while True:
        page = lead_queries.team_leads(viewer, tenant, filters, limit=100, cursor=cursor)
        rows.extend(page["items"])
        cursor = page.get("next_cursor")
        if not cursor:
            return rows


def _kpi_rows(viewer: User, tenant: Tenant, params: dict[str, Any]) -> list[dict[str, Any]]:
    report = kpis.kpis(
        viewer,
        tenant,
        params.get("period") or "month",
        _day(params.get("from")),
        _day(params.get("to")),
        params.get("group_by") if params.get("group_by") in ("bd", "team") else "bd",
        params.get("team_id"),
    )
    return report["items"]


def _campaign_rows(viewer: User, params: dict[str, Any]) -> list[dict[str, Any]]:
    if not params.get("campaign_id"):
        raise ValidationFailed(errors={"query": {"campaign_id": ["Required for campaign_results."]}})
    group_by = params.get("group_by") if params.get("group_by") in campaign_queries.GROUPS else "city"
    return campaigns.results(viewer, params["campaign_id"], group_by)["items"]


def _visit_rows(viewer: User, tenant: Tenant, params: dict[str, Any], limit: int | None) -> list[dict[str, Any]]:
    """The visits of the people the caller may list (``visible_user_ids``, as ``GET /team/visits``), with each
    visit form's answers as ``form.<form key>.<question key>`` columns."""
    end_day = _day(params.get("to")) or clock.now().astimezone(tenant.zone).date()
    start_day = _day(params.get("from")) or end_day - timedelta(days=VISIT_DAYS - 1)
    since, until = tenant.day_bounds(start_day)[0], tenant.day_bounds(end_day)[1]
    statement = (
        select(Visit, Merchant.name, User.display_name)
        .join(Merchant, Merchant.id == Visit.merchant_id)
        .join(User, User.id == Visit.user_id)
        .where(Visit.user_id.in_(visible_user_ids(viewer)), Visit.client_time >= since, Visit.client_time < until)
        .order_by(Visit.client_time, Visit.id)
    )
    if params.get("team_id"):
        statement = statement.where(User.org_unit_id == params["team_id"])
    if limit is not None:
        statement = statement.limit(limit)
    rows = []
    for visit, merchant_name, user_name in db.session.execute(statement):
        answers = {
            f"form.{form.get('form')}.{question}": answer
            for form in visit.form_answers or []
            for question, answer in (form.get("answers") or {}).items()
        }
        rows.append(
            {
                "id": visit.id,
                "checked_in_at": visit.client_time,
                "bd_id": visit.user_id,
                "bd_name": user_name,
                "merchant_id": visit.merchant_id,
                "merchant_name": merchant_name,
                "verified": visit.verified,
                "flags": visit.flags,
                "purpose": visit.purpose,
                "result": visit.result,
                "notes": visit.notes,
                "duration_s": visit.duration_s,
                **answers,
            }
        )
    return rows


def _day(value: Any) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(value)


def rows_of(viewer: User, tenant: Tenant, kind: str, params: dict[str, Any], limit: int | None = None) -> list[dict]:
    """The export's rows as the caller may see them (``limit``: at most that many, to decide inline or job)."""
    if kind == "merchants":
        return _merchant_rows(viewer, tenant, params, limit)
    if kind == "visits":
        return _visit_rows(viewer, tenant, params, limit)
    if viewer.role not in (Role.MANAGER, Role.OPS, Role.ADMIN):
        raise Forbidden("Only managers, ops and admins export team data.")
    if kind == "team_leads":
        return _team_lead_rows(viewer, tenant, params)
    if kind == "kpis":
        return _kpi_rows(viewer, tenant, params)
    return _campaign_rows(viewer, params)


# --- files ----------------------------------------------------------------------------------------------


def _flatten(row: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in row.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def _cell(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return ";".join(str(v) for v in value)
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value


def table(rows: list[dict[str, Any]]) -> tuple[list[str], Iterator[list[Any]]]:
    flat = [_flatten(row) for row in rows]
    columns = list(dict.fromkeys(key for row in flat for key in row))
    return columns, ([_cell(row.get(column)) for column in columns] for row in flat)


def render(rows: list[dict[str, Any]], fmt: str, progress: Any = None) -> bytes:
    columns, body = table(rows)
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(columns)
        for number, line in enumerate(body, 1):
            writer.writerow(line)
            if progress and number % PROGRESS_EVERY == 0:
                progress(number)
        # a byte-order mark, so that spreadsheet tools read the Chinese names as UTF-8
        return ("\ufeff" + out.getvalue()).encode()
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("export")
    sheet.append(columns)
    for number, line in enumerate(body, 1):
        sheet.append(line)
        if progress and number % PROGRESS_EVERY == 0:
            progress(number)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def filename(kind: str, fmt: str) -> str:
    return f"{kind}-{clock.now():%Y%m%d-%H%M}.{fmt}"


def inline(viewer: User, tenant: Tenant, kind: str, fmt: str, params: dict[str, Any]) -> bytes:
    """The file of a small export; a larger one is ``413 EXPORT_TOO_LARGE`` (run it with ``POST /exports``)."""
    cap = current_app.config["EXPORT_INLINE_ROWS"]
    rows = rows_of(viewer, tenant, kind, params, limit=cap + 1)
    if len(rows) > cap:
        raise ExportTooLarge(extra={"max_rows": cap})
    return render(rows, fmt)


# --- jobs -----------------------------------------------------------------------------------------------


def start(viewer: User, tenant: Tenant, kind: str, fmt: str, params: dict[str, Any]) -> Export:
    # the scope is checked now (a campaign you cannot see is a 404 here, not a failed job later)
    rows_of(viewer, tenant, kind, params, limit=1)
    export = Export(tenant_id=tenant.id, user_id=viewer.id, kind=kind, format=fmt, params=_jsonable(params))
    db.session.add(export)
    db.session.flush()
    enqueue_after_commit(JOB, queue="default", export_id=export.id)
    return export


def _jsonable(params: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, date) else v) for k, v in params.items() if v is not None}


def get(viewer: User, export_id: int) -> Export:
    export = db.session.scalar(select(Export).where(Export.id == export_id, Export.user_id == viewer.id))
    if export is None:
        raise ExportNotFound()
    return export


def build(export_id: int) -> str:
    """Run an export job: rows read as its requester, progress committed as it goes, the file kept in the row."""
    session = db.session()
    with db.atomic():
        export = session.get(Export, export_id, with_for_update={"skip_locked": True})
        if export is None or export.status in ("done", "failed"):
            return "skipped"
        db.scope_to_tenant(export.tenant_id)
        export.status = "running"
    try:
        viewer = session.get(User, export.user_id)
        tenant = session.get(Tenant, export.tenant_id)
        rows = rows_of(viewer, tenant, export.kind, export.params)
        export.rows_total = len(rows)
        db.commit_chunk()

        def progress(done: int) -> None:
            export.rows_done = done
            db.commit_chunk()

        export.content = render(rows, export.format, progress)
        export.rows_done, export.status, export.finished_at = len(rows), "done", clock.now()
        db.commit_chunk()
        return "done"
    except Exception as exc:
        session.rollback()
        export.status, export.error, export.finished_at = "failed", str(exc)[:2000], clock.now()
        db.commit_chunk()
        raise
    finally:
        db.scope_to_tenant(None)


def find_done(export_id: int) -> Export:
    """A finished export by id alone: the caller holds a signed URL, which only its requester was given."""
    export = db.session.scalar(select(Export).where(Export.id == export_id, Export.status == "done"))
    if export is None:
        raise ExportNotFound()
    return export
