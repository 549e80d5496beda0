"""Exports: CSV and XLSX of team leads, KPIs, campaign results and merchant lists, at once or as a job."""

from __future__ import annotations

from flask import current_app
from flask.views import MethodView

from app.api import VALIDATION_ERRORS, Blueprint, document_errors
from app.auth.security import authenticated, current_tenant, current_user
from app.errors import (
    CampaignNotFound,
    ExportNotFound,
    ExportTooLarge,
    ExportUrlInvalid,
    InvalidPeriod,
    TeamNotFound,
    UnknownTerritory,
    ValidationFailed,
)
from app.exports import service, urls
from app.exports.models import Export
from app.exports.schemas import (
    ExportCreateSchema,
    ExportFileQueryArgsSchema,
    ExportQueryArgsSchema,
    ExportSchema,
)
from app.json import json_response

blp = Blueprint("exports", __name__, url_prefix="/api/v1", description="CSV and XLSX exports")

BINARY = {"type": "string", "format": "binary"}
FILE_RESPONSE = {
    "200": {
        "description": "The file (CSV with a UTF-8 byte-order mark, or XLSX), as an attachment",
        "content": {mime: {"schema": BINARY} for mime in service.FORMATS.values()},
    }
}
ROW_ERRORS = (
    *VALIDATION_ERRORS,
    (CampaignNotFound, "`campaign_id` is no campaign you can see"),
    (UnknownTerritory, "`territory_id` is no territory you can see"),
    InvalidPeriod,
    TeamNotFound,
)
EXPORT_EXAMPLE = {
    "id": 17,
    "kind": "merchants",
    "format": "xlsx",
    "status": "done",
    "rows_total": 48210,
    "rows_done": 48210,
    "progress": 1.0,
    "download_url": "/api/v1/exports/17/file?expires=1764806400&signature=Jr0c...",
    "expires_at": 1764806400,
    "error": None,
    "created_at": "2026-12-03T09:00:00+00:00",
    "finished_at": "2026-12-03T09:00:41+00:00",
}


def _file(content: bytes, kind: str, fmt: str):
    response = current_app.response_class(content, mimetype=service.FORMATS[fmt])
    response.headers["Content-Disposition"] = f'attachment; filename="{service.filename(kind, fmt)}"'
    response.headers["Cache-Control"] = "private, no-store"
    return response


def _view(export: Export) -> dict:
    url, expires = urls.signed_url(export.id) if export.status == "done" else (None, None)
    return {
        "id": export.id,
        "kind": export.kind,
        "format": export.format,
        "status": export.status,
        "rows_total": export.rows_total,
        "rows_done": export.rows_done,
        "progress": round(export.rows_done / export.rows_total, 4) if export.rows_total else None,
        "download_url": url,
        "expires_at": expires,
        "error": export.error,
        "created_at": export.created_at,
        "finished_at": export.finished_at,
    }


@blp.route("/exports/<any(merchants, team_leads, kpis, campaign_results, visits):kind>")
class ExportNow(MethodView):
    @authenticated(blp, errors=(*ROW_ERRORS, ExportTooLarge))
    @blp.arguments(ExportQueryArgsSchema, location="query")
    @blp.doc(responses=FILE_RESPONSE)
    @blp.response(200, description="The file", schema=BINARY, content_type="text/csv")
    def get(self, args, kind):
        """A small export at once: merchants, team_leads, kpis, campaign_results or visits (phones masked)."""
        fmt = args.pop("format")
        params = {("from" if k == "from_" else k): v for k, v in args.items()}
        return _file(service.inline(current_user(), current_tenant(), kind, fmt, params), kind, fmt)


@blp.route("/exports")
class Exports(MethodView):
    @authenticated(blp, errors=ROW_ERRORS)
    @blp.arguments(
        ExportCreateSchema,
        example={"kind": "merchants", "format": "xlsx", "params": {"tags": ["price_disadvantage"], "city": "杭州市"}},
    )
    @blp.response(
        202,
        ExportSchema,
        example={
            **EXPORT_EXAMPLE,
            "status": "queued",
            "rows_total": None,
            "rows_done": 0,
            "progress": None,
            "download_url": None,
            "expires_at": None,
            "finished_at": None,
        },
    )
    def post(self, body):
        """Run a large export as a job; poll `GET /exports/{id}` for progress and the download URL."""
        params = {("from" if k == "from_" else k): v for k, v in body["params"].items()}
        export = service.start(current_user(), current_tenant(), body["kind"], body["format"], params)
        return json_response(_view(export), 202)


@blp.route("/exports/<id:export_id>")
class ExportStatus(MethodView):
    @authenticated(blp, errors=(ExportNotFound,))
    @blp.response(200, ExportSchema, example=EXPORT_EXAMPLE)
    def get(self, export_id):
        """Your export job: status, progress and, when done, a signed download URL."""
        return json_response(_view(service.get(current_user(), export_id)))


@blp.route("/exports/<id:export_id>/file")
class ExportFile(MethodView):
    @document_errors(
        blp, ((ValidationFailed, "`expires` or `signature` is missing or malformed"), ExportUrlInvalid, ExportNotFound)
    )
    @blp.arguments(ExportFileQueryArgsSchema, location="query")
    @blp.doc(responses=FILE_RESPONSE)
    @blp.response(200, description="The file", schema=BINARY, content_type="text/csv")
    def get(self, args, export_id):
        """A finished export's file, through the signed URL its status carries (no bearer token)."""
        urls.check(export_id, args["expires"], args["signature"])
        export = service.find_done(export_id)
        return _file(export.content, export.kind, export.format)
